"""The probe reads headers only and describes the levels each kind of master can be read at."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
import pyvips

from iiif_server.errors import MasterUnreadable
from iiif_server.info import MasterKind
from iiif_server.probe import _jpeg2000_codestream, probe
from iiif_server.sources.filesystem import FileSystemSource
from iiif_server.sources.memory import MemorySource
from tests.colour import ADOBE_RGB, SRGB, gamma_curve, grey_profile, rgb_profile
from tests.grid import grid_image
from tests.jp2 import split_boxes, with_boxes_before_codestream, with_comment_after_siz, with_icc_colour


def _probe(root: Path, identifier: str):
    source = FileSystemSource(root)
    return probe(source, source.locate(identifier), tile_size=512)


def test_pyramidal_tiff_levels_are_its_pages(image_root: Path) -> None:
    info = _probe(image_root, "grid-tiff")
    assert info.kind is MasterKind.PYRAMIDAL_TIFF
    assert [(level.width, level.height, level.load_option) for level in info.levels] == [
        (1600, 1200, None), (800, 600, ("page", 1)), (400, 300, ("page", 2)), (200, 150, ("page", 3)),
    ]
    assert (info.tile_width, info.tile_height, info.scale_factors) == (256, 256, (1, 2, 4, 8))
    assert info.stored_jpeg_tiles


def test_pyramid_in_subifds(tmp_path: Path) -> None:
    grid_image(10, 10).tiffsave(str(tmp_path / "sub.tif"), tile=True, pyramid=True, subifd=True,
                                compression="jpeg", tile_width=128, tile_height=128)
    info = _probe(tmp_path, "sub")
    assert [level.load_option for level in info.levels] == [None, ("subifd", 0), ("subifd", 1), ("subifd", 2)]
    assert info.scale_factors == (1, 2, 4, 8)


def test_jpeg2000_levels_come_from_the_codestream(image_root: Path) -> None:
    info = _probe(image_root, "grid-jp2")
    assert info.kind is MasterKind.JPEG2000
    assert info.levels[1].load_option == ("page", 1)
    assert (info.levels[2].width, info.levels[2].height) == (400, 300)
    assert (info.tile_width, info.tile_height) == (256, 256)
    for level in info.levels[:4]:
        option = dict([level.load_option]) if level.load_option else {}
        opened = pyvips.Image.new_from_file(str(image_root / "grid-jp2.jp2"), **option)
        assert (opened.width, opened.height) == (level.width, level.height)


def test_flat_jpeg_offers_shrink_on_load(image_root: Path) -> None:
    info = _probe(image_root, "grid-jpeg")
    assert info.kind is MasterKind.JPEG
    assert [level.load_option for level in info.levels] == [None, ("shrink", 2), ("shrink", 4), ("shrink", 8)]


@pytest.mark.parametrize(("width", "height"), [(400, 300), (401, 299), (97, 131)])
def test_flat_jpeg_levels_are_the_sizes_libvips_opens(tmp_path: Path, width: int, height: int) -> None:
    """Issue 10 (fuzzing): full/1, of a 400 x 300 JPEG answered 500; the level at shrink 8 is 37 px high."""
    path = tmp_path / "page.jpg"
    grid_image(width, height, cell=1).jpegsave(str(path))
    info = _probe(tmp_path, "page")
    for level in info.levels[1:]:
        opened = pyvips.Image.new_from_file(str(path), **dict([level.load_option]))
        assert (level.width, level.height) == (opened.width, opened.height)


def test_strip_tiff_is_flat(tmp_path: Path) -> None:
    grid_image(3, 2).tiffsave(str(tmp_path / "strips.tif"))
    info = _probe(tmp_path, "strips")
    assert info.kind is MasterKind.FLAT and len(info.levels) == 1


def test_alpha_is_reported(tmp_path: Path) -> None:
    grid_image(2, 2).bandjoin(255).pngsave(str(tmp_path / "alpha.png"))
    assert _probe(tmp_path, "alpha").has_alpha


@pytest.mark.parametrize(("name", "data"), [("junk.tif", b"II*\x00garbage"), ("junk.jp2", b"\x00\x00\x00\x0cjP  \r\n\x87\n"),
                                            ("junk.png", b"not a png")])
def test_unreadable_masters_raise_master_unreadable(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(MasterUnreadable, match="cannot be read|not a readable|codestream|not a supported master"):
        _probe(tmp_path, name.split(".")[0])


def test_memory_source_probes_like_files() -> None:
    source = MemorySource()
    source.put("page", grid_image(3, 2).tiffsave_buffer(tile=True, pyramid=True, compression="jpeg"), ".tif")
    info = probe(source, source.locate("page"), tile_size=512)
    assert (info.width, info.height, info.kind) == (300, 200, MasterKind.PYRAMIDAL_TIFF)


# --- JPEG 2000 headers walked box by box and marker by marker (issue 10 point 7) -----------------

# Text that a byte search would have taken for a palette, a colour box and a codestream start.
MISLEADING_XML = b"<note>pclr colr jp2c \xff\x4f\xff\x51 \xff\x52\x00\x0c</note>"


def _plain_jp2() -> bytes:
    return grid_image(8, 6).jp2ksave_buffer(lossless=True, tile_width=256, tile_height=256)


def _probe_bytes(data: bytes):
    source = MemorySource()
    source.put("scan", data, ".jp2")
    return probe(source, source.locate("scan"), 256)


def test_boxes_of_more_than_200_kib_before_the_codestream_are_skipped() -> None:
    plain = _probe_bytes(_plain_jp2())
    padded = with_boxes_before_codestream(_plain_jp2(), [
        (b"xml ", MISLEADING_XML + b" " * 250_000),
        (b"uuid", bytes(16) + MISLEADING_XML * 2000),
    ])
    assert len(padded) - len(_plain_jp2()) > 200 * 1024
    assert [box_type for box_type, _ in split_boxes(padded)][-3:] == [b"xml ", b"uuid", b"jp2c"]
    info = _probe_bytes(padded)
    assert (info.width, info.height, info.levels, info.tile_width) == (plain.width, plain.height, plain.levels, 256)
    # The real colour box (enumerated, sRGB or unstated) still decides: the OpenJPEG reader keeps the master.
    assert info.jpeg2000_layout == plain.jpeg2000_layout is not None


def test_a_large_icc_box_before_the_codestream_is_read_by_length() -> None:
    profile = pyvips.Image.black(1, 1).icc_export(output_profile="srgb").get("icc-profile-data")
    data = with_icc_colour(_plain_jp2(), profile + b"\x00" * 220_000)
    info = _probe_bytes(data)
    assert info.levels == _probe_bytes(_plain_jp2()).levels
    # The profile is read (and is sRGB in effect: nothing to convert); the OpenJPEG reader keeps the master.
    assert info.colour_profile is None
    assert info.jpeg2000_layout is not None


def test_the_cod_marker_is_found_by_walking_segments_not_by_searching_bytes() -> None:
    plain = _probe_bytes(_plain_jp2())
    # A COM segment after SIZ whose data holds FF52 and a bogus decomposition count of 30.
    data = with_comment_after_siz(_plain_jp2(), b"\xff\x52\x00\x0c\x00\x00\x00\x01\x00\x1e" + MISLEADING_XML)
    info = _probe_bytes(data)
    assert info.levels == plain.levels
    assert len(info.levels) < 30


@pytest.mark.parametrize(("name", "data"), [
    ("box running past the end", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + struct.pack(">I4s", 10**6, b"xml ") + b"x" * 32),
    ("box shorter than its header", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + struct.pack(">I4s", 3, b"ftyp") + b"x" * 32),
    ("codestream without SIZ", b"\xff\x4f\xff\x52\x00\x0c" + bytes(12)),
])
def test_broken_jpeg2000_headers_raise_master_unreadable(name: str, data: bytes) -> None:
    with pytest.raises(MasterUnreadable) as raised:
        _probe_bytes(data)
    assert "'scan'" in raised.value.reason


def test_packed_packet_headers_in_the_main_header_leave_the_codestream_to_libvips(tmp_path: Path) -> None:
    """PPM (ISO 15444-1 A.7.4) holds the packet headers of every tile in the main header: the
    server's reader, which hands OpenJPEG a code-tile's own tile-parts, cannot decode without them.
    (Only the segment's presence counts; libvips reads such files itself.)"""
    grid_image(4, 3).jp2ksave(str(tmp_path / "grid.jp2"), lossless=True, tile_width=128, tile_height=128)
    data = (tmp_path / "grid.jp2").read_bytes()
    plain_layout = _jpeg2000_codestream(io.BytesIO(data), "grid").layout
    assert plain_layout is not None
    siz_start = data.index(b"\xff\x4f\xff\x51") + 2
    (siz_length,) = struct.unpack(">H", data[siz_start + 2 : siz_start + 4])
    end_of_siz = siz_start + 2 + siz_length
    packed = data[:end_of_siz] + b"\xff\x60" + struct.pack(">HB", 3, 0) + data[end_of_siz:]
    packed_layout = _jpeg2000_codestream(io.BytesIO(packed), "packed").layout
    assert packed_layout is None


@pytest.mark.parametrize(("tile_width", "tile_height"), [(0, 128), (1, 1)], ids=["a zero tile width", "more than 65,535 tiles"])
def test_a_tile_grid_no_codestream_can_number_stays_with_libvips(tmp_path: Path, tile_width: int, tile_height: int) -> None:
    """SOT numbers tiles 0-65534 (ISO 15444-1 A.4.2); a SIZ that says otherwise is never indexed."""
    grid_image(4, 3).jp2ksave(str(tmp_path / "grid.jp2"), lossless=True, tile_width=128, tile_height=128)
    data = bytearray((tmp_path / "grid.jp2").read_bytes())
    siz_start = data.index(b"\xff\x4f\xff\x51") + 2
    struct.pack_into(">II", data, siz_start + 22, tile_width, tile_height)  # XTsiz, YTsiz
    layout = _jpeg2000_codestream(io.BytesIO(bytes(data)), "grid").layout
    assert layout is None


def _with_profile(image: pyvips.Image, profile: bytes) -> pyvips.Image:
    tagged = image.copy()
    tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", profile)
    return tagged


def _tiff_kinds(folder: Path) -> dict[str, dict]:
    """TIFFs of every kind the first-directory header reads or leaves to libvips: (band count and
    interpretation, tiffsave options)."""
    grey = grid_image(6, 4, cell=50).colourspace("b-w")
    rgb = grid_image(6, 4, cell=50)
    cmyk = rgb.colourspace("cmyk")
    kinds = {
        "rgb-jpeg-tiled-pyramid": (rgb, dict(tile=True, pyramid=True, compression="jpeg")),
        "rgb-jpeg-rgb-coded": (rgb, dict(tile=True, compression="jpeg", rgbjpeg=True)),
        "rgb-lzw-strips": (rgb, dict(compression="lzw")),
        "rgb-deflate-tiled": (rgb, dict(tile=True, compression="deflate")),
        "rgb-none": (rgb, dict()),
        "rgba-deflate": (rgb.bandjoin(255), dict(tile=True, compression="deflate")),
        "grey-jpeg": (grey, dict(tile=True, compression="jpeg")),
        "grey-alpha": (grey.bandjoin(200), dict(compression="lzw")),
        "rgb-adobe-icc": (_with_profile(rgb, rgb_profile(ADOBE_RGB)), dict(tile=True, pyramid=True, compression="jpeg")),
        "rgb-srgb-icc": (_with_profile(rgb, rgb_profile(SRGB)), dict(tile=True, compression="jpeg")),
        "grey-gamma-icc": (_with_profile(grey, grey_profile("gamma 1.8", gamma_curve(1.8))), dict(tile=True)),
        "sixteen-bit": ((rgb.cast("ushort") * 256).copy(interpretation="rgb16"), dict(tile=True)),
        "cmyk": (cmyk, dict(tile=True, compression="lzw")),
        "float": (rgb.cast("float"), dict(tile=True)),
        "one-bit": (grey > 128, dict(bitdepth=1)),
        "min-is-white": (grey, dict(miniswhite=True)),
    }
    written = {}
    for name, (image, options) in kinds.items():
        image.tiffsave(str(folder / f"{name}.tif"), **options)
        written[name] = options
    return written


def test_a_tiffs_first_directory_describes_it_as_libvips_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import iiif_server.probe as probe_module

    names = _tiff_kinds(tmp_path)
    read_from_the_directory = {name: _probe(tmp_path, name) for name in names}
    assert read_from_the_directory["rgb-adobe-icc"].colour_profile == rgb_profile(ADOBE_RGB)
    assert read_from_the_directory["rgba-deflate"].has_alpha and read_from_the_directory["grey-alpha"].has_alpha
    monkeypatch.setattr(probe_module, "_plain_tiff_header", lambda _page: None)
    for name in names:
        assert read_from_the_directory[name] == _probe(tmp_path, name), name


@pytest.mark.parametrize(("name", "plain"), [
    ("rgb-jpeg-tiled-pyramid", True), ("rgb-jpeg-rgb-coded", True), ("rgb-lzw-strips", True),
    ("rgb-deflate-tiled", True), ("rgb-none", True), ("rgba-deflate", True), ("grey-jpeg", True),
    ("grey-alpha", True), ("rgb-adobe-icc", True), ("rgb-srgb-icc", True), ("grey-gamma-icc", True),
    ("sixteen-bit", False), ("cmyk", False), ("float", False),
    ("one-bit", False), ("min-is-white", False),
])
def test_only_plain_tiffs_skip_libvips_header(tmp_path: Path, name: str, plain: bool) -> None:
    from iiif_server.probe import _plain_tiff_header
    from iiif_server.tiff_directory import read_directories

    _tiff_kinds(tmp_path)
    with open(tmp_path / f"{name}.tif", "rb") as stream:
        first = read_directories(stream, with_tile_index=False)[None]
    assert (_plain_tiff_header(first) is not None) is plain
