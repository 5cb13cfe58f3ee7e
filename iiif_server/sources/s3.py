"""Masters in S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph), read by byte ranges.

Nothing here downloads a whole master. The header (TIFF IFDs, JP2 boxes and markers) is read in
16 KiB blocks kept per worker, so probing, the stored-tile index and each level libvips opens
share them; a read of a tile's bytes (4 KiB or more, as libtiff and the passthrough ask) is one
range request for exactly those bytes. libvips reads through ``pyvips.SourceCustom`` over the same
reader, so it decodes only the tiles it asks for; the pipeline first has the stored tiles under a
crop read ahead, all at once (measured against a local copy of whole masters: see README "Masters
in object storage").

Locating an identifier is a HEAD of ``ID.tif`` (then the other suffixes, in order), trusted for
``info_cache_ttl`` seconds: a master replaced in the bucket is seen by every worker of every server
within that time.
The client is obstore (Rust, reqwest): per-process keep-alive connection pool, timeouts, and
retries with exponential backoff on 5xx, throttling and connection errors.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import BinaryIO

import obstore
import pyvips
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from iiif_server.caches.lru import SizedLRU
from iiif_server.errors import NotFound, StoreUnavailable
from iiif_server.identifiers import MASTER_SUFFIXES, check_identifier
from iiif_server.settings import ObjectStoreRoot, Settings
from iiif_server.sources.base import Fingerprint, Master

# A pyramidal TIFF keeps each level's IFD after that level's data: one block per level is read.
BLOCK_BYTES = 16 * 1024
# Header reads are a few bytes to 2 KiB (IFD entries, tag arrays, libvips' sniffing); reads at
# least this long are tile data (libtiff and the passthrough read a whole tile at once): fetched
# exactly, never rounded up to blocks, and not kept (the derivative caches keep results).
EXACT_READ_BYTES = 4 * 1024
# Tiles read ahead for a render wait here until libvips reads them (each is taken once).
READ_AHEAD_BYTES = 32 * 1024 * 1024
# Header blocks kept per worker across all masters: a 30,000 px pyramid's IFDs and tile tables fit
# in a few blocks, so this holds the headers of hundreds of masters.
BLOCK_CACHE_BYTES = 32 * 1024 * 1024
LOCATIONS_KEPT = 65_536
# Keys one LIST request returns (S3's most).
LIST_PAGE_KEYS = 1000
RETRIES = 3
ETAG_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")
# obstore 0.12 raises the builtin FileNotFoundError for a missing key; its own class is kept for
# the versions that raise that.
MISSING = (FileNotFoundError, NotFoundError)


class ObjectStoreSource:
    """Masters below ``root`` in ``store``. Thread-safe: each cache has its lock, and a reader (one
    per open_bytes / load_image) is used by one caller at a time (libvips' TIFF loader reads under
    its own lock)."""

    reads_may_hang = True  # a request's timeout may be longer than a tile's deadline

    def __init__(self, store: S3Store, root: ObjectStoreRoot, location_ttl_s: float) -> None:
        self.store = store
        self.root = root
        self.location_ttl_s = location_ttl_s
        # Header blocks, and tiles read ahead, keyed by (location, fingerprint token, where in it).
        self.blocks: SizedLRU[bytes] = SizedLRU(BLOCK_CACHE_BYTES, size_of=len)
        self.read_ahead_ranges: SizedLRU[bytes] = SizedLRU(READ_AHEAD_BYTES, size_of=len)
        self.traffic = Traffic()
        # The last read that found the store unreachable: (when, its error); see store_failure_since.
        self._last_failure: tuple[float, StoreUnavailable] | None = None
        # Identifier -> (when it was located, the master or None for none).
        self._located: SizedLRU[tuple[float, Master | None]] = SizedLRU(LOCATIONS_KEPT)

    def locate(self, identifier: str) -> Master:
        now = time.monotonic()
        known = self._located.get(identifier)
        if known is not None and now - known[0] < self.location_ttl_s:
            return _found(identifier, known[1])
        check_identifier(identifier)
        master = self._find(identifier)
        self._located.put(identifier, (now, master))
        return _found(identifier, master)

    def _find(self, identifier: str) -> Master | None:
        """The first key ``ID.suffix`` that exists, in the server's suffix order: one HEAD for the
        usual ``.tif`` master. (object_store lists by folder, so LIST of ``ID.*`` is no shortcut.)"""
        stem = self.root.key(identifier)
        for suffix in MASTER_SUFFIXES:
            for candidate in (stem + suffix, stem + suffix.upper()):
                try:
                    meta = obstore.head(self.store, candidate)
                except MISSING:
                    continue
                except Exception as error:  # obstore raises its own hierarchy, all store failures
                    raise _unavailable(error) from None
                etag = ETAG_UNSAFE.sub("", meta.get("e_tag") or "")
                modified_ns = int(meta["last_modified"].timestamp()) * 1_000_000_000
                return Master(identifier, candidate, suffix, Fingerprint(meta["size"], modified_ns, etag))
        return None

    def identifiers_page(self, after: str, count: int) -> tuple[list[str], str | None]:
        """Up to ``count`` identifiers of masters whose keys sort after the name ``after`` (below
        the prefix; "" for the first page), in key order, and the name the next page starts after
        (None on the last page). One LIST per 1000 keys read, which stops once the page is full:
        a bucket of millions of masters is never listed whole."""
        found: dict[str, None] = {}  # ordered
        prefix = self.root.key("")
        last_read = None
        try:
            for batch in obstore.list(self.store, prefix=self.root.prefix or None,
                                      offset=prefix + after if after else None, chunk_size=LIST_PAGE_KEYS):
                for entry in batch:
                    name = entry["path"][len(prefix) :]
                    stem, dot, suffix = name.rpartition(".")
                    if dot and f".{suffix.lower()}" in MASTER_SUFFIXES and not stem.startswith(".") and "/." not in stem:
                        if stem not in found and len(found) == count:
                            return list(found), last_read
                        found[stem] = None
                    last_read = name
        except Exception as error:  # obstore raises its own hierarchy, all store failures
            raise _unavailable(error) from None
        return list(found), None

    def problem(self) -> str | None:
        """Why masters cannot be read from the store (unreachable, refused), or None."""
        try:
            obstore.list_with_delimiter(self.store, prefix=self.root.prefix or None)
        except Exception as error:  # obstore raises its own hierarchy, all store failures
            return f"cannot be listed ({type(error).__name__})"
        return None

    def open_bytes(self, master: Master) -> BinaryIO:
        return ObjectReader(self, master)

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        reader = ObjectReader(self, master)
        source = pyvips.SourceCustom()
        source.on_read(reader.read_for_libvips)
        source.on_seek(reader.seek)
        # pyvips keeps the source (and so the reader) referenced by the image and every image made from it.
        return pyvips.Image.new_from_source(source, "", **load_options)

    def read_ahead(self, master: Master, ranges: list[tuple[int, int]]) -> None:
        """Fetch the stored tiles a render needs concurrently (obstore.get_ranges), rather than one
        round trip after another as libvips asks for them. A store that does not answer fails the
        request here with 503, before libvips could only report a read error."""
        token = master.fingerprint.token
        wanted = [(start, end) for start, end in ranges
                  if self.read_ahead_ranges.get((master.location, token, start, end)) is None]
        if not wanted:
            return
        try:
            buffers = obstore.get_ranges(self.store, master.location, starts=[start for start, _ in wanted],
                                         ends=[end for _, end in wanted])
        except MISSING:
            raise NotFound(f"no image with identifier {master.identifier!r}") from None
        except Exception as error:  # obstore raises its own hierarchy, all store failures
            raise self._failed_read(error) from None
        for (start, end), buffer in zip(wanted, buffers, strict=True):
            data = bytes(buffer)
            self.traffic.add(len(data))
            self.read_ahead_ranges.put((master.location, token, start, end), data)

    def local_path(self, master: Master) -> str | None:
        return None

    def store_failure_since(self, moment: float) -> StoreUnavailable | None:
        last = self._last_failure
        return last[1] if last is not None and last[0] >= moment else None

    def _failed_read(self, error: Exception) -> StoreUnavailable:
        unavailable = _unavailable(error)
        # One tuple, replaced whole: readers on other threads see the old one or the new one.
        self._last_failure = (time.monotonic(), unavailable)
        return unavailable

    def fetch(self, master: Master, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the master: one range request."""
        try:
            data = bytes(obstore.get_range(self.store, master.location, start=start, end=end))
        except MISSING:
            raise NotFound(f"no image with identifier {master.identifier!r}") from None
        except Exception as error:  # obstore raises its own hierarchy, all store failures
            raise self._failed_read(error) from None
        self.traffic.add(len(data))
        return data


