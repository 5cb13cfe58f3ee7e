"""The OpenJPEG region reader: which codestreams it takes, which code-tiles a crop needs, and the
pixels it decodes, which must equal OpenJPEG's decoding of the whole level (through glymur's own
reader). libvips 8.14 is no reference here: on tiles whose edges fall between the pixels of a
reduced level it places them a pixel off."""

from __future__ import annotations

import math
import os
import struct
import threading
import warnings
from pathlib import Path

import glymur

import numpy as np
import pytest
import pyvips

from iiif_server import create_app
from iiif_server.deadlines import Deadline
from iiif_server.errors import DeadlineExceeded, MasterUnreadable
from iiif_server.info import Jpeg2000Layout, MasterKind
from iiif_server.jpeg2000 import (
    CodeTile,
    CodeTileRun,
    DecodedCodeTiles,
    Jpeg2000Regions,
    code_tile_box,
    code_tile_count,
    code_tile_runs,
    code_tiles_under,
    decode_run,
    read_codestream_index,
)
from iiif_server.plan import Box
from iiif_server.probe import probe
from iiif_server.settings import Settings
from iiif_server.sources.filesystem import FileSystemSource
from iiif_server.sources.memory import MemorySource
from tests.grid import grid_image
from tests.jp2 import with_boxes_before_codestream, with_tile_parts_split

GRID_LAYOUT = Jpeg2000Layout(1600, 1200, 256, 256, 3)
LONG_DEADLINE = Deadline.after(3600)  # these tests time nothing


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("jpeg2000")
    grid = grid_image(16, 12)
    grid.jp2ksave(str(folder / "grid.jp2"), lossless=True, tile_width=256, tile_height=256)
    # Tiles whose edges fall between the pixels of reduced levels.
    grid.jp2ksave(str(folder / "odd-tiles.jp2"), lossless=True, tile_width=200, tile_height=136)
    # libvips writes JP2 boxes whatever the suffix: the bare codestream is the jp2c box's content.
    boxed = (folder / "grid.jp2").read_bytes()
    (folder / "grid-j2k.j2k").write_bytes(boxed[boxed.index(b"\xff\x4f\xff\x51"):])
    grid.colourspace("b-w").jp2ksave(str(folder / "grey.jp2"), lossless=True, tile_width=256, tile_height=256)
    grid.bandjoin(255).jp2ksave(str(folder / "alpha.jp2"), lossless=True, tile_width=256, tile_height=256)
    grid.cast("ushort").jp2ksave(str(folder / "sixteen-bit.jp2"), lossless=True, tile_width=256, tile_height=256)
    grid.jp2ksave(str(folder / "untiled.jp2"), lossless=True, tile_width=2048, tile_height=2048)
    # What other writers put in: tile-part (TLM) and packet (PLT) lengths, precincts, the 9-7 wavelet,
    # quality layers, resolution-first progression, SOP and EPH markers.
    pixels = as_array(grid)
    glymur.Jp2k(str(folder / "coded.jp2"), data=pixels, tilesize=(256, 256), tlm=True, plt=True, psizes=[(128, 128)] * 5,
                irreversible=True, prog="RPCL", sop=True, eph=True, numres=5, cratios=[20, 5, 1])
    glymur.Jp2k(str(folder / "packets.j2k"), data=pixels, tilesize=(256, 256), sop=True)
    return folder


def layout_of(folder: Path, identifier: str) -> Jpeg2000Layout | None:
    source = FileSystemSource(folder)
    info = probe(source, source.locate(identifier), 256)
    assert info.kind is MasterKind.JPEG2000
    return info.jpeg2000_layout


def whole_level(path: str, reduction: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glymur names libvips' colour space 0 "unrecognised"
        level = glymur.Jp2k(path)[:: 2**reduction, :: 2**reduction]
    return level if level.ndim == 3 else level[:, :, np.newaxis]


def as_array(image: pyvips.Image) -> np.ndarray:
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, image.bands))


# -- which codestreams ----------------------------------------------------------------------------


def test_tiled_eight_bit_colour_and_grey_codestreams_are_taken(masters: Path) -> None:
    assert layout_of(masters, "grid") == GRID_LAYOUT
    assert layout_of(masters, "grey") == Jpeg2000Layout(1600, 1200, 256, 256, 1)
    assert layout_of(masters, "grid-j2k") == Jpeg2000Layout(1600, 1200, 256, 256, 3)


