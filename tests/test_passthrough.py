"""Stored-tile passthrough: the spliced JPEG decodes (Pillow and libvips) to what rendering the same
tile gives, in the right colours, and every tile that cannot be handed out unchanged is refused."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import pyvips
from PIL import Image

from iiif_server.passthrough import StoredTileReader, index_bytes, index_stored_tiles
from iiif_server.sources.filesystem import FileSystemSource

TILE = 256
INDEX_BYTES = 1024 * 1024  # room for every test master's index
# Quadrant colours of the generated page: a decoder that mistakes YCbCr for RGB (or the reverse)
# turns each of them into a visibly different colour.
QUADRANT_COLOURS = ((200, 30, 30), (30, 160, 40), (40, 60, 210), (230, 200, 40))


def colour_grid(width: int, height: int) -> pyvips.Image:
    """Four coloured quadrants with mild grain, so tiles hold real JPEG detail."""
    half_w, half_h = width // 2, height // 2
    quadrants = [
        pyvips.Image.black(w, h).new_from_image(list(colour))
        for (w, h), colour in zip(
            ((half_w, half_h), (width - half_w, half_h), (half_w, height - half_h), (width - half_w, height - half_h)),
            QUADRANT_COLOURS,
        )
    ]
    top = quadrants[0].join(quadrants[1], "horizontal")
    bottom = quadrants[2].join(quadrants[3], "horizontal")
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0, seed=3)
    return (top.join(bottom, "vertical") + grain).cast("uchar")


def save_pyramid(image: pyvips.Image, path: Path, **options: object) -> None:
    image.tiffsave(str(path), compression="jpeg", Q=85, tile=True, tile_width=TILE, tile_height=TILE,
                   pyramid=True, **options)


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("passthrough")
    save_pyramid(colour_grid(1024, 768), root / "aligned-1024x768.tif")  # every tile whole
    save_pyramid(colour_grid(1000, 700), root / "ragged-1000x700.tif")  # last column and row padded
    save_pyramid(colour_grid(1024, 768), root / "rgb-1024x768.tif", rgbjpeg=True)
    save_pyramid(colour_grid(1024, 768), root / "subifd-1024x768.tif", subifd=True)
    colour_grid(1024, 768).tiffsave(str(root / "deflate-1024x768.tif"), compression="deflate", tile=True,
                                    pyramid=True)
    return root


@pytest.fixture(scope="session")
def source(image_root: Path) -> FileSystemSource:
    return FileSystemSource(image_root)


def pixels(image: pyvips.Image) -> np.ndarray:
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8,
                      shape=(image.height, image.width, image.bands)).astype(np.int16)


def decoded_by_pillow(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def level_tile(source: FileSystemSource, identifier: str, load_options: dict, column: int, row: int) -> pyvips.Image:
    level = source.load_image(source.locate(identifier), **load_options)
    return level.crop(column * TILE, row * TILE, TILE, TILE)


@pytest.mark.parametrize(
    ("identifier", "level_option", "load_options", "column", "row"),
    [
        pytest.param("aligned-1024x768", None, {}, 1, 1, id="interior tile, full resolution"),
        pytest.param("aligned-1024x768", None, {}, 3, 2, id="bottom-right edge tile, full resolution"),
        pytest.param("aligned-1024x768", None, {}, 0, 2, id="bottom edge tile, full resolution"),
        pytest.param("aligned-1024x768", ("page", 1), {"page": 1}, 1, 0, id="right edge tile, level 1"),
        pytest.param("ragged-1000x700", None, {}, 1, 1, id="interior tile of a ragged master"),
        pytest.param("rgb-1024x768", None, {}, 2, 1, id="RGB-photometric JPEG tiles"),
        pytest.param("subifd-1024x768", ("subifd", 0), {"subifd": 0}, 1, 0, id="level stored as a SubIFD"),
    ],
)
def test_passthrough_decodes_to_the_rendered_tile(source, identifier, level_option, load_options, column, row):
    jpeg = StoredTileReader(INDEX_BYTES).read_tile(source.open_bytes, source.locate(identifier), level_option, column, row)
    assert jpeg is not None
    stored = pixels(level_tile(source, identifier, load_options, column, row))
    # What the renderer answers: the same tile decoded, cut and encoded again.
    rendered = pixels(pyvips.Image.new_from_buffer(
        level_tile(source, identifier, load_options, column, row).jpegsave_buffer(Q=85), ""))
    by_pillow = decoded_by_pillow(jpeg)
    by_vips = pixels(pyvips.Image.new_from_buffer(jpeg, ""))
    assert by_pillow.shape == by_vips.shape == (TILE, TILE, 3)
    for decoded in (by_pillow, by_vips):
        assert np.abs(decoded - stored).max() <= 1, "not the stored tile's pixels"
        difference = np.abs(decoded - rendered)
        assert difference.mean() < 3, "differs from the rendered tile by more than JPEG re-encoding"
        assert np.percentile(difference, 99) <= 16


@pytest.mark.parametrize("identifier", ["aligned-1024x768", "rgb-1024x768"])
def test_passthrough_colours_survive_a_browser_style_decode(source, identifier):
    """Pillow (libjpeg-turbo, as in browsers) honours the JFIF / Adobe marker the reader adds."""
    reader = StoredTileReader(INDEX_BYTES)
    master = source.locate(identifier)
    corners = {(0, 0): 0, (3, 0): 1, (0, 2): 2, (3, 2): 3}
    for (column, row), quadrant in corners.items():
        jpeg = reader.read_tile(source.open_bytes, master, None, column, row)
        mean_colour = decoded_by_pillow(jpeg).reshape(-1, 3).mean(axis=0)
        assert np.abs(mean_colour - QUADRANT_COLOURS[quadrant]).max() < 6, (column, row, mean_colour)


def test_passthrough_is_a_standalone_jfif_stream(source):
    jpeg = StoredTileReader(INDEX_BYTES).read_tile(source.open_bytes, source.locate("aligned-1024x768"), None, 0, 0)
    assert jpeg.startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    assert jpeg.endswith(b"\xff\xd9")
    assert jpeg.count(b"\xff\xd8") == 1, "the tables' and the tile's start markers were both kept"


@pytest.mark.parametrize(
    ("identifier", "level_option", "column", "row"),
    [
        pytest.param("ragged-1000x700", None, 3, 1, id="right edge tile padded beyond the image"),
        pytest.param("ragged-1000x700", None, 0, 2, id="bottom edge tile padded beyond the image"),
        pytest.param("aligned-1024x768", None, 4, 0, id="column beyond the grid"),
        pytest.param("aligned-1024x768", None, 0, -1, id="negative row"),
        pytest.param("aligned-1024x768", ("page", 9), 0, 0, id="level the master does not have"),
        pytest.param("deflate-1024x768", None, 0, 0, id="tiles not stored as JPEG"),
    ],
)
def test_tiles_that_cannot_be_handed_out_unchanged_are_refused(source, identifier, level_option, column, row):
    assert StoredTileReader(INDEX_BYTES).read_tile(source.open_bytes, source.locate(identifier), level_option, column, row) is None


def test_rewritten_master_is_indexed_again(tmp_path):
    """The index is keyed by fingerprint: stale offsets into a rewritten file are never used."""
    source = FileSystemSource(tmp_path)
    path = tmp_path / "page.tif"
    save_pyramid(colour_grid(512, 512), path)
    reader = StoredTileReader(INDEX_BYTES)
    before = reader.read_tile(source.open_bytes, source.locate("page"), None, 0, 0)
    save_pyramid(colour_grid(512, 512).flip("horizontal").flip("vertical"), path)
    os.utime(path, ns=(1, 1))  # a fingerprint that surely differs, whatever the clock's resolution
    after = reader.read_tile(source.open_bytes, source.locate("page"), None, 0, 0)
    assert np.abs(decoded_by_pillow(before).mean(axis=(0, 1)) - QUADRANT_COLOURS[0]).max() < 6
    assert np.abs(decoded_by_pillow(after).mean(axis=(0, 1)) - QUADRANT_COLOURS[3]).max() < 6


def test_indexes_are_kept_within_their_byte_budget_most_recent_first(source):
    def indexed(identifier: str) -> int:
        with source.open_bytes(source.locate(identifier)) as stream:
            return index_bytes(index_stored_tiles(stream))

    reader = StoredTileReader(max_index_bytes=indexed("ragged-1000x700") + indexed("rgb-1024x768"))
    for identifier in ("aligned-1024x768", "ragged-1000x700", "rgb-1024x768"):
        assert reader.read_tile(source.open_bytes, source.locate(identifier), None, 0, 0) is not None
    assert sorted(Path(location).stem for location, _ in reader._indexes.keys()) == ["ragged-1000x700", "rgb-1024x768"]


def test_an_index_larger_than_the_budget_is_used_but_not_kept(source):
    reader = StoredTileReader(max_index_bytes=10)
    assert reader.read_tile(source.open_bytes, source.locate("aligned-1024x768"), None, 0, 0) is not None
    assert reader._indexes.keys() == []


# -- cut out of one stored tile ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "column", "row", "expected"),
    [
        pytest.param("ragged-1000x700", 3, 1, True, id="right edge tile, padded: read to be cut"),
        pytest.param("ragged-1000x700", 0, 2, True, id="bottom edge tile, padded"),
        pytest.param("ragged-1000x700", 4, 0, False, id="column beyond the grid"),
        pytest.param("ragged-1000x700", 0, 3, False, id="row beyond the grid"),
    ],
)
def test_a_padded_edge_tile_is_read_only_for_a_cut(source, identifier, column, row, expected):
    reader = StoredTileReader(INDEX_BYTES)
    master = source.locate(identifier)
    assert (reader.read_tile(source.open_bytes, master, None, column, row, padded=True) is not None) is expected
    assert reader.read_tile(source.open_bytes, master, None, column, row) is None


def rgb_of(encoded: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), dtype=np.int16)


def uncached_client(image_root: Path):  # noqa: ANN201 - Flask's test client
    from iiif_server import create_app
    from iiif_server.settings import Settings

    return create_app(Settings(image_root=image_root, response_cache_bytes=0, derivative_cache_bytes=0)).test_client()


def served_without_libvips_and_rendered(client, url: str,  # noqa: ANN001 - Flask's test client
                                        monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of the JPEG ``url`` (without its extension) is answered with while libvips cannot
    render, of the PNG libvips renders for it, and of libvips' own JPEG of that PNG at the server's
    quality (the error JPEG alone brings)."""
    from iiif_server.pipeline import ImagePipeline
    from iiif_server.settings import Settings

    rendered = client.get(f"{url}.png")
    assert rendered.status_code == 200

    def no_libvips(*_arguments: object) -> bytes:
        raise AssertionError("rendered with libvips")

    monkeypatch.setattr(ImagePipeline, "render_pixels", no_libvips)
    served = client.get(f"{url}.jpg")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    libvips_jpeg = pyvips.Image.new_from_buffer(rendered.data, "").jpegsave_buffer(Q=Settings().jpeg_quality)
    return rgb_of(served.data), rgb_of(rendered.data), rgb_of(libvips_jpeg)


