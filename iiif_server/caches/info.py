"""In-process LRU of ImageInfo, one per worker: probing costs a header read, the cache costs a dict lookup."""

from __future__ import annotations

from iiif_server.caches.lru import SizedLRU
from iiif_server.info import ImageInfo
from iiif_server.sources.base import Fingerprint


class MemoryInfoCache:
    def __init__(self, max_entries: int) -> None:
        self._entries: SizedLRU[ImageInfo] = SizedLRU(max_entries)

    def get(self, identifier: str, fingerprint: Fingerprint) -> ImageInfo | None:
        info = self._entries.get(identifier)
        if info is None:
            return None
        if info.fingerprint != fingerprint:
            self._entries.discard(identifier)
            return None
        return info

    def put(self, identifier: str, info: ImageInfo) -> None:
        self._entries.put(identifier, info)
