"""JPEG 2000 regions decoded by OpenJPEG code-tile by code-tile, with decoders kept per worker.

libvips 8.14 reads a tiled JP2 in libvips tiles the size of a full-resolution code-tile, whatever
the reduction, and fills each with one OpenJPEG call per code-tile after a seek and a fresh 1 MB
read: a 256 px IIIF tile at reduction 4 decodes four times the area it needs, in 256 calls. This
reader keeps opened OpenJPEG decoders per master (switching resolution between code-tiles) within a
byte budget, and decodes only the code-tiles under the crop. Measured per 256 px tile of the benchmark's 16k master (one core): libvips
33 / 43 / 94 / 172 ms at scale factors 1 / 2 / 8 / 16, this reader 36 / 12 / 22 / 34 ms.
Code-tiles a crop only partly covers are kept decoded for the neighbouring tiles that need the rest
(DecodedCodeTiles). libvips keeps crops above 2048 x 2048 px, which it streams.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cachetools
import numpy as np
import pyvips
from glymur.lib import openjp2

from iiif_server.caches.lru import SizedLRU
from iiif_server.deadlines import Deadline
from iiif_server.errors import MasterUnreadable
from iiif_server.info import Jpeg2000Layout
from iiif_server.plan import Box
from iiif_server.sources.base import Master

# OpenJPEG reads this much after every seek between code-tiles: with 1 MB, as libvips uses, a tile
# at reduction 4 took 46 ms instead of 31 ms.
READ_CHUNK_BYTES = 64 * 1024
# From this many code-tiles on, a crop is split between two decoders: the 1000 px reduction of a 16k
# master (768 code-tiles of 32 px) took 325 ms with one, where iipsrv took 315 ms; a tile that
# lies in one to four code-tiles is decoded by its own request's thread.
SPLIT_FROM_CODE_TILES = 16

_library = openjp2.OPENJP2
_library.opj_stream_create_file_stream.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32]
_library.opj_stream_create_file_stream.restype = openjp2.STREAM_TYPE_P


def code_tiles_under(layout: Jpeg2000Layout, crop: Box, reduction: int) -> list[int]:
    """Indexes of the code-tiles that hold pixels of ``crop`` (in the reduced level's pixels).

    A level pixel p covers full-resolution pixels from p * 2^r, which lie in code-tile
    floor(p * 2^r / tile size): exact also where a tile edge falls between level pixels.
    """
    tiles_across = math.ceil(layout.width / layout.tile_width)
    first_column = (crop.x << reduction) // layout.tile_width
    last_column = ((crop.right - 1) << reduction) // layout.tile_width
    first_row = (crop.y << reduction) // layout.tile_height
    last_row = ((crop.bottom - 1) << reduction) // layout.tile_height
    return [
        row * tiles_across + column
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    ]


# What an idle decoder holds, measured as resident memory of OpenJPEG 2.5 decoders of 3-band JP2s:
# about 12 KB of headers per code-tile of the master, read when it opens (35 MB for 3,072 code-tiles;
# 55 MB for the 4,661 512 px code-tiles of a 40,000 x 30,000 master), and the buffers of the largest
# code-tile it decoded, which OpenJPEG keeps for the next one: 4 bytes per sample and a quarter more
# (3.7 MiB after a full-resolution 512 px tile). The decoded image's own copy is freed after each use.
HEADER_BYTES_PER_CODE_TILE = 12 * 1024
KEPT_BYTES_PER_DECODED_SAMPLE = 5

_library.opj_set_decoded_resolution_factor.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
_library.opj_set_decoded_resolution_factor.restype = ctypes.c_int
_library.opj_image_data_free.argtypes = [ctypes.c_void_p]
_library.opj_image_data_free.restype = None


_libc = ctypes.CDLL(ctypes.util.find_library("c"))


def _return_freed_memory() -> None:
    """Give the pages of closed decoders back to the system. Their headers are thousands of small
    allocations, freed into the malloc arena of whichever thread opened them: without this, a worker
    whose threads take turns at reopening decoders of a 40k JP2 grew 200 MB past the budget."""
    _libc.malloc_trim(0)


@dataclass(frozen=True)
class CodeTile:
    """One decoded code-tile: where it lies in its reduced level, and its pixels (rows, columns, bands)."""

    x: int
    y: int
    pixels: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.pixels.nbytes

    def copy_into(self, pixels: np.ndarray, crop: Box) -> None:
        """Copy the part of this code-tile inside ``crop`` into ``pixels`` (the crop's own array)."""
        height, width = self.pixels.shape[:2]
        left, top = max(crop.x, self.x), max(crop.y, self.y)
        right, bottom = min(crop.right, self.x + width), min(crop.bottom, self.y + height)
        if right > left and bottom > top:
            pixels[top - crop.y : bottom - crop.y, left - crop.x : right - crop.x] = self.pixels[
                top - self.y : bottom - self.y, left - self.x : right - self.x
            ]


CodeTileKey = tuple[str, str, int, int]  # (path, fingerprint token, code-tile index, reduction)


class DecodedCodeTiles:
    """Per worker: code-tiles decoded for one request that a neighbouring request needs too, within
    ``max_bytes`` of pixels. A 256 px viewer tile at full resolution is a quarter of a 512 px
    code-tile, and decoding that code-tile is the whole cost of the tile: its three neighbours take
    it from here. Thread-safe; a code-tile being decoded is waited for, not decoded again, by
    another request that needs it (a viewer asks for neighbouring tiles at the same moment)."""

    def __init__(self, max_bytes: int) -> None:
        self._tiles: SizedLRU[CodeTile] = SizedLRU(max_bytes, size_of=lambda tile: tile.nbytes)
        self._decoding: dict[CodeTileKey, threading.Event] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.decoded = 0

    @property
    def bytes_used(self) -> int:
        return self._tiles.bytes_used

    def get(self, key: CodeTileKey, decode: Callable[[], CodeTile], deadline: Deadline) -> CodeTile:
        """The code-tile at ``key``: kept, being decoded by another request (waited for until the
        deadline), or decoded now by ``decode`` and kept."""
        while True:
            with self._lock:
                tile = self._tiles.get(key)
                if tile is not None:
                    self.hits += 1
                    return tile
                decoding = self._decoding.get(key)
                if decoding is None:
                    decoding = self._decoding[key] = threading.Event()
                    break
            # Then it is kept, or the other request failed or could not keep it: decoded here.
            decoding.wait(max(0.0, deadline.remaining()))
            deadline.check()
        try:
            tile = decode()
            with self._lock:
                self.decoded += 1
            self._tiles.put(key, tile)
            return tile
        finally:
            with self._lock:
                del self._decoding[key]
            decoding.set()


def code_tile_box(layout: Jpeg2000Layout, tile_index: int, reduction: int) -> Box:
    """Where code-tile ``tile_index`` lies in the level at ``reduction``: its full-resolution
    bounds divided by 2^reduction, rounded up (ISO 15444-1 B.5)."""
    tiles_across = math.ceil(layout.width / layout.tile_width)
    column, row = tile_index % tiles_across, tile_index // tiles_across
    left, top = column * layout.tile_width, row * layout.tile_height
    right, bottom = min(left + layout.tile_width, layout.width), min(top + layout.tile_height, layout.height)
    scale = 1 << reduction
    x, y = -(-left // scale), -(-top // scale)
    return Box(x, y, -(-right // scale) - x, -(-bottom // scale) - y)


def code_tile_count(layout: Jpeg2000Layout) -> int:
    return math.ceil(layout.width / layout.tile_width) * math.ceil(layout.height / layout.tile_height)


class _Decoder:
    """One OpenJPEG codec and file stream of a master, at any reduction (set before each code-tile:
    one decoder serves every resolution, its headers read once). One request at a time."""

    def __init__(self, path: str, layout: Jpeg2000Layout) -> None:
        self.reduction = 0
        self.counted_bytes = 0  # what the pool counted for it when it was taken
        self.header_bytes = code_tile_count(layout) * HEADER_BYTES_PER_CODE_TILE
        self.largest_decoded_samples = 0
        self.stream = _library.opj_stream_create_file_stream(path.encode(), READ_CHUNK_BYTES, 1)
        if not self.stream:
            raise OSError("OpenJPEG cannot open the file")
        self.codec = openjp2.create_decompress(openjp2.CODEC_J2K if layout.raw_codestream else openjp2.CODEC_JP2)
        try:
            # Failures are reported by the calls' results; OpenJPEG's own messages would go to stderr.
            for set_handler in (openjp2.set_error_handler, openjp2.set_warning_handler, openjp2.set_info_handler):
                set_handler(self.codec, None)
            openjp2.setup_decoder(self.codec, openjp2.set_default_decoder_parameters())
            self.image = openjp2.read_header(self.stream, self.codec)
        except openjp2.OpenJPEGLibraryError:
            openjp2.destroy_codec(self.codec)
            openjp2.stream_destroy(self.stream)
            raise

    @property
    def held_bytes(self) -> int:
        """What it keeps in memory while idle (estimated; see HEADER_BYTES_PER_CODE_TILE)."""
        return self.header_bytes + self.largest_decoded_samples * KEPT_BYTES_PER_DECODED_SAMPLE

    def decode(self, tile_index: int, reduction: int) -> CodeTile:
        """Decode one code-tile at ``reduction`` into an array of its own (rows, columns, bands)."""
        if reduction != self.reduction:
            if not _library.opj_set_decoded_resolution_factor(self.codec, reduction):
                raise OSError(f"OpenJPEG cannot decode at reduction {reduction}")
            self.reduction = reduction
        openjp2.get_decoded_tile(self.codec, self.stream, self.image, tile_index)
        image = self.image.contents
        first = image.comps[0]
        # The component's origin stays in full-resolution pixels; its size is the reduced one.
        scale = 1 << self.reduction
        width, height = first.w, first.h
        self.largest_decoded_samples = max(self.largest_decoded_samples, width * height * image.numcomps)
        pixels = np.empty((height, width, image.numcomps), dtype=np.uint8)
        for band in range(image.numcomps):
            pixels[:, :, band] = np.ctypeslib.as_array(image.comps[band].data, shape=(height, width))
        return CodeTile(-(-first.x0 // scale), -(-first.y0 // scale), pixels)

    def release_pixels(self) -> None:
        """Free the last decoded code-tile's samples (OpenJPEG allocates them anew for the next)."""
        image = self.image.contents
        for band in range(image.numcomps):
            component = image.comps[band]
            if component.data:
                _library.opj_image_data_free(component.data)
                component.data = None

    def close(self) -> None:
        openjp2.image_destroy(self.image)
        openjp2.destroy_codec(self.codec)
        openjp2.stream_destroy(self.stream)


DecoderKey = tuple[str, str]  # (path, fingerprint token)


class _IdleDecoders(cachetools.LRUCache):
    """Idle decoders by master, within a byte budget of what they hold. Evicted decoders are
    collected in ``evicted`` for the caller to close (outside its lock)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes, getsizeof=lambda decoders: sum(decoder.held_bytes for decoder in decoders))
        self.evicted: list[_Decoder] = []

    def popitem(self) -> tuple[DecoderKey, tuple[_Decoder, ...]]:
        key, decoders = super().popitem()
        self.evicted.extend(decoders)
        return key, decoders


class Jpeg2000Regions:
    """Per-worker pool of decoders, one per master serving every resolution. Thread-safe: a decoder
    serves one request at a time, so a busy master gets a second decoder.

    ``max_bytes`` bounds what all decoders hold, in use or idle: idle ones are closed, least
    recently used first, while the total is above it. Only decoders in use can take the total
    beyond it (at most one per request thread and the helper), until they are given back.
    """

    def __init__(self, max_bytes: int, code_tile_bytes: int = 0) -> None:
        self.max_bytes = max_bytes
        self.code_tiles = DecodedCodeTiles(code_tile_bytes)
        self._idle = _IdleDecoders(max_bytes)
        self._busy_bytes = 0
        self._lock = threading.Lock()
        # OpenJPEG releases the GIL (ctypes), so the helper decodes on the other core.
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jpeg2000")

    @property
    def idle_bytes(self) -> int:
        """What the idle decoders hold, as the budget counts it."""
        with self._lock:
            return self._idle.currsize

    @property
    def busy_bytes(self) -> int:
        """What the decoders in use held when they were taken (or opened)."""
        with self._lock:
            return self._busy_bytes

    def read(self, master: Master, path: str, layout: Jpeg2000Layout, reduction: int, crop: Box,
             deadline: Deadline) -> pyvips.Image:
        """The pixels of ``crop`` at ``reduction`` as an 8-bit sRGB (3 bands) or grey (1 band) image,
        from the master's file at ``path``. A crop over many code-tiles is decoded by two decoders
        at once, each taking the next code-tile not yet taken. Stops between code-tiles once ``deadline`` has passed."""
        pixels = np.empty((crop.height, crop.width, layout.bands), dtype=np.uint8)
        tiles = code_tiles_under(layout, crop, reduction)
        key = (path, master.fingerprint.token)
        if len(tiles) >= SPLIT_FROM_CODE_TILES:
            # Both take the next code-tile from one iterator (atomic under the GIL): when the machine
            # is loaded and one thread gets less of a core, the other takes more code-tiles, where
            # fixed halves left the request waiting for the slower one.
            shared = iter(tiles)
            second = self._helper.submit(self._decode, master, key, layout, reduction, pixels, crop, shared, deadline)
            try:
                self._decode(master, key, layout, reduction, pixels, crop, shared, deadline)
            finally:
                second.result()
        else:
            self._decode(master, key, layout, reduction, pixels, crop, tiles, deadline)
        image = pyvips.Image.new_from_memory(pixels.data, crop.width, crop.height, layout.bands, "uchar")
        return image.copy(interpretation="srgb" if layout.bands == 3 else "b-w")

    def _decode(self, master: Master, key: DecoderKey, layout: Jpeg2000Layout, reduction: int, pixels: np.ndarray,
                crop: Box, tiles: Iterable[int], deadline: Deadline) -> None:
        decoder = None

        def decode(tile_index: int) -> CodeTile:
            nonlocal decoder
            if decoder is None:  # taken at the first code-tile not kept decoded
                decoder = self._take(key) or self._open(key, layout)
            return decoder.decode(tile_index, reduction)

        try:
            for tile_index in tiles:
                if deadline.expired:
                    break
                if crop.contains(code_tile_box(layout, tile_index, reduction)):
                    tile = decode(tile_index)  # no other request's crop needs it
                else:
                    tile = self.code_tiles.get((*key, tile_index, reduction), lambda: decode(tile_index), deadline)
                tile.copy_into(pixels, crop)
        except (openjp2.OpenJPEGLibraryError, OSError) as error:
            if decoder is not None:
                self._discard(decoder)
            raise MasterUnreadable(f"image {master.identifier!r} could not be decoded", str(error)) from None
        except BaseException:
            if decoder is not None:
                self._give_back(key, decoder)
            raise
        if decoder is not None:
            self._give_back(key, decoder)  # whole between code-tiles, so it serves again
        deadline.check()

    def close(self) -> None:
        """Close every idle decoder (each holds its file open)."""
        with self._lock:
            idle = [decoder for decoders in self._idle.values() for decoder in decoders]
            self._idle.clear()
        self._close(idle)

    def _open(self, key: DecoderKey, layout: Jpeg2000Layout) -> _Decoder:
        decoder = _Decoder(key[0], layout)
        decoder.counted_bytes = decoder.held_bytes
        with self._lock:
            self._busy_bytes += decoder.counted_bytes
            closing = self._evict_down_to_budget()
        self._close(closing)
        return decoder

    def _take(self, key: DecoderKey) -> _Decoder | None:
        with self._lock:
            decoders = self._idle.pop(key, None)
            if not decoders:
                return None
            if len(decoders) > 1:
                self._idle[key] = decoders[:-1]  # smaller than before: evicts nothing
            decoder = decoders[-1]
            decoder.counted_bytes = decoder.held_bytes
            self._busy_bytes += decoder.counted_bytes
            return decoder

    def _give_back(self, key: DecoderKey, decoder: _Decoder) -> None:
        decoder.release_pixels()
        with self._lock:
            self._busy_bytes -= decoder.counted_bytes
            # Out first, so that making room for the longer tuple never evicts this very master.
            kept = self._idle.pop(key, ())
            try:
                self._idle[key] = (*kept, decoder)
                closing = []
            except ValueError:  # together larger than the whole budget: keep what was there
                if kept:
                    self._idle[key] = kept
                closing = [decoder]
            closing += self._evict_down_to_budget()
        self._close(closing)

    def _discard(self, decoder: _Decoder) -> None:
        with self._lock:
            self._busy_bytes -= decoder.counted_bytes
        self._close([decoder])

    def _evict_down_to_budget(self) -> list[_Decoder]:
        """Under the lock: take idle decoders out, least recently used first, while all decoders
        together hold more than the budget; the caller closes them outside the lock."""
        while self._idle and self._idle.currsize + self._busy_bytes > self.max_bytes:
            self._idle.popitem()
        evicted, self._idle.evicted = self._idle.evicted, []
        return evicted

    @staticmethod
    def _close(decoders: list[_Decoder]) -> None:
        for decoder in decoders:
            decoder.close()
        if decoders:
            _return_freed_memory()