@pytest.mark.parametrize(
    ("region", "size"),
    [
        pytest.param("768,512,232,188", "232,188", id="corner edge tile"),
        pytest.param("768,0,232,256", "232,", id="right edge tile"),
        pytest.param("300,280,100,90", "max", id="inside one tile"),
        pytest.param("512,512,488,188", "244,94", id="scale 2 edge tile"),
    ],
)
@pytest.mark.parametrize("identifier", ["ragged-1000x700", "rgb-1024x768"])
def test_a_cut_of_a_stored_tile_decodes_to_what_libvips_renders(image_root, identifier, region, size, monkeypatch):
    """The cut (Pillow) against the same request rendered by libvips as PNG: the same size, and as
    close to it as libvips' own JPEG encoding of those pixels at the same quality; libvips never ran."""
    client = uncached_client(image_root)
    actual, expected, libvips_jpeg = served_without_libvips_and_rendered(
        client, f"/iiif/3/{identifier}/{region}/{size}/0/default", monkeypatch)
    assert actual.shape == expected.shape
    # Both encoders are libjpeg-turbo with the same settings (here the bytes decode identically); a
    # cut one pixel off would differ by about 6 on average.
    assert np.abs(actual - expected).mean() <= np.abs(libvips_jpeg - expected).mean() + 0.5
    assert "iiif_stored_tile_cuts_total 1.0" in client.get("/metrics").text


