"""JPEG 2000 regions decoded by OpenJPEG from the code-tiles under the crop, and nothing else.

libvips 8.14 reads a tiled JP2 in libvips tiles the size of a full-resolution code-tile, whatever
the reduction, and fills each with one OpenJPEG call per code-tile after a seek and a fresh 1 MB
read: a 256 px IIIF tile at reduction 4 decodes four times the area it needs, in 256 calls. OpenJPEG
itself, opened on a whole codestream, holds about 12 KB of coding parameters per code-tile from the
moment it reads the main header (55 MB for the 4,661 512 px code-tiles of a 40,000 x 30,000 px JP2,
read in 54 ms), and, without TLM markers, finds a code-tile by walking the tile-parts before it
(90 ms for one in the middle of that master): too much to open per request, and too much to keep
open per master (a worker serving eight such masters in turn reopened them over and over).

So this reader indexes a master's tile-parts once per worker (CodestreamIndex: where each tile-part
lies, from a walk of the SOT markers, 16 bytes per tile-part), and gives OpenJPEG, for each row of
code-tiles under the crop, a codestream of those code-tiles only: the main header, with SIZ's image
and tile-grid origin moved to the first of them, then their tile-parts renumbered, read from the
file straight into OpenJPEG's buffers. Every code-tile keeps its place on the reference grid, so its
subbands, code-blocks and precincts are the ones of the whole codestream (ISO 15444-1 B.2-B.7), and
it decodes to the same samples (tested against OpenJPEG's decoding of the whole level). Measured per
256 px tile of the benchmark's 16k master, one request at a time: libvips 33 / 43 / 94 / 172 ms at
scale factors 1 / 2 / 8 / 16, this reader 30 / 19 / 20 / 33 ms.
Code-tiles a small crop only partly covers are decoded whole and kept for the neighbouring tiles
that need the rest (DecodedCodeTiles). libvips keeps crops above 2048 x 2048 px, which it streams.
"""

from __future__ import annotations

import bisect
import ctypes
import math
import os
import struct
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyvips
from glymur.lib import openjp2

from iiif_server.caches.lru import SizedLRU
from iiif_server.deadlines import Deadline
from iiif_server.errors import MasterUnreadable
from iiif_server.info import Jpeg2000Layout
from iiif_server.plan import Box
from iiif_server.probe import EOC, SIZ, SOC, SOT, read_main_header
from iiif_server.sources.base import Master

# Crops within this many code-tiles decode them whole, each kept for neighbouring crops (a 256 px tile
# at full resolution is a quarter of a 512 px code-tile); larger crops decode only their own area,
# a row of code-tiles at a time. From SPLIT_FROM_CODE_TILES code-tiles on, two threads take the rows
# (or code-tiles) in turn: the 1000 px reduction of a 16k master (768 code-tiles of 32 px) took
# 325 ms on one, where iipsrv took 315 ms.
WHOLE_CODE_TILES_UP_TO = 4
SPLIT_FROM_CODE_TILES = 16
# Main header segments left out of a code-tiles' codestream: tile-part and packet lengths of the
# whole codestream (TLM, PLM; A.7.1, A.7.2), which would not describe it.
WHOLE_CODESTREAM_INDEXES = (b"\xff\x55", b"\xff\x57")
SOT_LENGTH = 12  # SOT marker and segment: Lsot, Isot, Psot, TPsot, TNsot (A.4.2)
# OpenJPEG's read buffer: it reads a tile-part longer than this straight into its own memory.
STREAM_BUFFER_BYTES = 64 * 1024
MAX_TILE_PARTS_PER_TILE = 255  # TPsot is one byte

_library = openjp2.OPENJP2
_READ = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_SKIP = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
_SEEK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int64, ctypes.c_void_p)
_END_OF_STREAM = ctypes.c_size_t(-1).value
_library.opj_stream_create.argtypes = [ctypes.c_size_t, ctypes.c_int]
_library.opj_stream_create.restype = openjp2.STREAM_TYPE_P
for _name, _callback in (("opj_stream_set_read_function", _READ), ("opj_stream_set_skip_function", _SKIP),
                         ("opj_stream_set_seek_function", _SEEK)):
    getattr(_library, _name).argtypes = [openjp2.STREAM_TYPE_P, _callback]
    getattr(_library, _name).restype = None
_library.opj_stream_set_user_data_length.argtypes = [openjp2.STREAM_TYPE_P, ctypes.c_uint64]
_library.opj_stream_set_user_data_length.restype = None


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