@pytest.mark.parametrize("identifier", ["alpha", "sixteen-bit", "untiled"])
def test_other_codestreams_stay_with_libvips(masters: Path, identifier: str) -> None:
    assert layout_of(masters, identifier) is None


def test_the_main_header_describes_an_eight_bit_codestream_as_libvips_does(
        masters: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import iiif_server.probe as probe_module

    source = FileSystemSource(masters)
    identifiers = sorted(path.stem for path in masters.iterdir())
    described = {}
    for identifier in identifiers:
        master = source.locate(identifier)
        with source.open_bytes(master) as stream:
            header = probe_module._jpeg2000_codestream(stream, identifier).header
        if header is not None:
            assert header == probe_module._libvips_header(source, master), identifier
            described[identifier] = probe(source, master, 256)
    assert set(described) == {"grid", "odd-tiles", "grid-j2k", "grey", "untiled", "coded", "packets"}
    without_header = probe_module._jpeg2000_codestream
    monkeypatch.setattr(probe_module, "_jpeg2000_codestream",
                        lambda stream, identifier: without_header(stream, identifier)._replace(header=None))
    for identifier, info in described.items():
        assert info == probe(source, source.locate(identifier), 256), identifier


# -- which code-tiles -----------------------------------------------------------------------------


@pytest.mark.parametrize(("crop", "reduction", "expected"), [
    (Box(0, 0, 256, 256), 0, [0]),
    (Box(0, 0, 257, 256), 0, [0, 1]),
    (Box(255, 255, 2, 2), 0, [0, 1, 7, 8]),
    (Box(1536, 1024, 64, 176), 0, [34]),  # the last, partial tile of a 7 x 5 grid
    (Box(0, 0, 128, 128), 1, [0]),
    (Box(128, 0, 128, 128), 1, [1]),
    (Box(0, 0, 100, 75), 4, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                             21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34]),
    (Box(31, 31, 2, 2), 3, [0, 1, 7, 8]),
])
def test_a_crop_needs_exactly_the_code_tiles_under_it(crop: Box, reduction: int, expected: list[int]) -> None:
    assert code_tiles_under(GRID_LAYOUT, crop, reduction) == expected


def test_tile_edges_between_reduced_pixels_belong_to_the_tile_holding_their_full_resolution_pixels() -> None:
    layout = Jpeg2000Layout(1600, 1200, 200, 136, 3)
    # At reduction 3 a 200 px tile is 25 level pixels; level pixel 24 is full-resolution 192-199.
    assert code_tiles_under(layout, Box(24, 0, 1, 1), 3) == [0]
    assert code_tiles_under(layout, Box(25, 0, 1, 1), 3) == [1]
    # 136 / 8 = 17: level row 17 starts tile row 1 exactly.
    assert code_tiles_under(layout, Box(0, 16, 1, 2), 3) == [0, 8]


# -- pixels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["grid", "odd-tiles", "grid-j2k", "grey", "coded"])
@pytest.mark.parametrize(("reduction", "crop"), [
    (0, Box(0, 0, 256, 256)),
    (0, Box(300, 200, 500, 400)),
    (0, Box(1500, 1100, 100, 100)),
    (1, Box(0, 0, 800, 600)),
    (1, Box(250, 130, 300, 170)),
    (2, Box(13, 7, 387, 293)),
    (3, Box(0, 0, 200, 150)),
    (4, Box(0, 0, 100, 75)),
])
def test_decoded_regions_equal_openjpeg_decoding_of_the_whole_level(masters: Path, identifier: str,
                                                                    reduction: int, crop: Box) -> None:
    source = FileSystemSource(masters)
    master = source.locate(identifier)
    layout = probe(source, master, 256).jpeg2000_layout
    region = Jpeg2000Regions(index_bytes=1 << 20).read(master, master.location, layout, reduction, crop, LONG_DEADLINE)
    assert (region.width, region.height, region.bands) == (crop.width, crop.height, layout.bands)
    assert region.interpretation == ("srgb" if layout.bands == 3 else "b-w")
    assert np.array_equal(as_array(region), whole_level(master.location, reduction)[crop.y : crop.bottom, crop.x : crop.right])