@pytest.mark.parametrize("identifier", ["ragged-1000x700", "rgb-1024x768"])
def test_a_part_at_a_tiles_corner_is_its_stored_blocks_and_one_off_the_block_grid_is_encoded_again(image_root,
                                                                                                   identifier):
    """The right edge tile (at its stored tile's corner) is cropped losslessly: the stored tile's
    quantisation tables and pixels. A part starting inside a JPEG block is decoded and encoded again
    at the server's quality."""
    from iiif_server import create_app
    from iiif_server.settings import Settings

    client = create_app(Settings(image_root=image_root, response_cache_bytes=0, derivative_cache_bytes=0,
                                 jpeg_quality=70)).test_client()
    stored = client.get(f"/iiif/3/{identifier}/512,0,256,256/max/0/default.jpg")  # a whole stored tile
    edge_tile = client.get(f"/iiif/3/{identifier}/768,0,232,256/232,/0/default.jpg")
    inside = client.get(f"/iiif/3/{identifier}/300,280,100,90/max/0/default.jpg")
    assert stored.status_code == edge_tile.status_code == inside.status_code == 200

    def tables(response) -> dict:  # noqa: ANN001 - Flask's test response
        return Image.open(io.BytesIO(response.data)).quantization

    assert tables(edge_tile) == tables(stored) != tables(inside)
    stored_tile = StoredTileReader(INDEX_BYTES).read_tile(FileSystemSource(image_root).open_bytes,
                                                          FileSystemSource(image_root).locate(identifier), None, 3, 0,
                                                          padded=True)
    difference = np.abs(rgb_of(edge_tile.data) - rgb_of(stored_tile)[:, :232])
    # The same blocks: the same pixels, but in the last block column, whose chroma the decoder
    # smooths towards the cut-off neighbours the stored tile still has.
    assert (difference[:, :224] == 0).all() and difference.mean() < 0.5


