"""In-process LRU of ImageInfo, one per worker: probing costs a header read, the cache costs a dict lookup."""

from __future__ import annotations

import threading
from collections import OrderedDict

from iiif_server.info import ImageInfo
from iiif_server.sources.base import Fingerprint


class MemoryInfoCache:
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, ImageInfo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identifier: str, fingerprint: Fingerprint) -> ImageInfo | None:
        with self._lock:
            info = self._entries.get(identifier)
            if info is None:
                return None
            if info.fingerprint != fingerprint:
                del self._entries[identifier]
                return None
            self._entries.move_to_end(identifier)
            return info

    def put(self, identifier: str, info: ImageInfo) -> None:
        with self._lock:
            self._entries[identifier] = info
            self._entries.move_to_end(identifier)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