@dataclass(frozen=True)
class CodeTileRun:
    """Code-tiles ``first_column`` to ``last_column`` of code-tile row ``row``: what one OpenJPEG
    call decodes."""

    row: int
    first_column: int
    last_column: int

    def full_resolution_box(self, layout: Jpeg2000Layout) -> Box:
        left, top = self.first_column * layout.tile_width, self.row * layout.tile_height
        right = min((self.last_column + 1) * layout.tile_width, layout.width)
        bottom = min(top + layout.tile_height, layout.height)
        return Box(left, top, right - left, bottom - top)

    def box(self, layout: Jpeg2000Layout, reduction: int) -> Box:
        """Where the run lies in the level at ``reduction`` (see code_tile_box)."""
        full = self.full_resolution_box(layout)
        scale = 1 << reduction
        x, y = -(-full.x // scale), -(-full.y // scale)
        return Box(x, y, -(-full.right // scale) - x, -(-full.bottom // scale) - y)


def code_tile_runs(layout: Jpeg2000Layout, crop: Box, reduction: int) -> list[CodeTileRun]:
    """What to decode for ``crop``: each code-tile on its own when there are at most
    WHOLE_CODE_TILES_UP_TO of them, else each row of them."""
    tiles_across = math.ceil(layout.width / layout.tile_width)
    tiles = code_tiles_under(layout, crop, reduction)
    if len(tiles) <= WHOLE_CODE_TILES_UP_TO:
        return [CodeTileRun(tile // tiles_across, tile % tiles_across, tile % tiles_across) for tile in tiles]
    first, last = tiles[0], tiles[-1]
    return [CodeTileRun(row, first % tiles_across, last % tiles_across)
            for row in range(first // tiles_across, last // tiles_across + 1)]


@dataclass(frozen=True)
class CodestreamIndex:
    """Where a master's tile-parts lie: the main header's segments (SIZ apart, the whole
    codestream's own indexes left out), and per code-tile its tile-parts in order, as offsets and
    lengths (Psot) in the file: those of code-tile t are ``first_parts[t]`` to ``first_parts[t + 1]``."""

    siz: bytes
    other_segments: bytes
    part_offsets: np.ndarray
    part_lengths: np.ndarray
    first_parts: np.ndarray

    @property
    def nbytes(self) -> int:
        return (len(self.siz) + len(self.other_segments) + self.part_offsets.nbytes + self.part_lengths.nbytes
                + self.first_parts.nbytes)

    def tile_parts(self, tile_index: int) -> list[tuple[int, int]]:
        first, end = self.first_parts[tile_index], self.first_parts[tile_index + 1]
        return list(zip(self.part_offsets[first:end].tolist(), self.part_lengths[first:end].tolist(), strict=True))


def read_codestream_index(path: str, layout: Jpeg2000Layout, identifier: str) -> CodestreamIndex:
    """Walk the SOT markers from the first tile-part, each tile-part skipped by its Psot (A.4.2).

    The walk ends at EOC, or where a damaged or cut file has no tile-part: code-tiles not reached
    then fail their own requests. Psot 0 is the last tile-part, running to the end of the file
    (less a final EOC).
    """
    with open(path, "rb") as stream:
        header = read_main_header(stream, identifier)
        descriptor, size = stream.fileno(), os.fstat(stream.fileno()).st_size
        tile_count = code_tile_count(layout)
        tiles: list[int] = []
        offsets: list[int] = []
        lengths: list[int] = []
        position = header.first_tile_part
        for _ in range(tile_count * MAX_TILE_PARTS_PER_TILE):
            sot = os.pread(descriptor, SOT_LENGTH, position)
            if len(sot) < SOT_LENGTH or sot[:2] != SOT:
                break
            _, segment_length, tile, length, _, _ = struct.unpack(">2sHHIBB", sot)
            if length == 0:
                length = size - position - (2 if os.pread(descriptor, 2, size - 2) == EOC else 0)
            if segment_length != SOT_LENGTH - 2 or tile >= tile_count or length < SOT_LENGTH:
                raise MasterUnreadable(f"image {identifier!r} could not be decoded",
                                       f"malformed tile-part header at byte {position}")
            if position + length > size:
                break
            tiles.append(tile)
            offsets.append(position)
            lengths.append(length)
            position += length
    tile_of_part = np.array(tiles, dtype=np.int64)
    order = np.argsort(tile_of_part, kind="stable")  # each tile's parts stay in order
    first_parts = np.searchsorted(tile_of_part[order], np.arange(tile_count + 1))
    other_segments = b"".join(segment for segment in header.segments
                              if segment[:2] != SIZ and segment[:2] not in WHOLE_CODESTREAM_INDEXES)
    siz = next(segment for segment in header.segments if segment[:2] == SIZ)
    return CodestreamIndex(siz, other_segments, np.array(offsets, dtype=np.int64)[order],
                           np.array(lengths, dtype=np.int64)[order], first_parts)


class _VirtualCodestream:
    """A codestream made of bytes in memory and byte ranges of a file, read by OpenJPEG through
    callbacks: the file's bytes go straight into OpenJPEG's buffers."""

    def __init__(self, descriptor: int, pieces: list[bytes | tuple[int, int]]) -> None:
        self.descriptor, self.pieces = descriptor, pieces
        self.starts: list[int] = []
        self.length = 0
        for piece in pieces:
            self.starts.append(self.length)
            self.length += len(piece) if isinstance(piece, bytes) else piece[1]
        self.position = 0
        # Kept referenced while OpenJPEG may call them.
        self.callbacks = (_READ(self._read), _SKIP(self._skip), _SEEK(self._seek))

    def _read(self, buffer: int, count: int, _user_data: int) -> int:
        if self.position >= self.length:
            return _END_OF_STREAM
        done = 0
        piece_index = bisect.bisect_right(self.starts, self.position) - 1
        try:
            while done < count and piece_index < len(self.pieces):
                piece, inside = self.pieces[piece_index], self.position - self.starts[piece_index]
                if isinstance(piece, bytes):
                    taken = min(len(piece) - inside, count - done)
                    ctypes.memmove(buffer + done, piece[inside : inside + taken], taken)
                else:
                    offset, length = piece
                    taken = min(length - inside, count - done)
                    target = (ctypes.c_char * taken).from_address(buffer + done)
                    if os.preadv(self.descriptor, [target], offset + inside) != taken:
                        return _END_OF_STREAM  # the file was cut since it was indexed
                done += taken
                self.position += taken
                piece_index += 1
        except OSError:
            return _END_OF_STREAM  # OpenJPEG then reports the codestream as damaged
        return done

    def _skip(self, count: int, _user_data: int) -> int:
        skipped = max(-self.position, min(count, self.length - self.position))
        self.position += skipped
        return skipped

    def _seek(self, position: int, _user_data: int) -> int:
        if not 0 <= position <= self.length:
            return 0
        self.position = position
        return 1

    def decode(self, reduction: int, area: Box) -> np.ndarray:
        """The samples (rows, columns, bands) at ``reduction`` of ``area`` (full-resolution
        reference grid). Given even for the whole image: without it, OpenJPEG 2.5 sizes a reduced
        image whose origin is not a multiple of 2^reduction a row or column too large."""
        stream = _library.opj_stream_create(STREAM_BUFFER_BYTES, 1)
        if not stream:
            raise MemoryError("OpenJPEG cannot make a stream")
        read, skip, seek = self.callbacks
        _library.opj_stream_set_read_function(stream, read)
        _library.opj_stream_set_skip_function(stream, skip)
        _library.opj_stream_set_seek_function(stream, seek)
        _library.opj_stream_set_user_data_length(stream, self.length)
        codec = openjp2.create_decompress(openjp2.CODEC_J2K)
        image = None
        try:
            # Failures are reported by the calls' results; OpenJPEG's own messages would go to stderr.
            for set_handler in (openjp2.set_error_handler, openjp2.set_warning_handler, openjp2.set_info_handler):
                set_handler(codec, None)
            parameters = openjp2.set_default_decoder_parameters()
            parameters.cp_reduce = reduction
            openjp2.setup_decoder(codec, parameters)
            image = openjp2.read_header(stream, codec)
            openjp2.set_decode_area(codec, image, area.x, area.y, area.right, area.bottom)
            openjp2.decode(codec, stream, image)
            decoded = image.contents
            first = decoded.comps[0]
            pixels = np.empty((first.h, first.w, decoded.numcomps), dtype=np.uint8)
            for band in range(decoded.numcomps):
                pixels[:, :, band] = np.ctypeslib.as_array(decoded.comps[band].data, shape=(first.h, first.w))
            return pixels
        finally:
            if image is not None:
                openjp2.image_destroy(image)
            openjp2.destroy_codec(codec)
            openjp2.stream_destroy(stream)


def decode_run(descriptor: int, index: CodestreamIndex, layout: Jpeg2000Layout, run: CodeTileRun, reduction: int,
               area: Box) -> CodeTile:
    """``area`` (pixels of the level at ``reduction``, inside the run) from the run's code-tiles only.

    They are handed to OpenJPEG as a codestream of their own whose image and tile grid start at the
    run's first code-tile (SIZ's XOsiz, YOsiz, XTOsiz, YTOsiz; A.5.1), so that each keeps its place
    on the reference grid, numbered from 0 in the order they lie in.
    """
    full = run.full_resolution_box(layout)
    siz = bytearray(index.siz)
    # After the marker, Lsiz and Rsiz: Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz.
    struct.pack_into(">8I", siz, 6, full.right, full.bottom, full.x, full.y, layout.tile_width, layout.tile_height,
                     full.x, full.y)
    pieces: list[bytes | tuple[int, int]] = [SOC + bytes(siz) + index.other_segments]
    tiles_across = math.ceil(layout.width / layout.tile_width)
    for number, column in enumerate(range(run.first_column, run.last_column + 1)):
        parts = index.tile_parts(run.row * tiles_across + column)
        if not parts:
            raise OSError(f"code-tile {run.row * tiles_across + column} has no tile-parts")
        for part_number, (offset, length) in enumerate(parts):
            pieces.append(struct.pack(">2sHHIBB", SOT, SOT_LENGTH - 2, number, length, part_number, len(parts)))
            pieces.append((offset + SOT_LENGTH, length - SOT_LENGTH))
    pieces.append(EOC)
    scale = 1 << reduction
    full_area = Box(area.x * scale, area.y * scale, min(area.right * scale, full.right) - area.x * scale,
                    min(area.bottom * scale, full.bottom) - area.y * scale)
    pixels = _VirtualCodestream(descriptor, pieces).decode(reduction, full_area)
    if pixels.shape[:2] != (area.height, area.width):
        raise OSError(f"OpenJPEG decoded {pixels.shape[1]} x {pixels.shape[0]} px of a {area.width} x {area.height} crop")
    return CodeTile(area.x, area.y, pixels)


class Jpeg2000Regions:
    """Per worker: the codestream indexes of the masters it reads (within ``index_bytes``), the
    code-tiles neighbouring crops share (within ``code_tile_bytes``), and a helper thread. No
    decoder outlives its request. Thread-safe."""

    def __init__(self, index_bytes: int, code_tile_bytes: int = 0) -> None:
        self.indexes: SizedLRU[CodestreamIndex] = SizedLRU(index_bytes, size_of=lambda index: index.nbytes)
        self.code_tiles = DecodedCodeTiles(code_tile_bytes)
        # OpenJPEG releases the GIL (ctypes), so the helper decodes on the other core.
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jpeg2000")

    def read(self, master: Master, path: str, layout: Jpeg2000Layout, reduction: int, crop: Box,
             deadline: Deadline) -> pyvips.Image:
        """The pixels of ``crop`` at ``reduction`` as an 8-bit sRGB (3 bands) or grey (1 band) image,
        from the master's file at ``path``. Stops between code-tile runs once ``deadline`` has passed."""
        key = (path, master.fingerprint.token)
        pixels = np.empty((crop.height, crop.width, layout.bands), dtype=np.uint8)
        runs = code_tile_runs(layout, crop, reduction)
        try:
            index = self.indexes.get(key)
            if index is None:
                index = read_codestream_index(path, layout, master.identifier)
                self.indexes.put(key, index)
            descriptor = os.open(path, os.O_RDONLY)
        except OSError as error:
            raise MasterUnreadable(f"image {master.identifier!r} could not be decoded", str(error)) from None
        try:
            code_tiles = sum(run.last_column - run.first_column + 1 for run in runs)
            if len(runs) > 1 and code_tiles >= SPLIT_FROM_CODE_TILES:
                # Both take the next run from one iterator (atomic under the GIL): when the machine
                # is loaded and one thread gets less of a core, the other takes more runs, where
                # fixed halves left the request waiting for the slower one.
                shared = iter(runs)
                second = self._helper.submit(self._decode, descriptor, index, key, layout, reduction, crop, pixels,
                                             shared, deadline)
                try:
                    self._decode(descriptor, index, key, layout, reduction, crop, pixels, shared, deadline)
                finally:
                    second.result()
            else:
                self._decode(descriptor, index, key, layout, reduction, crop, pixels, runs, deadline)
        except (openjp2.OpenJPEGLibraryError, OSError) as error:
            raise MasterUnreadable(f"image {master.identifier!r} could not be decoded", str(error)) from None
        finally:
            os.close(descriptor)
        deadline.check()
        image = pyvips.Image.new_from_memory(pixels.data, crop.width, crop.height, layout.bands, "uchar")
        return image.copy(interpretation="srgb" if layout.bands == 3 else "b-w")

    def _decode(self, descriptor: int, index: CodestreamIndex, key: tuple[str, str], layout: Jpeg2000Layout,
                reduction: int, crop: Box, pixels: np.ndarray, runs: Iterable[CodeTileRun], deadline: Deadline) -> None:
        tiles_across = math.ceil(layout.width / layout.tile_width)
        for run in runs:
            if deadline.expired:
                return
            box = run.box(layout, reduction)
            area = box.intersection(crop)
            if run.first_column == run.last_column and area != box:
                # Decoded whole, for the neighbouring crops that need the rest of it.
                tile_key = (*key, run.row * tiles_across + run.first_column, reduction)
                tile = self.code_tiles.get(
                    tile_key, lambda run=run, box=box: decode_run(descriptor, index, layout, run, reduction, box), deadline)
            else:
                tile = decode_run(descriptor, index, layout, run, reduction, area)
            tile.copy_into(pixels, crop)
