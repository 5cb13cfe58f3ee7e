"""The image file directories (IFDs) of a TIFF, as the probe and the stored-tile passthrough need them.

Only the tags that say what a level is and where its tiles are: reading them costs a few reads of
the header bytes. tifffile parses every tag of every page into Python objects (about 1 ms a page):
on the benchmark's 16k and 40k masters, 4–6 ms of CPU per master, where iipsrv's libtiff takes
under 1 ms. That is the whole price of an info.json for an image no worker has seen yet, and an
archive's viewers open thousands of those (bench/run.py's distinct info.json pass). Classic TIFF
and BigTIFF, either byte order (TIFF 6.0 section 2; BigTIFF as libtiff writes it).
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import BinaryIO, NamedTuple

LevelOption = tuple[str, int] | None

# Tags read (TIFF 6.0 appendix A; ImageDepth is SGI's, which tifffile honours too).
IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION, PHOTOMETRIC = 256, 257, 258, 259, 262
STRIP_OFFSETS, SAMPLES_PER_PIXEL, STRIP_BYTE_COUNTS, PLANAR_CONFIG = 273, 277, 279, 284
TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS, SUB_IFDS, JPEG_TABLES = 322, 323, 324, 325, 330, 347
EXTRA_SAMPLES, ICC_PROFILE, IMAGE_DEPTH = 338, 34675, 32997
_WANTED = frozenset({IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION, PHOTOMETRIC, STRIP_OFFSETS,
                     SAMPLES_PER_PIXEL, STRIP_BYTE_COUNTS, PLANAR_CONFIG, TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS,
                     TILE_BYTE_COUNTS, SUB_IFDS, JPEG_TABLES, EXTRA_SAMPLES, ICC_PROFILE, IMAGE_DEPTH})
# What a tile is read with (passthrough only): where each tile lies and the JPEG tables they share.
_TILE_INDEX_TAGS = frozenset({STRIP_OFFSETS, STRIP_BYTE_COUNTS, TILE_OFFSETS, TILE_BYTE_COUNTS, JPEG_TABLES})
# Tags of one number each: kept as that number (the first, should a writer give more).
_NUMBER_TAGS = frozenset({IMAGE_WIDTH, IMAGE_LENGTH, COMPRESSION, PHOTOMETRIC, SAMPLES_PER_PIXEL, PLANAR_CONFIG,
                          TILE_WIDTH, TILE_LENGTH, IMAGE_DEPTH})
# Read for the probe's description of the first page only, never needed to find a tile.
_DESCRIPTIVE_TAGS = frozenset({EXTRA_SAMPLES, ICC_PROFILE})
# The tags read, by (with_tile_index, describe).
_READ_TAGS = {(index, describe): _WANTED - (frozenset() if index else _TILE_INDEX_TAGS)
              - (frozenset() if describe else _DESCRIPTIVE_TAGS)
              for index in (False, True) for describe in (False, True)}
# Field type -> (struct code, size): BYTE, ASCII, SHORT, LONG, UNDEFINED, IFD, LONG8, IFD8.
_TYPES = {1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 7: ("B", 1), 13: ("I", 4), 16: ("Q", 8), 18: ("Q", 8)}
# Bounds a hostile or damaged file cannot push past: pages in a chain, entries in a directory,
# values in one field (a 2^24-tile level is 4 billion pixels on a side at 256 px tiles).
MAX_PAGES = 256
MAX_ENTRIES = 4096
MAX_VALUES = 1 << 24
# Entries read with a directory's count, in one read: more than scanners and libvips write (12-20).
FIRST_READ_ENTRIES = 32


class TiffStructureError(ValueError):
    """The file is not a TIFF whose directories can be read."""


class TiffDirectory(NamedTuple):
    """One page (or SubIFD) of a TIFF: its size, how its pixels are stored, and where. A named tuple:
    a probe builds one per pyramid level, for every identifier it has not seen, and a frozen
    dataclass takes three times as long to build."""

    width: int
    height: int
    tile_width: int  # 0 for a page stored in strips
    tile_height: int
    compression: int
    photometric: int | None
    bits_per_sample: int
    samples_per_pixel: int
    planar_config: int
    image_depth: int
    jpeg_tables: bytes | None
    extra_samples: int  # samples beyond the colour ones (alpha, or unspecified); first page only
    icc_profile: bytes | None  # first page only
    data_offsets: array  # array('Q'): of its tiles (or strips), row-major; empty unless asked for
    data_byte_counts: array
    sub_ifds: tuple[int, ...]

    @property
    def is_tiled(self) -> bool:
        return self.tile_width > 0 and self.tile_height > 0


def read_directories(stream: BinaryIO, with_tile_index: bool = True) -> dict[LevelOption, TiffDirectory]:
    """Every page by the libvips loader option that opens it: None for the first, ("page", n) for
    the n-th of the chain, ("subifd", n) for the first page's SubIFDs. ``with_tile_index``: also read
    the offsets and byte counts of every tile and the JPEG tables they share. TiffStructureError when
    the file is not a TIFF or a directory is damaged."""
    reader = _Reader(stream)
    directories: dict[LevelOption, TiffDirectory] = {}
    seen: set[int] = set()
    offset = reader.first_ifd
    while offset and len(directories) < MAX_PAGES:
        if offset in seen:
            raise TiffStructureError(f"the directory at {offset} is linked twice")
        seen.add(offset)
        # Only the first page's description (alpha, ICC profile) is asked for; pyramid pages often
        # repeat the profile, which would be read once a page for nothing.
        directory, offset = reader.directory(offset, with_tile_index, describe=not directories)
        directories[("page", len(directories)) if directories else None] = directory
    if None not in directories:
        raise TiffStructureError("the TIFF has no image directory")
    for n, sub_offset in enumerate(directories[None].sub_ifds[:MAX_PAGES]):
        directories[("subifd", n)] = reader.directory(sub_offset, with_tile_index, describe=False)[0]
    return directories


class _Layout(NamedTuple):
    """The structs of one TIFF flavour (classic or BigTIFF) in one byte order."""

    count: struct.Struct  # a directory's entry count
    entry: struct.Struct  # tag, field type, value count, and the value field (values or their offset) as a number
    pointer: struct.Struct  # the next directory's offset, or the value field
    # SHORT and LONG: most entries hold one, in place: (shift, mask) take it out of the value field.
    single: dict[int, tuple[int, int]]
    swap: bool  # numbers arrays must be byte-swapped to this machine's order
    first_read: int  # bytes read for a directory at first: its count, FIRST_READ_ENTRIES, the pointer


def _layout(order: str, big: bool) -> _Layout:
    count, entry, pointer = (struct.Struct(order + code) for code in (("Q", "HHQQ", "Q") if big else ("H", "HHII", "I")))
    field_bits = 8 * pointer.size
    # A value in place fills the field from its first byte: the low bits of a little-endian field,
    # the high ones of a big-endian one.
    single = {field_type: (0 if order == "<" else field_bits - bits, (1 << bits) - 1)
              for field_type, bits in ((3, 16), (4, 32))}
    return _Layout(count, entry, pointer, single, (order == "<") != (sys.byteorder == "little"),
                   count.size + FIRST_READ_ENTRIES * entry.size + pointer.size)


# Built once: a probe reads the directories of every master it has not seen.
_LAYOUTS = {(order, big): _layout(order, big) for order in "<>" for big in (False, True)}


class _Reader:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        head = self._read(0, 16, "header")
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None:
            raise TiffStructureError("not a TIFF (no byte-order mark)")
        version = struct.unpack(f"{order}H", head[2:4])[0]
        if version == 42:
            big, self.first_ifd = False, struct.unpack(f"{order}I", head[4:8])[0]
        elif version == 43 and struct.unpack(f"{order}HH", head[4:8]) == (8, 0):
            big, self.first_ifd = True, struct.unpack(f"{order}Q", head[8:16])[0]
        else:
            raise TiffStructureError(f"not a TIFF (version {version})")
        self.layout = _LAYOUTS[order, big]

    def _read(self, offset: int, size: int, what: str) -> bytes:
        self.stream.seek(offset)
        data = self.stream.read(size)
        if len(data) != size:
            raise TiffStructureError(f"the file ends inside the {what} at {offset}")
        return data

    def directory(self, offset: int, with_tile_index: bool, describe: bool) -> tuple[TiffDirectory, int]:
        """The directory at ``offset`` and the offset of the next one (0: the last)."""
        layout = self.layout
        # A directory longer than the first read is read again, whole.
        self.stream.seek(offset)
        data = self.stream.read(layout.first_read)
        if len(data) < layout.count.size:
            raise TiffStructureError(f"the file ends inside the directory at {offset}")
        count = layout.count.unpack_from(data)[0]
        if count > MAX_ENTRIES:
            raise TiffStructureError(f"the directory at {offset} claims {count} entries")
        entries_end = layout.count.size + count * layout.entry.size
        if len(data) < entries_end + layout.pointer.size:
            data = self._read(offset, entries_end + layout.pointer.size, "directory")
        read_tags, single = _READ_TAGS[with_tile_index, describe], layout.single
        values: dict[int, int | bytes | array | tuple[int]] = {}
        for tag, field_type, value_count, field in layout.entry.iter_unpack(
                memoryview(data)[layout.count.size:entries_end]):
            if tag not in read_tags:
                continue
            if value_count == 1 and field_type in single:
                shift, mask = single[field_type]
                number = (field >> shift) & mask
                values[tag] = number if tag in _NUMBER_TAGS else (number,)
                continue
            if tag in _DESCRIPTIVE_TAGS and field_type not in _TYPES:
                continue  # in an odd field type, the probe asks libvips instead
            found = self._values(tag, field_type, value_count, field)
            if tag not in _NUMBER_TAGS:
                values[tag] = found
            elif found:  # a number tag with no value counts as absent
                values[tag] = int(found[0])
        next_offset = layout.pointer.unpack_from(data, entries_end)[0]
        return _directory(values, offset), next_offset

    def _values(self, tag: int, field_type: int, count: int, field: int) -> bytes | array:
        """A field's values: bytes as they are (JPEGTables), numbers as an array in this machine's order;
        ``field``: the entry's value field, the values themselves when they fit, else their offset."""
        kind = _TYPES.get(field_type)
        if kind is None:
            raise TiffStructureError(f"tag {tag} has field type {field_type}")
        if count > MAX_VALUES:
            raise TiffStructureError(f"tag {tag} claims {count} values")
        code, size = kind
        length = count * size
        if length <= self.layout.pointer.size:
            data = self.layout.pointer.pack(field)[:length]
        else:
            data = self._read(field, length, f"values of tag {tag}")
        if code == "B":
            return data
        numbers = array(code, data)
        if self.layout.swap:
            numbers.byteswap()
        return numbers


