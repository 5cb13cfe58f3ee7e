"""Prometheus metrics of the image server: what operators graph next to iipsrv's numbers.

Under gunicorn every worker is a process of its own, so ``iiif-archive serve`` runs the server inside
``multiprocess_directory()``: prometheus_client then keeps each worker's values in files there and
``/metrics`` adds them up. Without that directory (the Flask test client, one process) the values
live in the app's own registry. Each app gets its own registry, so building several apps in one
process (tests) never collides.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXTENSION_KEY = "iiif_metrics"
# Tiles are answered in milliseconds, large regions in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TIMED_ENDPOINTS = ("info", "tile", "region")
# A tile as viewers ask for one: a pixel region scaled to at most this many pixels a side.
LARGEST_TILE_EDGE = 1024
IMAGE_API_PREFIXES = ("/iiif/2/", "/iiif/3/")


def classify_endpoint(path: str) -> str:
    """``info``, ``tile`` (a pixel region scaled to at most LARGEST_TILE_EDGE a side, as deep-zoom
    viewers request), ``region`` (every other image request) or ``other``.

    Works on the decoded path, where an identifier's ``%2F`` has become ``/``: the request's parts
    are read from the end. Runs on every request, so it uses string operations, not regexes.
    """
    if not path.startswith(IMAGE_API_PREFIXES):
        return "other"
    if path.endswith("/info.json"):
        return "info"
    parts = path.rsplit("/", 4)
    if len(parts) < 5 or len(parts[0]) <= len("/iiif/2/") or "." not in parts[4]:
        return "other"
    region, size = parts[1], parts[2]
    region_numbers = region.split(",")
    size_numbers = size.split(",")
    if (
        len(region_numbers) == 4
        and all(number.isdigit() for number in region_numbers)
        and len(size_numbers) == 2
        and size_numbers[0].isdigit()
        and all(not number or (number.isdigit() and int(number) <= LARGEST_TILE_EDGE) for number in size_numbers)
    ):
        return "tile"
    return "region"


class ServerMetrics:
    """The metric objects of one app. Thread-safe (prometheus_client's metrics are)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "iiif_requests", "HTTP requests answered, by endpoint and status.",
            ("endpoint", "status"), registry=self.registry,
        )
        self.latency = Histogram(
            "iiif_request_duration_seconds", "Time from request to response, by endpoint.",
            ("endpoint",), buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.response_bytes = Counter(
            "iiif_response_bytes", "Response body bytes served, by endpoint.",
            ("endpoint",), registry=self.registry,
        )
        self.cache_lookups = Counter(
            "iiif_derivative_cache_lookups", "Derivative cache lookups, by result (hit or miss).",
            ("result",), registry=self.registry,
        )
        self.passthrough_tiles = Counter(
            "iiif_passthrough_tiles", "Tiles answered with the master's stored JPEG bytes, undecoded.",
            registry=self.registry,
        )
        self.stored_tile_cuts = Counter(
            "iiif_stored_tile_cuts", "Tiles cut out of one decoded stored JPEG tile (edge tiles), without libvips.",
            registry=self.registry,
        )
        self.replayed_responses = Counter(
            "iiif_replayed_responses", "Responses answered from the response cache, without running the app.",
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], tuple] = {}

    def observe_response(self, endpoint: str, status: int, seconds: float, body_bytes: int) -> None:
        # labels() costs more than the increments (most under multiprocess mode), and there are only
        # a few (endpoint, status) pairs: keep their children.
        children = self._children.get((endpoint, status))
        if children is None:
            children = (
                self.requests.labels(endpoint, str(status)),
                self.response_bytes.labels(endpoint),
                self.latency.labels(endpoint) if endpoint in TIMED_ENDPOINTS else None,
            )
            self._children[(endpoint, status)] = children
        requests, response_bytes, latency = children
        requests.inc()
        response_bytes.inc(body_bytes)
        if latency is not None:
            latency.observe(seconds)

    def count_cache_lookup(self, hit: bool) -> None:
        self.cache_lookups.labels("hit" if hit else "miss").inc()

    def count_passthrough(self) -> None:
        self.passthrough_tiles.inc()

    def count_stored_tile_cut(self) -> None:
        self.stored_tile_cuts.inc()

    def observe_replay(self, endpoint: str, seconds: float, body_bytes: int) -> None:
        self.observe_response(endpoint, 200, seconds, body_bytes)
        self.replayed_responses.inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its media type: all workers' values when running multiprocess."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class DataPathMetrics(Protocol):
    """What the data path counts, handed to the pipeline (it never looks for an app). Called from
    many request threads at once: implementations are thread-safe."""

    def count_cache_lookup(self, hit: bool) -> None:
        """A derivative cache lookup, and whether it found the response."""

    def count_passthrough(self) -> None:
        """A tile answered with the master's stored bytes."""

    def count_stored_tile_cut(self) -> None:
        """A tile cut out of one decoded stored tile."""


class UncountedMetrics:
    """For a pipeline nobody collects metrics from (the workers' warm-up, scripts)."""

    def count_cache_lookup(self, hit: bool) -> None:
        pass

    def count_passthrough(self) -> None:
        pass

    def count_stored_tile_cut(self) -> None:
        pass


@contextmanager
def multiprocess_directory() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for one server run, removed afterwards.

    Must be entered before prometheus_client is first imported: it picks its file-backed values
    at import time. A fresh folder per start keeps counters of an earlier run out of this one.
    """
    folder = tempfile.mkdtemp(prefix="iiif-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = folder
    owner = os.getpid()
    try:
        yield folder
    finally:
        # gunicorn's forked workers leave through this block too (SystemExit): only the process
        # that made the folder may remove it, or one exiting worker would wipe the others' values.
        if os.getpid() == owner:
            if previous is None:
                os.environ.pop(MULTIPROC_ENV, None)
            else:
                os.environ[MULTIPROC_ENV] = previous
            shutil.rmtree(folder, ignore_errors=True)