def test_a_damaged_stored_tile_is_not_cut_but_left_to_libvips(source):
    from iiif_server.passthrough import cut_stored_tile
    from iiif_server.plan import Box

    tile = StoredTileReader(INDEX_BYTES).read_tile(source.open_bytes, source.locate("ragged-1000x700"), None, 3, 1,
                                                   padded=True)
    part = Box(0, 0, 232, 188)
    assert cut_stored_tile(tile, (TILE, TILE), part, 85) is not None
    assert cut_stored_tile(tile[: len(tile) // 2], (TILE, TILE), part, 85) is None  # truncated
    assert cut_stored_tile(b"\xff\xd8 not a JPEG", (TILE, TILE), part, 85) is None
    assert cut_stored_tile(tile, (TILE, 2 * TILE), part, 85) is None  # not the level's tile size


def test_a_level_whose_tile_index_is_short_is_not_handed_out(source):
    from iiif_server.passthrough import _stored_tile_level
    from iiif_server.tiff_directory import read_directories

    with source.open_bytes(source.locate("aligned-1024x768")) as stream:
        page = read_directories(stream)[None]
    assert _stored_tile_level(page) is not None
    assert _stored_tile_level(page._replace(data_offsets=page.data_offsets[:-1])) is None
    assert _stored_tile_level(page._replace(data_byte_counts=page.data_byte_counts[:-1])) is None


def test_a_viewer_tile_on_a_rounded_down_level_is_its_stored_tile_to_within_a_pixel(tmp_path):
    """4100 x 3075 px: the level at scale 4 has 768 rows (768.75 rounded down), so the viewer's tile
    rows fall 0.25-0.5 level px beside the stored ones. The stored tile is the answer, and it shows
    what rendering the exact region shows."""
    from iiif_server import create_app
    from iiif_server.settings import Settings
    from tests.web.test_ops import sample

    save_pyramid(colour_grid(4100, 3075), tmp_path / "rounded.tif")
    client = create_app(Settings(image_root=tmp_path, response_cache_bytes=0)).test_client()
    region = "1024,1024,1024,1024"  # column 1, row 1 at scale 4: level rows 255.75-511.5, stored 256-512
    served = client.get(f"/iiif/3/rounded/{region}/256,256/0/default.jpg")
    rendered = client.get(f"/iiif/3/rounded/{region}/256,256/0/default.png")
    assert served.status_code == rendered.status_code == 200
    assert sample(client.get("/metrics").text, "iiif_passthrough_tiles_total") == 1
    difference = np.abs(decoded_by_pillow(served.data) - decoded_by_pillow(rendered.data))
    assert difference.mean() < 3 and np.percentile(difference, 99) <= 24


def test_a_viewer_tile_a_pixel_taller_than_a_rounded_down_level_is_its_stored_tile_scaled(tmp_path, monkeypatch):
    """1024 x 1426 px: the level at scale 4 has 356 rows (356.5 rounded down), so the viewer asks the
    last row's 402 full-resolution rows as 101 px where 100 are stored. The stored tile is cut and
    scaled by that pixel (Pillow, no libvips), and shows what libvips renders of the exact region."""
    from tests.web.test_ops import sample

    save_pyramid(colour_grid(1024, 1426), tmp_path / "rounded.tif")
    client = uncached_client(tmp_path)
    actual, expected, libvips_jpeg = served_without_libvips_and_rendered(
        client, "/iiif/3/rounded/0,1024,1024,402/256,101/0/default", monkeypatch)
    assert sample(client.get("/metrics").text, "iiif_stored_tile_cuts_total") == 1
    assert actual.shape == expected.shape == (101, 256, 3)
    assert np.abs(actual - expected).mean() <= np.abs(libvips_jpeg - expected).mean() + 0.5