def _directory(values: dict[int, int | bytes | array | tuple[int]], offset: int) -> TiffDirectory:
    get = values.get
    width, height = get(IMAGE_WIDTH), get(IMAGE_LENGTH)
    if width is None or height is None:
        raise TiffStructureError(f"the directory at {offset} has no tag {IMAGE_WIDTH if width is None else IMAGE_LENGTH}")
    tiled = TILE_WIDTH in values
    tables, profile = get(JPEG_TABLES), get(ICC_PROFILE)
    return TiffDirectory(
        width, height, get(TILE_WIDTH, 0), get(TILE_LENGTH, 0), get(COMPRESSION, 1), get(PHOTOMETRIC),
        _same_for_every_sample(get(BITS_PER_SAMPLE, b"\x01")), get(SAMPLES_PER_PIXEL, 1), get(PLANAR_CONFIG, 1),
        get(IMAGE_DEPTH, 1),
        jpeg_tables=tables if isinstance(tables, bytes) and tables else None,
        extra_samples=len(get(EXTRA_SAMPLES, ())),
        icc_profile=profile if isinstance(profile, bytes) and profile else None,
        data_offsets=array("Q", get(TILE_OFFSETS if tiled else STRIP_OFFSETS, ())),
        data_byte_counts=array("Q", get(TILE_BYTE_COUNTS if tiled else STRIP_BYTE_COUNTS, ())),
        sub_ifds=tuple(get(SUB_IFDS, ())),
    )


def _same_for_every_sample(bits: bytes | array | tuple[int]) -> int:
    """Bits per sample when every sample has as many, else 0 (no level the server hands out as is)."""
    return int(bits[0]) if bits and bits.count(bits[0]) == len(bits) else 0
