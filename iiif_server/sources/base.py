"""The source contract: locate a master by identifier, then read it as bytes or as a pyvips image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

import pyvips

from iiif_server.errors import StoreUnavailable


@dataclass(frozen=True)
class Fingerprint:
    """Changes whenever the master changes on disk (or in the store): size and modification time,
    and in object storage the object's ETag."""

    size: int
    mtime_ns: int
    etag: str = ""

    @property
    def token(self) -> str:
        plain = f"{self.size:x}-{self.mtime_ns:x}"
        return f"{plain}-{self.etag}" if self.etag else plain


@dataclass(frozen=True)
class Master:
    """A located master: where it is (a path or a key, meaningful to its source) and its fingerprint."""

    identifier: str
    location: str
    suffix: str
    fingerprint: Fingerprint


class ImageSource(Protocol):
    """Masters by identifier.

    Call order: ``locate`` first (cheap: one stat or one HEAD), then ``open_bytes`` and/or
    ``load_image`` with the Master it returned. Implementations must be safe to call from
    several threads at once; they hold no per-request state.
    """

    # Whether a read can wait without end (a network or FUSE file system, an object store): the
    # pipeline then runs each request's work on a deadline thread (deadlines.py).
    reads_may_hang: bool

    def locate(self, identifier: str) -> Master:
        """The master for this identifier; raises NotFound (or BadRequest for a malformed one)."""

    def open_bytes(self, master: Master) -> BinaryIO:
        """A seekable binary stream of the master (headers, stored tiles). Caller closes it."""

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        """The master opened lazily by libvips with loader options such as page=, shrink=."""

    def read_ahead(self, master: Master, ranges: list[tuple[int, int]]) -> None:
        """The byte ranges (start, end) a render is about to read, all at once. A source whose reads
        each cost a round trip fetches them together; a local one does nothing."""

    def local_path(self, master: Master) -> str | None:
        """A path on local disk that C libraries can open the master by, or None (they then get
        it through ``load_image``)."""

    def store_failure_since(self, moment: float) -> StoreUnavailable | None:
        """The error of a read that found the store unreachable at or after ``moment``
        (``time.monotonic()``), if one did. libvips reading through ``load_image`` sees such a
        read only as a short one and reports a decoding error; the caller asks this to answer 503."""