@pytest.mark.parametrize(("crop", "reduction", "expected"), [
    pytest.param(Box(0, 0, 256, 256), 0, [CodeTileRun(0, 0, 0)], id="one code-tile"),
    pytest.param(Box(128, 128, 256, 256), 0, [CodeTileRun(0, 0, 0), CodeTileRun(0, 1, 1), CodeTileRun(1, 0, 0),
                                              CodeTileRun(1, 1, 1)], id="four code-tiles, each whole"),
    pytest.param(Box(0, 0, 1025, 256), 0, [CodeTileRun(0, 0, 4)], id="five code-tiles in a row: one run"),
    pytest.param(Box(300, 200, 500, 400), 0, [CodeTileRun(0, 1, 3), CodeTileRun(1, 1, 3), CodeTileRun(2, 1, 3)],
                 id="rows of the code-tiles under the crop"),
    pytest.param(Box(0, 0, 100, 75), 4, [CodeTileRun(row, 0, 6) for row in range(5)], id="a whole level"),
])
def test_a_crop_is_decoded_code_tile_by_code_tile_when_small_else_row_by_row(
        crop: Box, reduction: int, expected: list[CodeTileRun]) -> None:
    assert code_tile_runs(GRID_LAYOUT, crop, reduction) == expected


@pytest.mark.parametrize(("run", "reduction", "expected"), [
    (CodeTileRun(0, 0, 6), 0, Box(0, 0, 1600, 256)),
    (CodeTileRun(4, 2, 6), 0, Box(512, 1024, 1088, 176)),
    (CodeTileRun(4, 2, 6), 3, Box(64, 128, 136, 22)),
])
def test_a_run_lies_where_its_code_tiles_lie(run: CodeTileRun, reduction: int, expected: Box) -> None:
    assert run.box(GRID_LAYOUT, reduction) == expected


def test_the_index_holds_every_tile_part_of_every_code_tile_in_order(masters: Path) -> None:
    path = str(masters / "grid.jp2")
    index = read_codestream_index(path, GRID_LAYOUT, "grid")
    data = (masters / "grid.jp2").read_bytes()
    for tile_index in range(code_tile_count(GRID_LAYOUT)):
        parts = index.tile_parts(tile_index)
        assert parts, tile_index
        for part_number, (offset, length) in enumerate(parts):
            marker, _, isot, psot, tpsot = struct.unpack(">2sHHIB", data[offset : offset + 11])
            assert (marker, isot, psot, tpsot) == (b"\xff\x90", tile_index, length, part_number)
    assert index.nbytes < 2048


def test_a_codestream_in_several_tile_parts_per_code_tile_decodes_the_same(masters: Path, tmp_path: Path) -> None:
    """Each code-tile's data split into two tile-parts (A.4.2), the second parts after every first
    part, as a resolution-ordered writer lays them out."""
    data = (masters / "packets.j2k").read_bytes()
    (tmp_path / "parts.j2k").write_bytes(with_tile_parts_split(data))
    source = FileSystemSource(tmp_path)
    master = source.locate("parts")
    assert probe(source, master, 256).jpeg2000_layout == GRID_LAYOUT
    index = read_codestream_index(master.location, GRID_LAYOUT, "parts")
    assert all(len(index.tile_parts(tile)) == 2 for tile in range(code_tile_count(GRID_LAYOUT)))
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    for reduction, crop in ((0, Box(300, 200, 500, 400)), (2, Box(0, 0, 400, 300)), (0, Box(0, 0, 256, 256))):
        region = regions.read(master, master.location, GRID_LAYOUT, reduction, crop, LONG_DEADLINE)
        expected = whole_level(str(masters / "packets.j2k"), reduction)[crop.y : crop.bottom, crop.x : crop.right]
        assert np.array_equal(as_array(region), expected)


