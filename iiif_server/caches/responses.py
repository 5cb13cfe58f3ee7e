"""Whole responses of the Image API kept per worker, so a repeated request is answered without
running Flask: for info.json and for the tiles of a popular document, the framework costs more
than the answer."""

from __future__ import annotations

from dataclasses import dataclass

from iiif_server.caches.lru import SizedLRU
from iiif_server.sources.base import Fingerprint

# Headers, and the bookkeeping of an entry, counted against the budget besides its body.
ENTRY_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class StoredResponse:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    identifier: str
    fingerprint: Fingerprint
    # The request's Accept header when the response was negotiated on it (Vary: Accept), else None.
    negotiated_accept: str | None
    endpoint: str

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD_BYTES


class MemoryResponseCache(SizedLRU[StoredResponse]):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, lambda response: response.size)
