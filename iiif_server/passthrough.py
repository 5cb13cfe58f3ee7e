"""Stored-tile passthrough: answer a tile request with the JPEG bytes a pyramidal TIFF already holds.

A JPEG-in-TIFF tile is an abbreviated stream (its quantisation and Huffman tables sit once per page
in the JPEGTables tag), so a tile becomes a standalone JPEG by splicing the tables in. No pixel is
decoded or re-encoded: the answer costs one read of about 20-40 KB.

The pipeline calls ``StoredTileReader.read_tile`` only when its plan says the request covers exactly
one stored tile; the reader still refuses (returns None) every tile it cannot hand out unchanged.
"""

from __future__ import annotations

import io
import struct
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import PIL.Image
from turbojpeg import TJCS_GRAY, TJCS_RGB, TJCS_YCbCr, TurboJPEG, tjMCUHeight, tjMCUWidth

from iiif_server.caches.lru import SizedLRU
from iiif_server.plan import Box
from iiif_server.sources.base import Master
from iiif_server.tiff_directory import LevelOption, TiffDirectory, TiffStructureError, read_directories

TIFF_COMPRESSION_JPEG = 7
PHOTOMETRIC_RGB = 2
START_OF_IMAGE = b"\xff\xd8"
END_OF_IMAGE = b"\xff\xd9"
# Without a marker naming the colour space, decoders guess from the component ids; say it outright.
# JFIF: the three components are YCbCr (or one grey component).
JFIF_APP0 = b"\xff\xe0" + struct.pack(">H5sBBBHHBB", 16, b"JFIF\0", 1, 1, 0, 1, 1, 0, 0)
# Adobe APP14 with transform 0: the three components are RGB, not to be converted.
ADOBE_APP14_RGB = b"\xff\xee" + struct.pack(">H5sHHHB", 14, b"Adobe", 100, 0, 0, 0)

# Stored tiles in these are cut; CMYK and YCCK ones are left to libvips.
_CUT_COLOUR_SPACES = frozenset({TJCS_RGB, TJCS_YCbCr, TJCS_GRAY})
_TURBOJPEG = TurboJPEG()  # Debian's libturbojpeg0; each call makes its own handle, so threads share it

StreamOpener = Callable[[Master], BinaryIO]


