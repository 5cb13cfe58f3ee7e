"""The one place that asks a master about itself: pyvips for the header, tifffile for the TIFF
pyramid, the JPEG 2000 codestream markers for its resolution levels. Nothing here decodes pixels."""

from __future__ import annotations

import math
import struct
from typing import BinaryIO

import pyvips
import tifffile

from iiif_server.errors import MasterUnreadable, UnsupportedMaster, decoder_message
from iiif_server.info import ImageInfo, Jpeg2000Layout, Level, MasterKind
from iiif_server.loaders import SUPPORTED_FORMATS, needs_a_blocked_loader
from iiif_server.passthrough import holds_baseline_jpeg_tiles
from iiif_server.sources.base import ImageSource, Master

TIFF_SUFFIXES = (".tif", ".tiff")
JPEG2000_SUFFIXES = (".jp2", ".jpx", ".j2k")
JPEG_SUFFIXES = (".jpg", ".jpeg")
JPEG_SHRINKS = (2, 4, 8)
# Code-tiles up to this edge are decoded whole by the OpenJPEG reader for any request inside them.
LARGEST_DECODED_CODE_TILE = 1024
EIGHT_BIT_UNSIGNED = 7  # SIZ Ssiz: bit depth minus one, sign bit clear
JP2_COLOUR_SPACES = {3: 16, 1: 17}  # bands -> EnumCS: sRGB, greyscale
# libvips writes EnumCS 0; readers (libvips, OpenJPEG) then take 3 bands as sRGB and 1 as grey.
UNSPECIFIED_COLOUR_SPACE = 0