def _found(identifier: str, master: Master | None) -> Master:
    if master is None:
        raise NotFound(f"no image with identifier {identifier!r}")
    return master


def _unavailable(error: Exception) -> StoreUnavailable:
    # The store's message may carry the endpoint and key, never credentials; its first line is enough.
    return StoreUnavailable(f"the image store did not answer: {type(error).__name__}")


class Traffic:
    """Range requests made and bytes fetched by one source: what the tests and the benchmark count."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def add(self, fetched: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += fetched


class ObjectReader(io.RawIOBase):
    """A seekable read-only stream over one master's bytes, made of range requests."""

    def __init__(self, source: ObjectStoreSource, master: Master) -> None:
        super().__init__()
        self.source = source
        self.master = master
        self.size = master.fingerprint.size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override] - io's signature
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:  # type: ignore[override] - never None: reads block
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        start = self.position
        if end - start >= EXACT_READ_BYTES:
            key = (self.master.location, self.master.fingerprint.token, start, end)
            data = self.source.read_ahead_ranges.get(key)
            if data is None:
                data = self.source.fetch(self.master, start, end)
            else:
                self.source.read_ahead_ranges.discard(key)  # a tile read ahead is read once
        else:
            data = self._from_blocks(start, end)
        self.position = start + len(data)
        return data

    def read_for_libvips(self, size: int) -> bytes:
        """``read``, for pyvips' read callback: an exception there would only be printed, and libvips
        would see a short read anyway. The failure is kept (store_failure_since) for the pipeline."""
        try:
            return self.read(size)
        except (StoreUnavailable, NotFound):
            return b""

    def _from_blocks(self, start: int, end: int) -> bytes:
        parts = []
        for number in range(start // BLOCK_BYTES, (end - 1) // BLOCK_BYTES + 1):
            key = (self.master.location, self.master.fingerprint.token, number)
            block = self.source.blocks.get(key)
            if block is None:
                block_start = number * BLOCK_BYTES
                block = self.source.fetch(self.master, block_start, min(self.size, block_start + BLOCK_BYTES))
                self.source.blocks.put(key, block)
            parts.append(block)
        first = (start // BLOCK_BYTES) * BLOCK_BYTES
        return b"".join(parts)[start - first : end - first]


def open_object_store(root: ObjectStoreRoot, settings: Settings, environ: Mapping[str, str] | None = None) -> S3Store:
    """An S3 client for the root's bucket: each connection setting from ``settings``, else the
    standard AWS_* environment variable. Creating it makes no request."""
    environ = os.environ if environ is None else environ
    config = {
        name: value
        for name, value in (
            ("endpoint", settings.aws_endpoint_url or environ.get("AWS_ENDPOINT_URL", "")),
            ("region", settings.aws_region or environ.get("AWS_REGION", "") or environ.get("AWS_DEFAULT_REGION", "")),
            ("access_key_id", settings.aws_access_key_id or environ.get("AWS_ACCESS_KEY_ID", "")),
            ("secret_access_key", settings.aws_secret_access_key or environ.get("AWS_SECRET_ACCESS_KEY", "")),
        )
        if value
    }
    budget = timedelta(seconds=settings.object_store_timeout)
    return S3Store(
        root.bucket,
        config=config,
        client_options={
            "allow_http": str(config.get("endpoint", "")).startswith("http://"),
            "connect_timeout": timedelta(seconds=min(2, settings.object_store_timeout)),
            "timeout": budget,
            "pool_idle_timeout": timedelta(seconds=60),
        },
        retry_config={
            "max_retries": RETRIES,
            "retry_timeout": budget,
            "backoff": {"init_backoff": timedelta(milliseconds=50), "max_backoff": timedelta(seconds=1), "base": 2},
        },
    )


def object_store_source(root: ObjectStoreRoot, settings: Settings) -> ObjectStoreSource:
    return ObjectStoreSource(open_object_store(root, settings), root, settings.info_cache_ttl)