@dataclass(frozen=True)
class StoredTileLevel:
    """Where the tiles of one JPEG-compressed TIFF level are, and the header every tile shares."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    tiles_across: int
    offsets: array  # array('Q'), row-major, one per tile
    byte_counts: array  # array('Q'), 0 for a tile the writer never stored
    # SOI, colour marker and the page's tables: everything of a standalone JPEG before the tile's own
    # frame header.
    stream_head: bytes

    def has_tile(self, column: int, row: int) -> bool:
        return 0 <= column < self.tiles_across and 0 <= row and (row * self.tile_height < self.height)

    def covers_whole_tile(self, column: int, row: int) -> bool:
        """True when the stored tile lies entirely inside the level. Edge tiles are padded beyond the
        image in the file, and a JPEG cannot be narrowed without re-encoding its entropy-coded data."""
        return (
            0 <= column
            and 0 <= row
            and (column + 1) * self.tile_width <= self.width
            and (row + 1) * self.tile_height <= self.height
        )


# Counted per level besides its offset and byte-count arrays: the shared JPEG header and bookkeeping.
LEVEL_OVERHEAD_BYTES = 512


def index_bytes(levels: dict[LevelOption, StoredTileLevel | None]) -> int:
    """What a master's tile index holds in memory (16 bytes per stored tile, and each level's header)."""
    return sum(
        LEVEL_OVERHEAD_BYTES
        + (len(level.stream_head) + level.offsets.itemsize * len(level.offsets)
           + level.byte_counts.itemsize * len(level.byte_counts) if level is not None else 0)
        for level in levels.values()
    )


class StoredTileReader:
    """Reads stored tiles, keeping the tile indexes of the most recently used masters within
    ``max_index_bytes`` (18,000 tiles of a 40,000 px master's full resolution take 288 KB).

    Thread-safe (the index cache is a SizedLRU); a master missing from it is indexed outside
    the lock (two threads may both index it; the second result replaces the first, both are equal).
    The index of a master is keyed by its location and fingerprint, so a rewritten master is
    indexed again.
    """

    def __init__(self, max_index_bytes: int) -> None:
        self.max_index_bytes = max_index_bytes
        self._indexes: SizedLRU[dict[LevelOption, StoredTileLevel | None]] = SizedLRU(max_index_bytes, index_bytes)

    def read_tile(
        self, stream_opener: StreamOpener, master: Master, level_option: LevelOption, column: int, row: int,
        padded: bool = False,
    ) -> bytes | None:
        """The stored tile at ``column``, ``row`` of a level as a complete JPEG, or None when this
        level holds no JPEG tiles, the tile is off the grid, empty, or partly outside the image
        (stored padded: only with ``padded``, for a caller that cuts the image's part out of it)."""
        with stream_opener(master) as stream:
            level = self._level(stream, master, level_option)
            if level is None or not (level.has_tile(column, row) if padded else level.covers_whole_tile(column, row)):
                return None
            index = row * level.tiles_across + column
            byte_count = level.byte_counts[index]
            if byte_count == 0:
                return None
            stream.seek(level.offsets[index])
            tile = stream.read(byte_count)
        if len(tile) != byte_count or not tile.startswith(START_OF_IMAGE):
            return None
        return level.stream_head + tile[len(START_OF_IMAGE) :]

    def tile_ranges(
        self, stream_opener: StreamOpener, master: Master, level_option: LevelOption, box: tuple[int, int, int, int],
    ) -> list[tuple[int, int]]:
        """Byte ranges (start, end) of the stored JPEG tiles under ``box`` (x, y, width, height) of a
        level, for a source that reads them ahead all at once; empty when the level holds no JPEG tiles."""
        with stream_opener(master) as stream:
            level = self._level(stream, master, level_option)
        if level is None:
            return []
        x, y, width, height = box
        ranges = []
        for row in range(y // level.tile_height, (y + height - 1) // level.tile_height + 1):
            for column in range(x // level.tile_width, (x + width - 1) // level.tile_width + 1):
                index = row * level.tiles_across + column
                if 0 <= index < len(level.offsets) and level.byte_counts[index]:
                    ranges.append((level.offsets[index], level.offsets[index] + level.byte_counts[index]))
        return ranges

    def _level(self, stream: BinaryIO, master: Master, level_option: LevelOption) -> StoredTileLevel | None:
        key = (master.location, master.fingerprint.token)
        levels = self._indexes.get(key)
        if levels is None:
            levels = index_stored_tiles(stream)
            self._indexes.put(key, levels)  # one larger than the whole budget is used once, not kept
        return levels.get(level_option)


def index_stored_tiles(stream: BinaryIO) -> dict[LevelOption, StoredTileLevel | None]:
    """Every level of a TIFF by the loader option that opens it (None, ("page", n), ("subifd", n));
    None for a level whose tiles are not baseline 8-bit JPEG. A file whose directories cannot be
    read has no levels, and the request is rendered instead."""
    try:
        directories = read_directories(stream)
    except (TiffStructureError, struct.error, OSError):
        return {}
    return {option: _stored_tile_level(page) for option, page in directories.items()}


def holds_baseline_jpeg_tiles(page: TiffDirectory) -> bool:
    """The one test, shared with the probe, of a TIFF level whose tiles can be handed out as they are."""
    return (
        page.is_tiled
        and page.compression == TIFF_COMPRESSION_JPEG
        and page.bits_per_sample == 8
        and page.planar_config == 1
        and page.samples_per_pixel in (1, 3)
        and page.image_depth == 1
    )


def _stored_tile_level(page: TiffDirectory) -> StoredTileLevel | None:
    if not holds_baseline_jpeg_tiles(page):
        return None
    tables = page.jpeg_tables or b""
    if tables and not (tables.startswith(START_OF_IMAGE) and tables.endswith(END_OF_IMAGE)):
        return None
    tiles_across = -(-page.width // page.tile_width)
    tiles = tiles_across * -(-page.height // page.tile_height)
    if not len(page.data_offsets) == len(page.data_byte_counts) == tiles:
        return None  # a damaged index: libvips reads the level and reports what is wrong
    colour_marker = ADOBE_APP14_RGB if page.photometric == PHOTOMETRIC_RGB else JFIF_APP0
    return StoredTileLevel(
        width=page.width,
        height=page.height,
        tile_width=page.tile_width,
        tile_height=page.tile_height,
        tiles_across=tiles_across,
        offsets=page.data_offsets,
        byte_counts=page.data_byte_counts,
        stream_head=START_OF_IMAGE + colour_marker + tables[len(START_OF_IMAGE) : -len(END_OF_IMAGE)],
    )


def cut_stored_tile(tile: bytes, tile_size: tuple[int, int], part: Box, jpeg_quality: int,
                    scaled_to: tuple[int, int] | None = None) -> bytes | None:
    """``part`` of a stored tile (a complete JPEG from ``read_tile``), scaled to ``scaled_to`` if given;
    None when the tile is not the RGB or grey JPEG of ``tile_size`` its level says (the caller then
    renders with libvips, whose limits apply: a tile's own header is not trusted to size what is
    decoded).

    A part that starts on the tile's grid of JPEG blocks (every edge tile of a level: its image part
    starts at the tile's corner) is cropped losslessly by libjpeg-turbo: the stored blocks, not
    decoded and not encoded again, so it has the stored tile's quality, as a whole stored tile has.
    Any other part is decoded, cut, scaled by a pixel if asked (bicubic, as the renderer's cubic
    kernel) and encoded as the renderer would (``jpeg_quality``, chroma subsampled below 90).

    Not libvips: decoding one 256 px JPEG costs 2.3-2.9 ms of CPU through libvips 8.14's pipeline
    (0.5 ms for a 256 px black image alone), about 0.9 ms through Pillow, and a lossless crop of
    it about 0.6 ms (one run, 2026-12-01 11:50 UTC). A viewer's edge tiles are 4 % of the benchmark
    sessions' tiles, and with Pillow they were the slowest 2-4 % of its answers.
    """
    try:
        width, height, subsampling, colour_space = _TURBOJPEG.decode_header(tile)
    except OSError:
        return None
    if (width, height) != tile_size or colour_space not in _CUT_COLOUR_SPACES:
        return None
    if scaled_to is None and part.x % tjMCUWidth[subsampling] == 0 and part.y % tjMCUHeight[subsampling] == 0:
        return _cropped_losslessly(tile, part)
    try:
        with PIL.Image.open(io.BytesIO(tile)) as image:
            cut = image.crop((part.x, part.y, part.right, part.bottom))
            if scaled_to is not None:
                cut = cut.resize(scaled_to, PIL.Image.Resampling.BICUBIC)
    except (OSError, SyntaxError, ValueError):  # Pillow's ways of saying the data is damaged
        return None  # libvips renders it, and reports the damage as the master's
    out = io.BytesIO()
    cut.save(out, "JPEG", quality=jpeg_quality, subsampling=0 if jpeg_quality >= 90 else 2)
    return out.getvalue()


def _cropped_losslessly(tile: bytes, part: Box) -> bytes | None:
    # libjpeg-turbo reports data that ends early only as a warning, and fills the rest with grey: a
    # tile that does not end where a JPEG ends is left to libvips, as Pillow left a truncated one.
    if not tile.endswith(END_OF_IMAGE):
        return None
    try:
        cropped = _TURBOJPEG.crop(tile, part.x, part.y, part.width, part.height)
        size = _TURBOJPEG.decode_header(cropped)[:2]
    except OSError:
        return None
    # The wrapper narrows a crop that reaches into a tile's last partial block row or column.
    return cropped if size == (part.width, part.height) else None
