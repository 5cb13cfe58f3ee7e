"""Masters held in memory: the real in-memory source that tests (and embedders) use."""

from __future__ import annotations

import io
import threading
import time
from typing import BinaryIO

import pyvips

from iiif_server.identifiers import check_identifier
from iiif_server.errors import NotFound, StoreUnavailable
from iiif_server.sources.base import Fingerprint, Master


class MemorySource:
    reads_may_hang = False

    def __init__(self) -> None:
        self._masters: dict[str, tuple[bytes, str, int]] = {}
        self._lock = threading.Lock()

    def put(self, identifier: str, data: bytes, suffix: str) -> None:
        """Add or replace a master; replacing changes its fingerprint like a file rewrite would."""
        check_identifier(identifier)
        with self._lock:
            self._masters[identifier] = (bytes(data), suffix.lower(), time.time_ns())

    def locate(self, identifier: str) -> Master:
        check_identifier(identifier)
        with self._lock:
            entry = self._masters.get(identifier)
        if entry is None:
            raise NotFound(f"no image with identifier {identifier!r}")
        data, suffix, written_ns = entry
        return Master(identifier, f"memory:{identifier}", suffix, Fingerprint(len(data), written_ns))

    def _data(self, master: Master) -> bytes:
        with self._lock:
            entry = self._masters.get(master.identifier)
        if entry is None:
            raise NotFound(f"no image with identifier {master.identifier!r}")
        return entry[0]

    def open_bytes(self, master: Master) -> BinaryIO:
        return io.BytesIO(self._data(master))

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        return pyvips.Image.new_from_buffer(self._data(master), "", **load_options)

    def read_ahead(self, master: Master, ranges: list[tuple[int, int]]) -> None:
        """Local reads cost no round trip: nothing to read ahead."""

    def local_path(self, master: Master) -> str | None:
        return None

    def store_failure_since(self, moment: float) -> StoreUnavailable | None:
        """Local reads have no store to fail."""
        return None