def test_a_master_cut_after_it_was_indexed_fails_its_own_requests(masters: Path, tmp_path: Path) -> None:
    """The index outlives the file's bytes: a read short of what a tile-part promised ends the
    stream, and OpenJPEG's failure is the master's own error."""
    whole = (masters / "grid.jp2").read_bytes()
    (tmp_path / "cut.jp2").write_bytes(whole)
    master = FileSystemSource(tmp_path).locate("cut")
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    assert regions.read(master, master.location, GRID_LAYOUT, 0, Box(0, 0, 64, 64), LONG_DEADLINE).width == 64
    (tmp_path / "cut.jp2").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MasterUnreadable, match="'cut' could not be decoded"):
        regions.read(master, master.location, GRID_LAYOUT, 0, Box(1344, 1024, 256, 176), LONG_DEADLINE)


def test_a_malformed_tile_part_header_fails_the_master_with_its_place(masters: Path, tmp_path: Path) -> None:
    data = bytearray((masters / "grid-j2k.j2k").read_bytes())
    first = data.index(b"\xff\x90")
    struct.pack_into(">H", data, first + 4, 999)  # Isot beyond the 35 code-tiles
    (tmp_path / "bad.j2k").write_bytes(bytes(data))
    with pytest.raises(MasterUnreadable, match="'bad' could not be decoded") as raised:
        read_codestream_index(str(tmp_path / "bad.j2k"), GRID_LAYOUT, "bad")
    assert raised.value.detail == f"malformed tile-part header at byte {first}"


