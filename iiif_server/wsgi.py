"""Running the app under gunicorn, configured from Settings (no gunicorn config file needed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import multiprocessing
import os
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pyvips
from flask import Flask
from gunicorn.app.base import BaseApplication

from iiif_server.http_worker import GranianWorker, WorkerLoads
from iiif_server.lane import LaneCounts
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import HeavyPool, build_pipeline
from iiif_server.render_pool import APP_PATH as HEAVY_RENDER_APP, PoolAddress, PooledRenderer
from iiif_server.request import ApiVersion, parse_image_path
from iiif_server.settings import Settings
from iiif_server.sources.filesystem import FileSystemSource
from iiif_server.web.security import with_bound_host


class _GunicornServer(BaseApplication):
    def __init__(self, settings: Settings, host: str, port: int, app_factory: Callable[..., Flask]) -> None:
        self.settings = settings
        self.app_factory = app_factory
        self.bind = f"{host}:{port}"
        GranianWorker.loads = WorkerLoads(settings.workers)
        # Made before the workers fork: the heavy-request lane is the whole server's (a row per worker,
        # and as many for the replacements of workers that exited).
        self.heavy_pool_address = PoolAddress()
        self.heavy_pool = HeavyPool(LaneCounts(2 * settings.workers), PooledRenderer(self.heavy_pool_address))
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", self.settings.workers)
        # HTTP handled by granian's Rust core (http_worker.py). pyvips releases the GIL while it
        # decodes and encodes, so the app's threads overlap real work.
        self.cfg.set("worker_class", GranianWorker)
        # Requests in the heavy-request lane (rendering or waiting) get threads of their own.
        self.cfg.set("threads", self.settings.threads + self.settings.heavy_slots + self.settings.heavy_queue)
        self.cfg.set("loglevel", self.settings.log_level)
        self.cfg.set("accesslog", None)
        self.cfg.set("timeout", 120)
        self.cfg.set("post_worker_init", _warm_up_worker)
        self.cfg.set("child_exit", self._forget_worker)
        # Heavy requests render in heavy_slots low-priority processes the arbiter supervises (render_pool.py).
        self.cfg.set("dirty_apps", [HEAVY_RENDER_APP])
        self.cfg.set("dirty_workers", self.settings.heavy_slots)
        # The worker gives up at the request's deadline and the render stops there; this only
        # catches a render process stuck in a system call.
        self.cfg.set("dirty_timeout", self.settings.heavy_deadline_ms // 1000 + 10)
        settings, address = self.settings, self.heavy_pool_address
        self.cfg.set("on_dirty_starting", lambda pool_arbiter: address.set(pool_arbiter.socket_path))
        self.cfg.set("dirty_worker_init", lambda dirty_worker: dirty_worker.apps[HEAVY_RENDER_APP].start(settings))
        # gunicorn finds the render processes a crashed server left behind by a file named after
        # proc_name, and stops them: one name per server, or servers on one machine stop each other's.
        self.cfg.set("proc_name", f"iiif-server-{self.bind}")

    def _forget_worker(self, _arbiter: object, worker: Any) -> None:
        """The arbiter saw a worker exit: its requests no longer count, in the balance or in the lane."""
        GranianWorker.loads.forget(worker.pid)
        self.heavy_pool.counts.forget(worker.pid)

    def load(self):  # noqa: ANN201 - gunicorn's hook
        return self.app_factory(self.settings, heavy_pool=self.heavy_pool)


def _warm_up_worker(worker) -> None:  # noqa: ANN001 - gunicorn's Worker
    """Pay start-up costs before the first client does, then keep the collector off long-lived objects.

    Measured by the benchmark: a fresh worker's first image request cost 21-22 ms of CPU (libvips
    initialisation, Flask's first dispatch), 13-15 ms after a bare libvips call and one /health
    request, and about 2 ms less again once requests for tiny generated masters have run the real
    data path (probe, plan, TIFF and JPEG 2000 loaders, render, encode). Freezing what start-up
    allocated removes full-collection pauses of about 30 ms every few thousand requests. The one
    /health request shows up in /metrics; the warm-up images do not, they skip Flask.
    """
    warm_up_data_path(worker.app.settings)
    worker.wsgi.test_client().get("/health")
    gc.collect()
    gc.freeze()


def warm_up_data_path(settings: Settings) -> None:
    with tempfile.TemporaryDirectory(prefix="iiif-warm-up-") as folder:
        page = (pyvips.Image.black(600, 400, bands=3) + [214, 200, 170]).cast("uchar")
        page.tiffsave(f"{folder}/page.tif", tile=True, pyramid=True, compression="jpeg", tile_width=256,
                      tile_height=256)
        page.jp2ksave(f"{folder}/page-jp2.jp2", tile_width=256, tile_height=256)
        quiet = settings.replace(image_root=Path(folder), derivative_cache_bytes=0, derivative_cache_dir=None)
        pipeline = build_pipeline(quiet, FileSystemSource(quiet.image_root), UncountedMetrics())
        # A level rendered, a stored tile, an edge tile cropped from its stored blocks, a stored tile
        # scaled by a pixel (Pillow), a JPEG 2000 level.
        for path in ("page/full/300,/0/default.jpg", "page/0,0,256,256/256,/0/default.jpg",
                     "page/512,256,88,144/88,/0/default.jpg", "page/0,0,256,256/255,/0/default.jpg",
                     "page-jp2/full/300,/0/default.jpg"):
            pipeline.answer(parse_image_path(path, ApiVersion.V2), None, lambda _prepared: False)


# glibc's mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8


def limit_heap_growth() -> None:
    """Keep workers' resident memory flat under a long mix of small and large responses.

    With glibc's defaults each thread that allocates gets an arena of its own, and the threshold
    above which a buffer is mmapped (and returned to the system when freed) rises to the largest
    buffer freed so far, so that region and PNG buffers of a few MB end up in the arenas, which keep
    them. In the 60 s soak on 2 cores (bench/soak.py), a worker went from 181 to 195 MiB (+7.5 %)
    after its warm-up with the defaults, from 125 to 127 MiB (+1.4 %) with 2 arenas and a fixed
    256 KiB threshold (a 256 px tile's 196 KB buffers stay in the arenas). Set in the arbiter,
    before the workers are forked.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallopt(_M_ARENA_MAX, 2)
    libc.mallopt(_M_MMAP_THRESHOLD, 256 * 1024)


def run_gunicorn(settings: Settings, host: str, port: int, app_factory: Callable[..., Flask]) -> None:
    """Serve ``app_factory(settings)`` (the Image API alone, or the platform built on it)."""
    settings = settings.replace(trusted_hosts=with_bound_host(settings.trusted_hosts, host))
    limit_heap_growth()
    _GunicornServer(settings, host, port, app_factory).run()