def probe(source: ImageSource, master: Master, tile_size: int) -> ImageInfo:
    """Read the header of ``master`` and describe the levels it can be read at.

    Raises MasterUnreadable when the file is not an image libvips can open: the caller turns
    that into an error for this master's requests only.
    """
    try:
        header = source.load_image(master)
        width, height = header.width, header.height
        has_alpha = bool(header.hasalpha())
    except pyvips.Error as error:
        if needs_a_blocked_loader(error):
            raise UnsupportedMaster(
                f"image {master.identifier!r} is not a supported master ({SUPPORTED_FORMATS})", decoder_message(error)
            ) from None
        raise MasterUnreadable(f"image {master.identifier!r} cannot be read", decoder_message(error)) from None
    if master.suffix in TIFF_SUFFIXES:
        with source.open_bytes(master) as stream:
            levels, stored_jpeg = _tiff_levels(stream, master.identifier)
        if len(levels) > 1 or levels[0].stored_tile is not None:
            stored = levels[0].stored_tile
            tile_width, tile_height = stored if stored else (tile_size, tile_size)
            return ImageInfo(
                width, height, MasterKind.PYRAMIDAL_TIFF, levels, tile_width, tile_height,
                _pyramid_scale_factors(width, height, levels), master.fingerprint, has_alpha,
                stored_jpeg_tiles=stored_jpeg,
            )
        kind = MasterKind.FLAT
        levels = (Level(width, height, None),)
    elif master.suffix in JPEG2000_SUFFIXES:
        with source.open_bytes(master) as stream:
            reductions, tile, layout = _jpeg2000_layout(stream, master.identifier)
        levels = tuple(
            Level(-(-width // 2**r), -(-height // 2**r), ("page", r) if r else None, tile)
            for r in range(reductions + 1)
        )
        # Requests on the codestream's own tile grid decode exactly one tile per resolution.
        tile_width, tile_height = tile or (tile_size, tile_size)
        return ImageInfo(
            width, height, MasterKind.JPEG2000, levels, tile_width, tile_height,
            _fitting_scale_factors(width, height, max(tile_width, tile_height)), master.fingerprint, has_alpha,
            jpeg2000_layout=layout,
        )
    elif master.suffix in JPEG_SUFFIXES:
        levels = (Level(width, height, None),) + tuple(
            Level(-(-width // s), -(-height // s), ("shrink", s)) for s in JPEG_SHRINKS
        )
        kind = MasterKind.JPEG
    else:
        kind = MasterKind.FLAT
        levels = (Level(width, height, None),)
    return ImageInfo(
        width, height, kind, levels, tile_size, tile_size,
        _fitting_scale_factors(width, height, tile_size), master.fingerprint, has_alpha,
    )


def _fitting_scale_factors(width: int, height: int, tile_size: int) -> tuple[int, ...]:
    """1, 2, 4 ... until the whole image fits in one tile: what a viewer needs to zoom out fully."""
    steps = max(0, math.ceil(math.log2(max(width, height) / tile_size)))
    return tuple(2**k for k in range(steps + 1))


def _pyramid_scale_factors(width: int, height: int, levels: tuple[Level, ...]) -> tuple[int, ...]:
    return tuple(round(width / level.width) for level in levels)


def _tiff_levels(stream: BinaryIO, identifier: str) -> tuple[tuple[Level, ...], bool]:
    """The full-resolution page and each further page (or SubIFD) that halves it, as a pyramid."""
    try:
        with tifffile.TiffFile(stream) as tiff:
            first = tiff.pages.first
            candidates: list[tuple[tuple[str, int] | None, object]] = [(None, first)]
            if first.subifds:
                candidates += [(("subifd", i), page) for i, page in enumerate(first.pages or ())]
            else:
                candidates += [(("page", i), page) for i, page in enumerate(tiff.pages) if i > 0]
            full_width, full_height = first.imagewidth, first.imagelength
            levels: list[Level] = []
            all_jpeg = True
            for option, page in candidates:
                page_width, page_height = page.imagewidth, page.imagelength
                factor = 2 ** len(levels)
                # Each level halves the previous one, rounded either way by the writer.
                if abs(page_width - full_width / factor) > 1 or abs(page_height - full_height / factor) > 1:
                    break
                tile = (page.tilewidth, page.tilelength) if page.is_tiled else None
                all_jpeg = all_jpeg and holds_baseline_jpeg_tiles(page)
                levels.append(Level(page_width, page_height, option, tile))
    except (tifffile.TiffFileError, ValueError, struct.error, IndexError) as error:
        raise MasterUnreadable(f"image {identifier!r} is not a readable TIFF", str(error)) from None
    tile_sizes = {level.stored_tile for level in levels}
    return tuple(levels), all_jpeg and len(tile_sizes) == 1


def _jpeg2000_layout(stream: BinaryIO, identifier: str) -> tuple[int, tuple[int, int] | None, Jpeg2000Layout | None]:
    """Number of wavelet decomposition levels (COD), the tile size (SIZ) of a JP2/J2K file, and
    its layout when the server's own OpenJPEG reader can decode it (see Jpeg2000Layout)."""
    head = stream.read(64 * 1024)
    start = head.find(b"\xff\x4f\xff\x51")  # SOC followed by SIZ opens every codestream
    if start < 0:
        raise MasterUnreadable(f"image {identifier!r} has no JPEG 2000 codestream")
    try:
        siz = start + 4
        (siz_length,) = struct.unpack(">H", head[siz : siz + 2])
        xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz = struct.unpack(">IIIIIIII", head[siz + 4 : siz + 36])
        (components,) = struct.unpack(">H", head[siz + 36 : siz + 38])
        component_formats = {tuple(head[siz + 38 + 3 * c : siz + 41 + 3 * c]) for c in range(components)}
        cod = head.find(b"\xff\x52", siz + siz_length)
        if cod < 0:
            raise MasterUnreadable(f"image {identifier!r} has no JPEG 2000 COD marker")
        reductions = head[cod + 2 + 2 + 1 + 4]  # marker length, Scod, SGcod(4), then SPcod's first byte
    except (struct.error, IndexError):
        raise MasterUnreadable(f"image {identifier!r} has a truncated JPEG 2000 header") from None
    tiled = xtsiz < xsiz - xosiz or ytsiz < ysiz - yosiz
    raw_codestream = start == 0  # a .j2k file: no JP2 boxes before the codestream
    simple = (
        tiled
        and max(xtsiz, ytsiz) <= LARGEST_DECODED_CODE_TILE
        and (xosiz, yosiz, xtosiz, ytosiz) == (0, 0, 0, 0)
        and components in (1, 3)
        and component_formats == {(EIGHT_BIT_UNSIGNED, 1, 1)}
        and (raw_codestream or _enumerated_colour_space(head[:start]) in (UNSPECIFIED_COLOUR_SPACE, JP2_COLOUR_SPACES[components]))
    )
    layout = Jpeg2000Layout(xsiz, ysiz, xtsiz, ytsiz, components, raw_codestream) if simple else None
    return reductions, ((xtsiz, ytsiz) if tiled else None), layout


def _enumerated_colour_space(jp2_header: bytes) -> int | None:
    """EnumCS of the JP2 colour box, or None when the colour comes from an ICC profile, a palette
    or is not stated."""
    if b"pclr" in jp2_header:
        return None
    colour = jp2_header.find(b"colr")
    if colour < 0 or len(jp2_header) < colour + 11 or jp2_header[colour + 4] != 1:  # METH 1: enumerated
        return None
    return struct.unpack(">I", jp2_header[colour + 7 : colour + 11])[0]
