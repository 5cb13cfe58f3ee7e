"""The benchmark's requests are the ones OpenSeadragon sends (IIIFTileSource.getTileUrl, v4/v5)."""

from __future__ import annotations

import pytest

from bench.workload import (
    MasterCopy,
    TiledImage,
    TileRequest,
    centre_region,
    distinct_copies,
    distinct_tile_walk,
    interleave,
    tile_grid,
    tile_path,
    viewer_session_tiles,
)

DECREE = TiledImage(16_000, 12_000, 256, (1, 2, 4, 8, 16, 32, 64))
SMALL = TiledImage(200, 150, 256, (1,))


@pytest.mark.parametrize(
    ("image", "tile", "version", "expected"),
    [
        pytest.param(DECREE, TileRequest(1, 0, 0), 2, "0,0,256,256/256,/0/default.jpg", id="full resolution, first tile, 2.1 w,"),
        pytest.param(DECREE, TileRequest(1, 0, 0), 3, "0,0,256,256/256,256/0/default.jpg", id="full resolution, first tile, 3.0 w,h"),
        pytest.param(DECREE, TileRequest(1, 62, 0), 2, "15872,0,128,256/128,/0/default.jpg", id="right edge tile is narrower"),
        pytest.param(DECREE, TileRequest(4, 1, 2), 2, "1024,2048,1024,1024/256,/0/default.jpg", id="scale factor 4 covers 1024 px"),
        pytest.param(DECREE, TileRequest(32, 1, 1), 2, "8192,8192,7808,3808/244,/0/default.jpg", id="edge tile of a small level"),
        pytest.param(DECREE, TileRequest(32, 1, 1), 3, "8192,8192,7808,3808/244,119/0/default.jpg", id="edge tile of a small level, 3.0"),
        pytest.param(DECREE, TileRequest(64, 0, 0), 2, "full/250,/0/default.jpg", id="level smaller than a tile: region full"),
        pytest.param(DECREE, TileRequest(64, 0, 0), 3, "full/250,188/0/default.jpg", id="level smaller than a tile, 3.0"),
        pytest.param(SMALL, TileRequest(1, 0, 0), 2, "full/full/0/default.jpg", id="whole image in one tile, 2.1 size full"),
        pytest.param(SMALL, TileRequest(1, 0, 0), 3, "full/max/0/default.jpg", id="whole image in one tile, 3.0 size max"),
    ],
)
def test_tile_paths_match_openseadragon(image, tile, version, expected):
    assert tile_path(image, tile, version) == expected


def test_session_tiles_are_distinct_on_the_grid_and_reach_every_level():
    tiles = viewer_session_tiles(DECREE, 2000, seed=1)
    assert len(set(tiles)) == 2000
    for tile in tiles:
        columns, rows = tile_grid(DECREE, tile.scale_factor)
        assert 0 <= tile.column < columns and 0 <= tile.row < rows
    assert {tile.scale_factor for tile in tiles} == set(DECREE.scale_factors)
    assert viewer_session_tiles(DECREE, 2000, seed=1) == tiles, "the same seed gives the same session"


def test_asking_for_more_tiles_than_the_pyramid_holds_is_an_error():
    with pytest.raises(ValueError, match="only 1 tiles"):
        viewer_session_tiles(SMALL, 2, seed=0)


def test_interleave_alternates_and_keeps_the_rest():
    assert interleave([1, 2, 3], ["a"]) == [1, "a", 2, 3]


def test_centre_region_is_centred():
    assert centre_region(DECREE, 2048) == "6976,4976,2048,2048"


def test_distinct_copies_take_the_masters_in_turn_under_names_of_their_own_pass():
    first = distinct_copies("r0-ours-tiles-c4", ("archive-16k", "archive-40k"), 3)
    assert first == (
        MasterCopy("r0-ours-tiles-c4-00000", "archive-16k"),
        MasterCopy("r0-ours-tiles-c4-00001", "archive-40k"),
        MasterCopy("r0-ours-tiles-c4-00002", "archive-16k"),
    )
    second = distinct_copies("r0-iipsrv-tiles-c4", ("archive-16k", "archive-40k"), 3)
    assert not {copy.identifier for copy in first} & {copy.identifier for copy in second}


def test_a_distinct_walk_requests_every_tile_of_every_copy_once_copies_interleaved():
    sessions = {"decree": (DECREE, viewer_session_tiles(DECREE, 50, seed=3)),
                "small": (SMALL, viewer_session_tiles(SMALL, 1, seed=0))}
    copies = distinct_copies("pass", ("decree", "small"), 4)
    walk = distinct_tile_walk(copies, sessions, version=2)
    assert len(walk) == len(set(walk)) == 2 * 50 + 2 * 1
    assert [path.split("/")[0] for path in walk[:4]] == [copy.identifier for copy in copies]
    assert walk[2 * 2:][:2] == [f"pass-00000/{tile_path(DECREE, sessions['decree'][1][1], 2)}",
                                f"pass-00002/{tile_path(DECREE, sessions['decree'][1][1], 2)}"]
