"""tiff_directory.py: the directories of a TIFF read as tifffile reads them, and damage refused."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy
import pytest
import pyvips
import tifffile

from iiif_server.tiff_directory import FIRST_READ_ENTRIES, MAX_ENTRIES, TiffStructureError, read_directories


def page_image(width: int = 1200, height: int = 900) -> pyvips.Image:
    return (pyvips.Image.xyz(width, height)[0] % 256).cast("uchar").bandjoin([128, 64])


def as_tifffile_reads_it(path: Path) -> dict:
    """Per loader option, what tifffile says of each page."""
    with tifffile.TiffFile(path) as tiff:
        first = tiff.pages.first
        pages = {None: first}
        pages.update({("page", n): page for n, page in enumerate(tiff.pages) if n > 0})
        pages.update({("subifd", n): page for n, page in enumerate(first.pages or ())})
        return {option: (page.imagewidth, page.imagelength, page.tilewidth, page.tilelength, page.compression.value,
                         page.photometric.value, page.bitspersample, page.samplesperpixel, page.planarconfig.value,
                         page.jpegtables, tuple(page.dataoffsets), tuple(page.databytecounts))
                for option, page in pages.items()}


def as_read_here(path: Path) -> dict:
    with path.open("rb") as stream:
        return {option: (d.width, d.height, d.tile_width, d.tile_height, d.compression, d.photometric,
                         d.bits_per_sample, d.samples_per_pixel, d.planar_config, d.jpeg_tables,
                         tuple(d.data_offsets), tuple(d.data_byte_counts))
                for option, d in read_directories(stream).items()}


@pytest.mark.parametrize("options", [
    pytest.param({"pyramid": True, "compression": "jpeg"}, id="libvips pyramid of pages, JPEG tiles"),
    pytest.param({"pyramid": True, "subifd": True, "compression": "jpeg"}, id="pyramid in SubIFDs"),
    pytest.param({"pyramid": True, "bigtiff": True, "compression": "jpeg"}, id="BigTIFF"),
    pytest.param({"pyramid": True, "compression": "deflate"}, id="deflate tiles"),
])
def test_every_level_reads_as_tifffile_reads_it(tmp_path: Path, options: dict) -> None:
    path = tmp_path / "master.tif"
    page_image().tiffsave(str(path), tile=True, tile_width=256, tile_height=256, **options)
    expected = as_tifffile_reads_it(path)
    assert len(expected) >= 3
    assert as_read_here(path) == expected


@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "BigTIFF"])
def test_big_endian_files_and_strips(tmp_path: Path, bigtiff: bool) -> None:
    # A big-endian value in place sits in the high bits of its field: 32 of them in a classic TIFF, 64 in a BigTIFF.
    path = tmp_path / "motorola.tif"
    pixels = numpy.arange(300 * 200 * 3, dtype=numpy.uint16).reshape(200, 300, 3)
    with tifffile.TiffWriter(path, byteorder=">", bigtiff=bigtiff) as writer:
        writer.write(pixels, photometric="rgb", tile=(64, 64))
        writer.write(pixels[::2, ::2], photometric="rgb", rowsperstrip=16)
    found = as_read_here(path)
    assert found == as_tifffile_reads_it(path)
    first, second = found[None], found[("page", 1)]
    assert first[:4] == (300, 200, 64, 64) and first[6:8] == (16, 3)
    assert second[:4] == (150, 100, 0, 0) and len(second[10]) == 7  # 100 rows in strips of 16


def test_the_probe_can_skip_the_tile_index_and_jpeg_tables(tmp_path: Path) -> None:
    path = tmp_path / "master.tif"
    page_image().tiffsave(str(path), tile=True, pyramid=True, compression="jpeg")
    with path.open("rb") as stream:
        first = read_directories(stream, with_tile_index=False)[None]
    assert (first.width, first.height, first.is_tiled) == (1200, 900, True)
    assert len(first.data_offsets) == 0 and first.jpeg_tables is None


def classic_tiff(entries: list[tuple[int, int, int, int]], next_ifd: int = 0, count: int | None = None) -> bytes:
    """A little-endian classic TIFF with one directory at offset 8 of (tag, type, count, value) entries."""
    directory = struct.pack("<H", len(entries) if count is None else count)
    directory += b"".join(struct.pack("<HHII", *entry) for entry in entries)
    return b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", next_ifd)


SIZE_ENTRIES = [(256, 3, 1, 64), (257, 3, 1, 48)]


@pytest.mark.parametrize(("data", "reason"), [
    pytest.param(b"GIF89a" + bytes(20), "byte-order", id="not a TIFF"),
    pytest.param(b"II\x2b\x00" + bytes(12), "version", id="BigTIFF header without its constants"),
    pytest.param(classic_tiff(SIZE_ENTRIES)[:20], "ends inside", id="file cut inside the directory"),
    pytest.param(classic_tiff(SIZE_ENTRIES, next_ifd=8), "linked twice", id="directory chain loops"),
    pytest.param(classic_tiff(SIZE_ENTRIES, count=MAX_ENTRIES + 1), "claims", id="absurd entry count"),
    pytest.param(classic_tiff([*SIZE_ENTRIES, (324, 4, 1 << 30, 1000)]), "claims", id="absurd value count"),
    pytest.param(classic_tiff([*SIZE_ENTRIES, (324, 4, 1000, 1 << 20)]), "ends inside", id="values past the end"),
    pytest.param(classic_tiff([*SIZE_ENTRIES, (324, 99, 1, 0)]), "field type", id="unknown field type"),
    pytest.param(classic_tiff([(256, 3, 1, 64)]), "no tag 257", id="no height"),
    pytest.param(classic_tiff([(257, 3, 1, 48)]), "no tag 256", id="no width"),
    pytest.param(classic_tiff([(256, 3, 0, 0), (257, 3, 1, 48)]), "no tag 256", id="a width of no values"),
])
def test_damaged_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(TiffStructureError, match=reason):
        read_directories(io.BytesIO(data))


LONG_DIRECTORY = [*SIZE_ENTRIES, *((40000 + n, 3, 1, n) for n in range(FIRST_READ_ENTRIES)), (259, 3, 1, 7)]


def test_a_directory_longer_than_the_first_read_is_read_whole() -> None:
    data = classic_tiff(LONG_DIRECTORY)
    found = read_directories(io.BytesIO(data))[None]
    assert (found.width, found.height, found.compression) == (64, 48, 7)
    with pytest.raises(TiffStructureError, match="ends inside the directory"):
        read_directories(io.BytesIO(data[:-6]))


def test_a_minimal_directory_gets_the_defaults() -> None:
    found = read_directories(io.BytesIO(classic_tiff(SIZE_ENTRIES)))[None]
    assert (found.width, found.height, found.compression, found.photometric, found.bits_per_sample,
            found.samples_per_pixel, found.planar_config, found.image_depth, found.is_tiled) == (
        64, 48, 1, None, 1, 1, 1, 1, False)


def test_a_number_tag_of_several_values_is_read_as_its_first_and_one_of_none_as_absent() -> None:
    # Two SHORTs in place (64, then 99) where one is due; a Compression of no values gets the default.
    entries = [(256, 3, 2, 64 | 99 << 16), (257, 4, 1, 48), (259, 3, 0, 0), (277, 3, 1, 3)]
    found = read_directories(io.BytesIO(classic_tiff(entries)))[None]
    assert (found.width, found.height, found.compression, found.samples_per_pixel) == (64, 48, 1, 3)