def test_threads_reading_at_once_each_get_their_own_pixels(masters: Path) -> None:
    source = FileSystemSource(masters)
    master = source.locate("grid")
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    crops = [Box(x, y, 256, 256) for x in range(0, 1280, 256) for y in range(0, 1024, 256)]
    expected = {crop: as_array(pyvips.Image.new_from_file(master.location).crop(*crop.__dict__.values())) for crop in crops}
    failures: list[Box] = []

    def read_all() -> None:
        for crop in crops:
            if not np.array_equal(as_array(regions.read(master, master.location, GRID_LAYOUT, 0, crop, LONG_DEADLINE)), expected[crop]):
                failures.append(crop)

    threads = [threading.Thread(target=read_all) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize("crop", [Box(1344, 1024, 256, 176), Box(0, 0, 1600, 1200)], ids=["one tile", "split"])
def test_a_damaged_codestream_fails_its_own_request_and_nothing_else(masters: Path, tmp_path: Path, crop: Box) -> None:
    whole = (masters / "grid.jp2").read_bytes()
    (tmp_path / "damaged.jp2").write_bytes(whole[: len(whole) // 3])
    source = FileSystemSource(tmp_path)
    damaged = source.locate("damaged")
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    with pytest.raises(MasterUnreadable, match="'damaged' could not be decoded"):
        regions.read(damaged, damaged.location, GRID_LAYOUT, 0, crop, LONG_DEADLINE)
    good = FileSystemSource(masters).locate("grid")
    assert regions.read(good, good.location, GRID_LAYOUT, 0, Box(0, 0, 10, 10), LONG_DEADLINE).width == 10


def test_a_source_without_local_files_is_read_by_libvips(masters: Path) -> None:
    source = MemorySource()
    source.put("letters/grid", (masters / "grid.jp2").read_bytes(), ".jp2")
    client = create_app(Settings(), source=source).test_client()
    answer = client.get("/iiif/3/letters%2Fgrid/256,0,256,256/max/0/default.png")
    assert answer.status_code == 200
    tile = pyvips.Image.new_from_buffer(answer.data, "")
    assert np.array_equal(as_array(tile), whole_level(str(masters / "grid.jp2"), 0)[0:256, 256:512])


def test_a_master_with_large_boxes_before_its_codestream_serves_the_same_pixels(masters: Path, tmp_path: Path) -> None:
    """Issue 10 point 7: 250 KiB of XML and UUID boxes made the probe's 64 KiB search call it unreadable."""
    plain = (masters / "grid.jp2").read_bytes()
    (tmp_path / "padded.jp2").write_bytes(with_boxes_before_codestream(plain, [
        (b"xml ", b"<archive>" + b" " * 200_000 + b"</archive>"), (b"uuid", bytes(16) + b"\xff\x52" * 25_000),
    ]))
    (tmp_path / "plain.jp2").write_bytes(plain)
    client = create_app(Settings(image_root=tmp_path)).test_client()
    for url in ("256,256,256,256/256,/0/default.png", "full/400,/0/default.png", "full/max/0/default.png"):
        padded = client.get(f"/iiif/3/padded/{url}")
        assert padded.status_code == 200
        assert padded.data == client.get(f"/iiif/3/plain/{url}").data


# -- code-tiles shared by neighbouring tiles -------------------------------------------------------

ODD_LAYOUT = Jpeg2000Layout(1600, 1200, 200, 136, 3)
QUARTER_TILE = 128  # of the grid's 256 px code-tiles


@pytest.mark.parametrize(("layout", "tile_index", "reduction", "expected"), [
    pytest.param(GRID_LAYOUT, 0, 0, Box(0, 0, 256, 256), id="B.5 the first code-tile at full resolution"),
    pytest.param(GRID_LAYOUT, 34, 0, Box(1536, 1024, 64, 176), id="B.5 the last code-tile, cut by the image edge"),
    pytest.param(GRID_LAYOUT, 8, 1, Box(128, 128, 128, 128), id="B.5 reduced by 2"),
    pytest.param(GRID_LAYOUT, 34, 3, Box(192, 128, 8, 22), id="B.5 edges divided by 8 and rounded up"),
    pytest.param(ODD_LAYOUT, 1, 4, Box(13, 0, 12, 9), id="B.5 a code-tile edge between reduced pixels"),
])
def test_a_code_tile_lies_where_its_full_resolution_bounds_divided_and_rounded_up_put_it(
        layout: Jpeg2000Layout, tile_index: int, reduction: int, expected: Box) -> None:
    assert code_tile_box(layout, tile_index, reduction) == expected


def test_openjpeg_decodes_every_code_tile_where_code_tile_box_places_it(masters: Path) -> None:
    master = FileSystemSource(masters).locate("odd-tiles")
    index = read_codestream_index(master.location, ODD_LAYOUT, "odd-tiles")
    across = math.ceil(ODD_LAYOUT.width / ODD_LAYOUT.tile_width)
    descriptor = os.open(master.location, os.O_RDONLY)
    try:
        for reduction in range(5):
            level = whole_level(master.location, reduction)
            for tile_index in range(code_tile_count(ODD_LAYOUT)):
                run = CodeTileRun(tile_index // across, tile_index % across, tile_index % across)
                placed = code_tile_box(ODD_LAYOUT, tile_index, reduction)
                assert run.box(ODD_LAYOUT, reduction) == placed
                tile = decode_run(descriptor, index, ODD_LAYOUT, run, reduction, placed)
                assert (tile.x, tile.y) == (placed.x, placed.y)
                assert np.array_equal(tile.pixels, level[placed.y : placed.bottom, placed.x : placed.right])
    finally:
        os.close(descriptor)


def quarters_of_code_tile_8() -> list[Box]:
    return [Box(256 + x, 256 + y, QUARTER_TILE, QUARTER_TILE) for y in (0, QUARTER_TILE) for x in (0, QUARTER_TILE)]


def test_neighbouring_tiles_decode_the_code_tile_they_share_once(masters: Path) -> None:
    master = FileSystemSource(masters).locate("grid")
    regions = Jpeg2000Regions(index_bytes=1 << 20, code_tile_bytes=8 * 1024 * 1024)
    level = whole_level(master.location, 0)
    for crop in quarters_of_code_tile_8():
        region = regions.read(master, master.location, GRID_LAYOUT, 0, crop, LONG_DEADLINE)
        assert np.array_equal(as_array(region), level[crop.y : crop.bottom, crop.x : crop.right])
    assert (regions.code_tiles.decoded, regions.code_tiles.hits) == (1, 3)
    assert regions.code_tiles.bytes_used == 256 * 256 * 3


def test_code_tiles_a_crop_covers_whole_are_not_kept(masters: Path) -> None:
    master = FileSystemSource(masters).locate("grid")
    regions = Jpeg2000Regions(index_bytes=1 << 20, code_tile_bytes=8 * 1024 * 1024)
    regions.read(master, master.location, GRID_LAYOUT, 0, Box(256, 256, 512, 512), LONG_DEADLINE)
    regions.read(master, master.location, GRID_LAYOUT, 1, Box(0, 0, 128, 128), LONG_DEADLINE)
    assert (regions.code_tiles.decoded, regions.code_tiles.bytes_used) == (0, 0)


def test_kept_code_tiles_stay_within_their_byte_budget(masters: Path) -> None:
    master = FileSystemSource(masters).locate("grid")
    code_tile_bytes = 256 * 256 * 3
    regions = Jpeg2000Regions(index_bytes=1 << 20, code_tile_bytes=2 * code_tile_bytes)
    for x in (0, 256, 512):  # a quarter of code-tiles 0, 1 and 2
        regions.read(master, master.location, GRID_LAYOUT, 0, Box(x, 0, QUARTER_TILE, QUARTER_TILE), LONG_DEADLINE)
    assert regions.code_tiles.bytes_used == 2 * code_tile_bytes
    regions.read(master, master.location, GRID_LAYOUT, 0, Box(QUARTER_TILE, 0, QUARTER_TILE, QUARTER_TILE), LONG_DEADLINE)
    assert (regions.code_tiles.decoded, regions.code_tiles.hits) == (4, 0)  # code-tile 0 was let go


def test_no_code_tiles_are_kept_without_a_budget(masters: Path) -> None:
    master = FileSystemSource(masters).locate("grid")
    regions = Jpeg2000Regions(index_bytes=1 << 20)
    for crop in quarters_of_code_tile_8():
        regions.read(master, master.location, GRID_LAYOUT, 0, crop, LONG_DEADLINE)
    assert (regions.code_tiles.decoded, regions.code_tiles.hits, regions.code_tiles.bytes_used) == (4, 0, 0)


KEY = ("master.jp2", "fingerprint", 0, 0)


class SlowDecode:
    """A decode that takes as long as the test wants: started, then done (or failed) on release."""

    def __init__(self, fails: bool = False) -> None:
        self.started, self.release, self.fails, self.calls = threading.Event(), threading.Event(), fails, 0

    def __call__(self) -> CodeTile:
        self.calls += 1
        self.started.set()
        self.release.wait(30)
        if self.fails:
            raise OSError("damaged code-tile")
        return CodeTile(0, 0, np.full((4, 4, 3), self.calls, dtype=np.uint8))


def in_thread(function) -> tuple[threading.Thread, list]:  # noqa: ANN001 - any callable
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(function())
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_code_tile_being_decoded_is_waited_for_not_decoded_again() -> None:
    tiles = DecodedCodeTiles(1 << 20)
    decode = SlowDecode()
    first, first_outcome = in_thread(lambda: tiles.get(KEY, decode, LONG_DEADLINE))
    assert decode.started.wait(30)
    second, second_outcome = in_thread(lambda: tiles.get(KEY, decode, LONG_DEADLINE))
    second.join(timeout=0.3)
    assert second.is_alive()  # waiting for the first request's decoding
    decode.release.set()
    first.join(30)
    second.join(30)
    assert decode.calls == 1
    assert first_outcome[0] is second_outcome[0]
    assert (tiles.decoded, tiles.hits) == (1, 1)


def test_a_request_waiting_for_a_code_tile_that_fails_decodes_it_itself() -> None:
    tiles = DecodedCodeTiles(1 << 20)
    failing = SlowDecode(fails=True)
    first, first_outcome = in_thread(lambda: tiles.get(KEY, failing, LONG_DEADLINE))
    assert failing.started.wait(30)
    second, second_outcome = in_thread(lambda: tiles.get(KEY, lambda: CodeTile(0, 0, np.zeros((4, 4, 3), np.uint8)),
                                                         LONG_DEADLINE))
    failing.release.set()
    first.join(30)
    second.join(30)
    assert isinstance(first_outcome[0], OSError)
    assert isinstance(second_outcome[0], CodeTile)
    assert tiles.bytes_used == 4 * 4 * 3


def test_a_request_waits_for_a_code_tile_only_until_its_deadline() -> None:
    tiles = DecodedCodeTiles(1 << 20)
    decode = SlowDecode()
    first, _ = in_thread(lambda: tiles.get(KEY, decode, LONG_DEADLINE))
    assert decode.started.wait(30)
    with pytest.raises(DeadlineExceeded):
        tiles.get(KEY, decode, Deadline.after(0.2))
    decode.release.set()
    first.join(30)
