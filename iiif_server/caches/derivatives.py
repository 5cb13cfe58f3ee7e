"""Derivative caches: encoded responses in memory (per worker), on disk (shared by workers), or both.

Keys are opaque strings that change with the master's fingerprint, so an entry is never stale:
entries only ever leave a cache to respect its byte budget, least recently used first.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from iiif_server.caches.base import DerivativeCache
from iiif_server.caches.lru import SizedLRU

log = logging.getLogger("iiif_server")

# The disk cache evicts down to this share of its budget, so one eviction scan pays for many writes.
DISK_LOW_WATER = 0.9
DISK_ENTRY_SUFFIX = ".bin"


class MemoryDerivativeCache(SizedLRU[bytes]):
    """LRU within ``max_bytes`` of entry data, per worker."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, len)


class DiskDerivativeCache:
    """Entries as files under ``folder`` (``ab/abcdef....bin``, named by the key's SHA-256), within
    about ``max_bytes``.

    Safe for several processes sharing the folder: each entry is written to a temporary file and
    renamed into place, so a reader sees a whole entry or none; a hit refreshes the file's mtime,
    which is the recency the eviction sorts by; one process at a time evicts (an flock on
    ``.evict.lock``). Each process counts its own writes since its last scan, so the folder can
    exceed the budget by what the other workers wrote since then, until the next scan.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._estimated_bytes: int | None = None  # unknown until the first write scans the folder
        self._lock = threading.Lock()

    def path_for(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}{DISK_ENTRY_SUFFIX}"

    def get(self, key: str) -> bytes | None:
        path = self.path_for(key)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            os.utime(path)
        except FileNotFoundError:  # never written, or evicted between open and utime
            return None
        except OSError as error:  # an unreadable cache folder is a miss, never a failed request
            log.warning("derivative cache in %s cannot be read: %s", self.folder, error)
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        path = self.path_for(key)
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".partial")
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except OSError as error:
            # A full, read-only or misconfigured cache folder costs the cache an entry, never a request.
            if temporary is not None:
                _remove_quietly(Path(temporary))
            log.warning("derivative cache in %s cannot store an entry: %s", self.folder, error)
            return
        with self._lock:
            if self._estimated_bytes is None:
                self._estimated_bytes = self._scan_total()
            else:
                self._estimated_bytes += len(data)
            over_budget = self._estimated_bytes > self.max_bytes
        if over_budget:
            self.evict()

    def evict(self) -> None:
        """Delete least recently used entries until the folder holds at most the low-water share of
        the budget. Skips when another process is evicting already."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".evict.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                entries = sorted(self._entries(), key=lambda entry: entry[1])  # oldest first
                total = sum(size for _, _, size in entries)
                target = self.max_bytes * DISK_LOW_WATER
                for path, _, size in entries:
                    if total <= target:
                        break
                    _remove_quietly(path)
                    total -= size
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        with self._lock:
            self._estimated_bytes = total

    def _scan_total(self) -> int:
        return sum(size for _, _, size in self._entries())

    def _entries(self) -> list[tuple[Path, int, int]]:
        """(path, mtime_ns, size) of every entry; files that vanish while scanning are skipped."""
        found = []
        if not self.folder.is_dir():
            return found
        for shard in os.scandir(self.folder):
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard.path):
                if not entry.name.endswith(DISK_ENTRY_SUFFIX):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                found.append((Path(entry.path), stat.st_mtime_ns, stat.st_size))
        return found


class TieredDerivativeCache:
    """A fast cache in front of a larger one (memory before disk): hits in the second are copied
    into the first, writes go to both. Thread-safe when both tiers are."""

    def __init__(self, first: DerivativeCache, second: DerivativeCache) -> None:
        self.first = first
        self.second = second

    def get(self, key: str) -> bytes | None:
        data = self.first.get(key)
        if data is None:
            data = self.second.get(key)
            if data is not None:
                self.first.put(key, data)
        return data

    def put(self, key: str, data: bytes) -> None:
        self.first.put(key, data)
        self.second.put(key, data)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
