"""Cache contracts. Both are called from many request threads at once and must be thread-safe."""

from __future__ import annotations

from typing import Protocol

from iiif_server.caches.responses import StoredResponse
from iiif_server.info import ImageInfo
from iiif_server.sources.base import Fingerprint


class InfoCache(Protocol):
    """ImageInfo by identifier. ``get`` returns an entry only if its fingerprint still matches,
    so a master rewritten on disk is probed again; ``put`` replaces any older entry."""

    def get(self, identifier: str, fingerprint: Fingerprint) -> ImageInfo | None: ...

    def put(self, identifier: str, info: ImageInfo) -> None: ...


class DerivativeCache(Protocol):
    """Encoded responses by key ``"<render version>/<fingerprint token>/<identifier>/<tier>/q<quality>/<canonical
    request path>"`` (opaque to caches; the tier is ``full`` or the public substitute's).

    ``get`` before rendering, ``put`` after; a miss is never an error. A key's bytes never change,
    because the key changes with the master's fingerprint and with the renderer.
    """

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...


class ResponseCache(Protocol):
    """Whole HTTP responses by request key, for replay without running the app. An entry names the
    master and fingerprint it was made from; whoever replays it checks them first."""

    def get(self, key: str) -> StoredResponse | None: ...

    def put(self, key: str, response: StoredResponse) -> None: ...
