"""The one place that asks a master about itself: pyvips for the header, the TIFF directories for its
pyramid (tiff_directory.py), the JPEG 2000 codestream markers for its resolution levels. Nothing here decodes pixels."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import pyvips

from iiif_server.colour import profile_to_convert
from iiif_server.errors import MasterUnreadable, UnsupportedMaster, decoder_message
from iiif_server.info import ImageInfo, Jpeg2000Layout, Level, MasterKind
from iiif_server.loaders import SUPPORTED_FORMATS, needs_a_blocked_loader
from iiif_server.passthrough import holds_baseline_jpeg_tiles
from iiif_server.sources.base import ImageSource, Master
from iiif_server.tiff_directory import LevelOption, TiffDirectory, TiffStructureError, read_directories

TIFF_SUFFIXES = (".tif", ".tiff")
JPEG2000_SUFFIXES = (".jp2", ".jpx", ".j2k")
JPEG_SUFFIXES = (".jpg", ".jpeg")
JPEG_SHRINKS = (2, 4, 8)
# Code-tiles up to this edge are decoded whole by the OpenJPEG reader for any request inside them.
LARGEST_DECODED_CODE_TILE = 1024
EIGHT_BIT_UNSIGNED = 7  # SIZ Ssiz: bit depth minus one, sign bit clear
# TIFF Photometric -> libvips' interpretation and the colour samples (TIFF 6.0 sections 4, 6, 21).
_YCBCR, _JPEG = 6, 7
_PLAIN_PHOTOMETRICS = {1: ("b-w", 1), 2: ("srgb", 3), _YCBCR: ("srgb", 3)}
# None, LZW, JPEG, Deflate (Adobe's and the old code): libtiff always has them.
_PLAIN_COMPRESSIONS = frozenset({1, 5, _JPEG, 8, 32946})
MAX_CODE_TILES = 65_535  # SOT's Isot numbers tiles 0-65534 (A.4.2)
JP2_COLOUR_SPACES = {3: 16, 1: 17}  # bands -> EnumCS: sRGB, greyscale
# libvips writes EnumCS 0; readers (libvips, OpenJPEG) then take 3 bands as sRGB and 1 as grey.
UNSPECIFIED_COLOUR_SPACE = 0
CODESTREAM_START = b"\xff\x4f\xff\x51"  # SOC followed by SIZ: a bare codestream (.j2k)
SOC, SIZ, COD, SOT, SOD, EOC = b"\xff\x4f", b"\xff\x51", b"\xff\x52", b"\xff\x90", b"\xff\x93", b"\xff\xd9"
PPM = b"\xff\x60"  # packed packet headers of every tile in the main header (A.7.4)
# Bounds on what a hostile header can make the probe read: boxes walked, JP2 header bytes kept
# (its ICC profile included), marker segments and their bytes kept before the first tile.
MAX_JP2_BOXES = 1024
MAX_JP2_HEADER_BYTES = 16 * 1024 * 1024
MAX_MAIN_HEADER_SEGMENTS = 4096
MAX_MAIN_HEADER_BYTES = 16 * 1024 * 1024
# METH of a JP2 colour specification box (I.5.3.3): an EnumCS, or an ICC profile (restricted, or any
# as JPX allows).
ENUMERATED_COLOUR, RESTRICTED_ICC, ANY_ICC = 1, b"\x02", b"\x03"


@dataclass(frozen=True)
class _Header:
    """What the probe needs of a master's header, from libvips, a TIFF's first directory or a JPEG
    2000 main header."""

    width: int
    height: int
    bands: int
    has_alpha: bool
    interpretation: str
    icc_profile: bytes | None


def probe(source: ImageSource, master: Master, tile_size: int) -> ImageInfo:
    """Read the header of ``master`` and describe the levels it can be read at.

    Raises MasterUnreadable when the file is not an image libvips can open: the caller turns
    that into an error for this master's requests only.
    """
    if master.suffix in TIFF_SUFFIXES:
        with source.open_bytes(master) as stream:
            try:
                directories = read_directories(stream, with_tile_index=False)
            except (TiffStructureError, struct.error, OSError) as error:
                _libvips_header(source, master)  # a file libvips cannot open fails as such
                raise MasterUnreadable(f"image {master.identifier!r} is not a readable TIFF", str(error)) from None
        header = _plain_tiff_header(directories[None]) or _libvips_header(source, master)
    elif master.suffix in JPEG2000_SUFFIXES:
        with source.open_bytes(master) as stream:
            try:
                codestream = _jpeg2000_codestream(stream, master.identifier)
            except MasterUnreadable:
                _libvips_header(source, master)  # a file libvips cannot open fails as such
                raise
        header = codestream.header or _libvips_header(source, master)
    else:
        header = _libvips_header(source, master)
    width, height, has_alpha = header.width, header.height, header.has_alpha
    colour_bands = header.bands - (1 if has_alpha else 0)
    colour_profile = profile_to_convert(header.icc_profile, colour_bands, header.interpretation)
    if master.suffix in TIFF_SUFFIXES:
        levels, stored_jpeg = _tiff_levels(directories)
        if len(levels) > 1 or levels[0].stored_tile is not None:
            stored = levels[0].stored_tile
            tile_width, tile_height = stored if stored else (tile_size, tile_size)
            return ImageInfo(
                width, height, MasterKind.PYRAMIDAL_TIFF, levels, tile_width, tile_height,
                _pyramid_scale_factors(width, height, levels), master.fingerprint, has_alpha,
                # Stored tiles hold the master's own colours: handed out as they are, they would show
                # wrong in every browser. Such masters are rendered (and converted) instead.
                stored_jpeg_tiles=stored_jpeg and colour_profile is None,
                colour_profile=colour_profile,
            )
        kind = MasterKind.FLAT
        levels = (Level(width, height, None),)
    elif master.suffix in JPEG2000_SUFFIXES:
        tile = codestream.tile
        levels = tuple(
            Level(-(-width // 2**r), -(-height // 2**r), ("page", r) if r else None, tile)
            for r in range(codestream.reductions + 1)
        )
        # Requests on the codestream's own tile grid decode exactly one tile per resolution.
        tile_width, tile_height = tile or (tile_size, tile_size)
        return ImageInfo(
            width, height, MasterKind.JPEG2000, levels, tile_width, tile_height,
            fitting_scale_factors(width, height, max(tile_width, tile_height)), master.fingerprint, has_alpha,
            jpeg2000_layout=codestream.layout,
            # libvips 8.14 does not read the JP2 colour box's ICC profile: the probe does.
            colour_profile=profile_to_convert(codestream.icc_profile, colour_bands, header.interpretation),
        )
    elif master.suffix in JPEG_SUFFIXES:
        # libvips' jpegload rounds a shrunk side down (300 px at shrink 8 opens 37 px high, not 38): a
        # level promising the rounded-up side made the crop of a 1 px request fall outside it.
        levels = (Level(width, height, None),) + tuple(
            Level(width // s, height // s, ("shrink", s)) for s in JPEG_SHRINKS
        )
        kind = MasterKind.JPEG
    else:
        kind = MasterKind.FLAT
        levels = (Level(width, height, None),)
    return ImageInfo(
        width, height, kind, levels, tile_size, tile_size,
        fitting_scale_factors(width, height, tile_size), master.fingerprint, has_alpha,
        colour_profile=colour_profile,
    )


def fitting_scale_factors(width: int, height: int, tile_size: int) -> tuple[int, ...]:
    """1, 2, 4 ... until the whole image fits in one tile: what a viewer needs to zoom out fully."""
    steps = max(0, math.ceil(math.log2(max(width, height) / tile_size)))
    return tuple(2**k for k in range(steps + 1))


def _pyramid_scale_factors(width: int, height: int, levels: tuple[Level, ...]) -> tuple[int, ...]:
    return tuple(round(width / level.width) for level in levels)


def _tiff_levels(directories: dict[LevelOption, TiffDirectory]) -> tuple[tuple[Level, ...], bool]:
    """The full-resolution page and each further page (or SubIFD) that halves it, as a pyramid."""
    first = directories[None]
    nested = "subifd" if first.sub_ifds else "page"
    levels: list[Level] = []
    all_jpeg = True
    for option, page in directories.items():
        if option is not None and option[0] != nested:
            continue
        factor = 1 << len(levels)
        # Each level halves the previous one, rounded either way by the writer.
        if abs(page.width - first.width / factor) > 1 or abs(page.height - first.height / factor) > 1:
            break
        tile = (page.tile_width, page.tile_height) if page.is_tiled else None
        all_jpeg = all_jpeg and holds_baseline_jpeg_tiles(page)
        levels.append(Level(page.width, page.height, option, tile))
    return tuple(levels), all_jpeg and len({level.stored_tile for level in levels}) == 1


def _libvips_header(source: ImageSource, master: Master) -> _Header:
    try:
        image = source.load_image(master)
        profile = image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else None
        return _Header(image.width, image.height, image.bands, bool(image.hasalpha()), image.interpretation,
                       profile)
    except pyvips.Error as error:
        if needs_a_blocked_loader(error):
            raise UnsupportedMaster(
                f"image {master.identifier!r} is not a supported master ({SUPPORTED_FORMATS})", decoder_message(error)
            ) from None
        raise MasterUnreadable(f"image {master.identifier!r} cannot be read", decoder_message(error)) from None


def _plain_tiff_header(page: TiffDirectory) -> _Header | None:
    """The header libvips would give, read from the first directory, for the TIFFs scans are: 8-bit
    grey or RGB (JPEG's YCbCr included), alone or with one alpha sample, in a compression libvips
    always reads. None for anything else, which libvips describes.

    libvips' header of a TIFF costs about 1 ms of CPU on the 40k master: libtiff reads the whole
    first directory, with its 18,000 tile offsets and byte counts, which the probe does not need.
    """
    photometric = _PLAIN_PHOTOMETRICS.get(page.photometric)
    colour_samples = page.samples_per_pixel - page.extra_samples
    plain = (photometric is not None and page.bits_per_sample == 8 and page.planar_config == 1
             and page.image_depth == 1 and page.extra_samples <= 1
             and colour_samples == photometric[1] and page.compression in _PLAIN_COMPRESSIONS
             and (page.photometric != _YCBCR or page.compression == _JPEG))
    if not plain:
        return None
    # libvips' hasalpha(): 2 bands of grey, or 4 of anything but CMYK.
    return _Header(page.width, page.height, page.samples_per_pixel, page.samples_per_pixel in (2, 4),
                   photometric[0], page.icc_profile)


class Jpeg2000Codestream(NamedTuple):
    """What the probe reads of a JP2 or J2K file's boxes and main header."""

    reductions: int  # wavelet decomposition levels (COD)
    tile: tuple[int, int] | None  # the code-tile size (SIZ); None when untiled
    layout: Jpeg2000Layout | None  # when the server's own OpenJPEG reader can decode it
    icc_profile: bytes | None  # of the JP2 header's colour box
    # The header libvips would give, for 8-bit grey or colour with no subsampling; None: libvips says.
    # libvips' own costs 14 ms of CPU on the 16k JP2 and 60 ms on the 40k (OpenJPEG sets up coding
    # parameters for every code-tile when it reads the main header), 2.8 ms on an untiled 8k.
    header: _Header | None


@dataclass(frozen=True)
class MainHeader:
    """A JPEG 2000 codestream's main header (ISO 15444-1 A.4-A.6): its marker segments in order, each
    whole (marker, length and content), and where in the file the first tile-part starts."""

    segments: tuple[bytes, ...]
    first_tile_part: int

    def segment(self, marker: bytes) -> bytes | None:
        """The content (after the length field) of the first segment with ``marker``."""
        return next((segment[4:] for segment in self.segments if segment[:2] == marker), None)


def read_main_header(stream: BinaryIO, identifier: str) -> MainHeader:
    """The main header of a JP2 or J2K file; MasterUnreadable if it is not well formed."""
    try:
        codestream_offset, _, _ = _jp2_boxes(stream)
        return _main_header(stream, codestream_offset)
    except _HeaderError as error:
        raise MasterUnreadable(f"image {identifier!r} has no readable JPEG 2000 header", str(error)) from None


def _jpeg2000_codestream(stream: BinaryIO, identifier: str) -> Jpeg2000Codestream:
    """The levels, tiles and colour of a JP2/J2K file, and whether the server's own OpenJPEG reader
    can decode it (see Jpeg2000Layout)."""
    try:
        codestream_offset, colour_space, icc_profile = _jp2_boxes(stream)
        header = _main_header(stream, codestream_offset)
        siz, cod = header.segment(SIZ), header.segment(COD)
        xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz = struct.unpack(">IIIIIIII", siz[2:34])
        (components,) = struct.unpack(">H", siz[34:36])
        component_formats = {tuple(siz[36 + 3 * c : 39 + 3 * c]) for c in range(components)}
        reductions = cod[5]  # Scod, SGcod (4 bytes), then SPcod's first byte: decomposition levels
    except (_HeaderError, struct.error, IndexError) as error:
        raise MasterUnreadable(f"image {identifier!r} has no readable JPEG 2000 header", str(error)) from None
    tiled = xtsiz < xsiz - xosiz or ytsiz < ysiz - yosiz
    raw_codestream = codestream_offset == 0  # a .j2k file: no JP2 boxes, so no colour box either
    plain = (
        (xosiz, yosiz) == (0, 0)
        and components in (1, 3)
        and component_formats == {(EIGHT_BIT_UNSIGNED, 1, 1)}
        # An ICC profile is fine too: the renderer converts the decoded pixels from it. A palette
        # (no EnumCS, no profile) makes more bands than components.
        and (raw_codestream or icc_profile is not None
             or colour_space in (UNSPECIFIED_COLOUR_SPACE, JP2_COLOUR_SPACES[components]))
    )
    simple = (
        plain
        and tiled
        and 0 < min(xtsiz, ytsiz) and max(xtsiz, ytsiz) <= LARGEST_DECODED_CODE_TILE
        and math.ceil(xsiz / xtsiz) * math.ceil(ysiz / ytsiz) <= MAX_CODE_TILES
        and (xtosiz, ytosiz) == (0, 0)
        # The reader hands OpenJPEG a code-tile's own tile-parts: its packet headers must be there.
        and header.segment(PPM) is None
    )
    # libvips 8.14 never reads a JP2 colour box's profile (the probe takes it from the box) and has
    # no alpha for 1 or 3 bands.
    plain_header = _Header(xsiz, ysiz, components, False, "srgb" if components == 3 else "b-w", None) if plain else None
    return Jpeg2000Codestream(reductions, (xtsiz, ytsiz) if tiled else None,
                              Jpeg2000Layout(xsiz, ysiz, xtsiz, ytsiz, components) if simple else None,
                              icc_profile, plain_header)


class _HeaderError(ValueError):
    """A JP2 box or codestream marker segment that cannot be what it claims."""


def _jp2_boxes(stream: BinaryIO) -> tuple[int, int | None, bytes | None]:
    """Where the codestream starts, the EnumCS of the JP2 header's colour box (None when the
    colour comes from an ICC profile or a palette, or is not stated; ISO 15444-1 annex I), and the
    box's ICC profile if it gives one.

    Boxes are walked by their lengths: XML, UUID or ICC boxes of any size before the codestream are
    skipped, never searched, so no byte inside them is taken for a marker.
    """
    head = stream.read(len(CODESTREAM_START))
    if head == CODESTREAM_START:
        return 0, None, None
    offset, colour_space, icc_profile = 0, None, None
    for _ in range(MAX_JP2_BOXES):
        stream.seek(offset)
        box_length, box_type, header_length = _box_header(stream)
        if box_type == b"jp2c":
            return offset + header_length, colour_space, icc_profile
        if box_type == b"jp2h":
            jp2_header = stream.read(min(box_length - header_length, MAX_JP2_HEADER_BYTES))
            colour_space, icc_profile = _header_colour(jp2_header)
        if box_length == 0:  # the last box runs to the end of the file
            break
        offset += box_length
    raise _HeaderError("no JPEG 2000 codestream")


def _box_header(stream: BinaryIO) -> tuple[int, bytes, int]:
    """(length including the header, 0 for "to the end of the file"; type; header length)."""
    length, box_type = struct.unpack(">I4s", _read_exactly(stream, 8))
    if length == 1:
        (length,) = struct.unpack(">Q", _read_exactly(stream, 8))
        if length < 16:
            raise _HeaderError("box shorter than its header")
        return length, box_type, 16
    if 0 < length < 8:
        raise _HeaderError("box shorter than its header")
    return length, box_type, 8


def _header_colour(jp2_header: bytes) -> tuple[int | None, bytes | None]:
    """(EnumCS, ICC profile) of the first colour specification box of a JP2 header box, which is
    the one readers use (ISO 15444-1 I.5.3.3); (None, None) for palette images."""
    offset = 0
    colour_space, icc_profile = None, None
    found_colour = False
    while offset + 8 <= len(jp2_header):
        length, box_type = struct.unpack(">I4s", jp2_header[offset : offset + 8])
        body = jp2_header[offset + 8 : offset + length] if length >= 8 else jp2_header[offset + 8 :]
        if box_type == b"pclr":
            return None, None
        if box_type == b"colr" and not found_colour:
            found_colour = True
            if len(body) >= 7 and body[0] == ENUMERATED_COLOUR:
                (colour_space,) = struct.unpack(">I", body[3:7])
            elif body[:1] in (RESTRICTED_ICC, ANY_ICC):
                icc_profile = body[3:]
        if length < 8:
            break
        offset += length
    return colour_space, icc_profile


def _main_header(stream: BinaryIO, offset: int) -> MainHeader:
    """The marker segments from SOC to the first tile-part (ISO 15444-1 A.4-A.6), read marker by
    marker, each by its own length."""
    stream.seek(offset)
    if _read_exactly(stream, 2) != SOC:
        raise _HeaderError("no JPEG 2000 codestream")
    segments: list[bytes] = []
    position = offset + 2
    for _ in range(MAX_MAIN_HEADER_SEGMENTS):
        marker = _read_exactly(stream, 2)
        if marker in (SOT, SOD, EOC):
            break
        if marker[0] != 0xFF:
            raise _HeaderError("a marker segment does not start with 0xFF")
        length_field = _read_exactly(stream, 2)
        (length,) = struct.unpack(">H", length_field)
        if length < 2:
            raise _HeaderError("marker segment shorter than its length field")
        position += 2 + length
        if position - offset > MAX_MAIN_HEADER_BYTES:
            raise _HeaderError("the main header is larger than any this server reads")
        segments.append(marker + length_field + _read_exactly(stream, length - 2))
        if segments[0][:2] != SIZ:  # SIZ must follow SOC (A.5.1)
            raise _HeaderError("the codestream does not start with SIZ")
    header = MainHeader(tuple(segments), position)
    if header.segment(SIZ) is None or header.segment(COD) is None:
        raise _HeaderError("the main header has no COD marker")
    return header


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise _HeaderError("the file ends inside a JPEG 2000 header")
    return data
