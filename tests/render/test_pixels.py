"""Rendering by pixels: requests through the Flask client on the generated colour grid.

The grid (tests/grid.py) has 16 x 12 cells of 100 px, each its own colour. After region, size,
rotation and mirroring, the colour at the centre of each output cell tells which cell landed there.
PNG and lossless JPEG 2000 masters keep colours exact; the JPEG-compressed pyramidal TIFF, the flat JPEG and lossy
outputs are allowed a JPEG tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import pyvips

from iiif_server.request import ApiVersion, parse_image_path
from tests.grid import CELL, cell_colour, grid_image

GRID_COLUMNS, GRID_ROWS = 16, 12  # tests/conftest.py's session grid: 1600 x 1200 px
JPEG_TOLERANCE = 12
# A uniform cell centre survives resampling exactly up to one level of rounding.
RESAMPLED_TOLERANCE = 1
MASTERS = [
    pytest.param("grid-png", 0, id="png master"),
    pytest.param("grid-jp2", 0, id="lossless jp2 master"),
    pytest.param("grid-tiff", JPEG_TOLERANCE, id="jpeg tiff pyramid"),
]


@pytest.fixture()
def client(client_on_each_source):
    """Every pixel test reads the masters from the local folder and from the bucket."""
    return client_on_each_source


def fetch(client, path: str) -> pyvips.Image:
    response = client.get(f"/iiif/3/{path}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return pyvips.Image.new_from_buffer(response.data, "")


def pixels(image: pyvips.Image) -> np.ndarray:
    """height x width x bands, whatever the encoder's band count."""
    array = image.numpy()
    return array if array.ndim == 3 else array[:, :, np.newaxis]


def centre_colours(image: pyvips.Image, columns: int, rows: int) -> np.ndarray:
    """rows x columns x bands: the colour at the centre of each of columns x rows equal cells."""
    array = pixels(image)
    height, width = array.shape[:2]
    xs = [int((column + 0.5) * width / columns) for column in range(columns)]
    ys = [int((row + 0.5) * height / rows) for row in range(rows)]
    return array[np.ix_(ys, xs)].astype(int)


def expected_cells(cells: list[list[tuple[int, int]]]) -> np.ndarray:
    """rows x columns x 3 of the grid colours of the given (column, row) cells."""
    return np.array([[cell_colour(column, row) for column, row in line] for line in cells], dtype=int)


def window(first_column: int, first_row: int, columns: int, rows: int) -> list[list[tuple[int, int]]]:
    return [[(first_column + c, first_row + r) for c in range(columns)] for r in range(rows)]


def assert_colours(actual: np.ndarray, expected: np.ndarray, tolerance: int) -> None:
    difference = np.abs(actual[..., :3] - expected)
    worst = np.unravel_index(int(difference.argmax()), difference.shape)
    assert difference.max() <= tolerance, (
        f"cell (column {worst[1]}, row {worst[0]}) is {actual[worst[0], worst[1], :3].tolist()}, "
        f"expected {expected[worst[0], worst[1]].tolist()}"
    )


@pytest.mark.parametrize(("identifier", "tolerance"), MASTERS)
def test_full_max_puts_every_cell_in_place(client, identifier: str, tolerance: int) -> None:
    image = fetch(client, f"{identifier}/full/max/0/default.png")
    assert (image.width, image.height) == (GRID_COLUMNS * CELL, GRID_ROWS * CELL)
    assert_colours(centre_colours(image, GRID_COLUMNS, GRID_ROWS),
                   expected_cells(window(0, 0, GRID_COLUMNS, GRID_ROWS)), tolerance)


@pytest.mark.parametrize(("identifier", "tolerance"), MASTERS)
@pytest.mark.parametrize(
    ("region", "box"),
    [
        pytest.param("300,200,400,300", (300, 200, 400, 300), id="3.0 sec 4.1 x,y,w,h"),
        pytest.param("1400,1000,400,400", (1400, 1000, 200, 200), id="3.0 sec 4.1 x,y,w,h cropped at the edge"),
        pytest.param("pct:25,25,50,50", (400, 300, 800, 600), id="3.0 sec 4.1 pct:"),
        pytest.param("pct:87.5,0,12.5,100", (1400, 0, 200, 1200), id="3.0 sec 4.1 pct: last columns"),
        pytest.param("square", (200, 0, 1200, 1200), id="3.0 sec 4.1 square, centred"),
    ],
)
def test_regions_cut_the_right_cells(
    client, identifier: str, tolerance: int, region: str, box: tuple[int, int, int, int]
) -> None:
    x, y, width, height = box
    image = fetch(client, f"{identifier}/{region}/max/0/default.png")
    assert (image.width, image.height) == (width, height)
    cells = window(x // CELL, y // CELL, width // CELL, height // CELL)
    assert_colours(centre_colours(image, width // CELL, height // CELL), expected_cells(cells), tolerance)
    if tolerance == 0:
        # Lossless and unscaled: every pixel, so a region off by one pixel fails too.
        expected = grid_image(GRID_COLUMNS, GRID_ROWS).crop(x, y, width, height).numpy()
        assert (pixels(image)[..., :3] == expected).all()


@pytest.mark.parametrize(("identifier", "tolerance"), MASTERS)
@pytest.mark.parametrize(
    ("size", "expected_size"),
    [
        pytest.param("400,", (400, 300), id="3.0 sec 4.2 w,"),
        pytest.param(",150", (200, 150), id="3.0 sec 4.2 ,h"),
        pytest.param("pct:25", (200, 150), id="3.0 sec 4.2 pct:n"),
        pytest.param("400,120", (400, 120), id="3.0 sec 4.2 w,h distorted"),
        pytest.param("!200,200", (200, 150), id="3.0 sec 4.2 !w,h"),
        pytest.param("^1200,", (1200, 900), id="3.0 sec 4.2 ^w, upscaled"),
    ],
)
def test_sizes_keep_every_cell_in_place(
    client, identifier: str, tolerance: int, size: str, expected_size: tuple[int, int]
) -> None:
    # 8 x 6 cells: small enough to encode fast, large enough to read a reduced pyramid level.
    image = fetch(client, f"{identifier}/0,0,800,600/{size}/0/default.png")
    assert (image.width, image.height) == expected_size
    assert_colours(centre_colours(image, 8, 6), expected_cells(window(0, 0, 8, 6)), tolerance + RESAMPLED_TOLERANCE)


def moved_cells(columns: int, rows: int, degrees: int, mirror: bool) -> list[list[tuple[int, int]]]:
    """Which source cell each output cell shows: mirror on the vertical axis first, then turn clockwise."""
    source = [[(c, r) for c in range(columns)] for r in range(rows)]
    if mirror:
        source = [line[::-1] for line in source]
    for _ in range(degrees // 90):
        # clockwise: the bottom row becomes the left column
        source = [list(line) for line in zip(*source[::-1])]
    return source


@pytest.mark.parametrize(("identifier", "tolerance"), MASTERS)
@pytest.mark.parametrize(
    ("rotation", "degrees", "mirror"),
    [
        pytest.param("90", 90, False, id="3.0 sec 4.3 90 clockwise"),
        pytest.param("180", 180, False, id="3.0 sec 4.3 180"),
        pytest.param("270", 270, False, id="3.0 sec 4.3 270"),
        pytest.param("!0", 0, True, id="3.0 sec 4.3 !0 mirrored"),
        pytest.param("!90", 90, True, id="3.0 sec 4.3 !90 mirrored, then turned"),
        pytest.param("!180", 180, True, id="3.0 sec 4.3 !180"),
    ],
)
def test_rotation_and_mirroring_move_the_corners(
    client, identifier: str, tolerance: int, rotation: str, degrees: int, mirror: bool
) -> None:
    # 5 x 3 cells: every cell of the window has its own colour, so a wrong turn cannot pass.
    image = fetch(client, f"{identifier}/100,200,500,300/max/{rotation}/default.png")
    turned = degrees % 180 == 90
    assert (image.width, image.height) == ((300, 500) if turned else (500, 300))
    expected = [[(column + 1, row + 2) for column, row in line] for line in moved_cells(5, 3, degrees, mirror)]
    columns, rows = (3, 5) if turned else (5, 3)
    assert_colours(centre_colours(image, columns, rows), expected_cells(expected), tolerance)


def test_moved_cells_turns_clockwise() -> None:
    """The oracle itself: after 90 degrees clockwise the top-left cell is at the top right."""
    assert moved_cells(3, 2, 90, False) == [[(0, 1), (0, 0)], [(1, 1), (1, 0)], [(2, 1), (2, 0)]]
    assert moved_cells(3, 2, 0, True) == [[(2, 0), (1, 0), (0, 0)], [(2, 1), (1, 1), (0, 1)]]


ARBITRARY_DEGREES = 30


def rotated_point(x: float, y: float, width: int, height: int, out_width: int, out_height: int) -> tuple[int, int]:
    """Where a point of the unrotated image lands after turning clockwise about the centre."""
    radians = math.radians(ARBITRARY_DEGREES)
    dx, dy = x - width / 2, y - height / 2
    return (round(out_width / 2 + dx * math.cos(radians) - dy * math.sin(radians)),
            round(out_height / 2 + dx * math.sin(radians) + dy * math.cos(radians)))


@pytest.mark.parametrize(
    ("output_format", "background", "tolerance"),
    [
        pytest.param("png", None, 0, id="3.0 sec 4.3 png: transparent background"),
        pytest.param("jpg", (255, 255, 255), JPEG_TOLERANCE, id="3.0 sec 4.3 jpg: white background"),
    ],
)
def test_arbitrary_rotation(client, output_format: str, background: tuple[int, int, int] | None, tolerance: int) -> None:
    # 5 x 3 cells from (1, 2): the centre of the region is the centre of cell (3, 3).
    width, height = 500, 300
    image = fetch(client, f"grid-png/100,200,{width},{height}/max/{ARBITRARY_DEGREES}/default.{output_format}")
    radians = math.radians(ARBITRARY_DEGREES)
    bounding_width = width * math.cos(radians) + height * math.sin(radians)
    bounding_height = width * math.sin(radians) + height * math.cos(radians)
    assert abs(image.width - bounding_width) <= 1.5 and abs(image.height - bounding_height) <= 1.5
    array = pixels(image).astype(int)
    corners = [array[1, 1], array[1, -2], array[-2, 1], array[-2, -2]]
    for corner in corners:
        if background is None:
            assert corner[3] == 0, "corners outside the turned image are transparent"
        else:
            assert np.abs(corner[:3] - background).max() <= tolerance, corner.tolist()
    centre = array[image.height // 2, image.width // 2, :3]
    assert np.abs(centre - cell_colour(3, 3)).max() <= tolerance
    # The cell centres of the region's first and last cells land where a clockwise turn puts them.
    for column, row in ((0, 0), (4, 0), (0, 2), (4, 2)):
        x, y = rotated_point((column + 0.5) * CELL, (row + 0.5) * CELL, width, height, image.width, image.height)
        expected = cell_colour(column + 1, row + 2)
        assert np.abs(array[y, x, :3] - expected).max() <= tolerance, (column, row, array[y, x].tolist())
        if background is None:
            assert array[y, x, 3] == 255


def luminance(colour: tuple[int, int, int]) -> float:
    """Relative luminance (sRGB decoded to linear light, Rec. 709 weights), what a grey rendering keeps."""
    red, green, blue = (
        value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
        for value in (channel / 255 for channel in colour)
    )
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@pytest.mark.parametrize("output_format", ["png", "jpg"])
def test_gray_is_gray_and_keeps_the_luminance_order(client, output_format: str) -> None:
    image = fetch(client, f"grid-png/0,0,600,600/max/0/gray.{output_format}")
    cells = centre_colours(image, 6, 6)
    if cells.shape[2] >= 3:
        assert (cells[..., 0] == cells[..., 1]).all() and (cells[..., 1] == cells[..., 2]).all()
    greys = cells[..., 0]
    colours = [cell_colour(column, row) for row in range(6) for column in range(6)]
    flat = greys.flatten()
    for first in range(len(colours)):
        for second in range(len(colours)):
            # clearly different luminances (0.02 of white) keep their order
            if luminance(colours[first]) > luminance(colours[second]) + 0.02:
                assert flat[first] > flat[second], (colours[first], colours[second])


def test_bitonal_is_only_black_and_white(client) -> None:
    image = fetch(client, "grid-png/0,0,600,600/max/0/bitonal.png")
    values = np.unique(pixels(image)[..., 0])
    assert set(values.tolist()) <= {0, 255}
    cells = centre_colours(image, 6, 6)[..., 0]
    assert cells[0, 0] == 0, "the darkest cell (20, 20, 20) turns black"
    assert cells[5, 5] == 255, "the light cell (220, 220, 20) turns white"


@pytest.mark.parametrize(
    ("output_format", "media_type", "tolerance"),
    [
        pytest.param("jpg", "image/jpeg", JPEG_TOLERANCE, id="3.0 sec 4.5 jpg"),
        pytest.param("png", "image/png", RESAMPLED_TOLERANCE, id="3.0 sec 4.5 png"),
        pytest.param("webp", "image/webp", JPEG_TOLERANCE, id="3.0 sec 4.5 webp"),
        pytest.param("tif", "image/tiff", RESAMPLED_TOLERANCE, id="3.0 sec 4.5 tif"),
        pytest.param("gif", "image/gif", JPEG_TOLERANCE, id="3.0 sec 4.5 gif"),
        pytest.param("jp2", "image/jp2", JPEG_TOLERANCE, id="3.0 sec 4.5 jp2"),
    ],
)
def test_every_output_format_decodes_to_the_right_size(
    client, output_format: str, media_type: str, tolerance: int
) -> None:
    response = client.get(f"/iiif/3/grid-png/full/400,/0/default.{output_format}")
    assert response.status_code == 200
    assert response.mimetype == media_type
    image = pyvips.Image.new_from_buffer(response.data, "")
    assert (image.width, image.height) == (400, 300)
    assert_colours(centre_colours(image, GRID_COLUMNS, GRID_ROWS),
                   expected_cells(window(0, 0, GRID_COLUMNS, GRID_ROWS)), tolerance)


@pytest.mark.parametrize("size", ["200,", "400,", "pct:25"])
def test_a_reduced_request_on_the_pyramid_matches_the_png(client, size: str) -> None:
    """The pyramidal TIFF answers from a reduced level with the same cells as the PNG's full decode."""
    prepared = client.application.extensions["iiif"].prepare(
        parse_image_path(f"grid-tiff/full/{size}/0/default.png", ApiVersion.V3)
    )
    assert prepared.plan.level_index > 0
    from_pyramid = centre_colours(fetch(client, f"grid-tiff/full/{size}/0/default.png"), GRID_COLUMNS, GRID_ROWS)
    from_png = centre_colours(fetch(client, f"grid-png/full/{size}/0/default.png"), GRID_COLUMNS, GRID_ROWS)
    assert np.abs(from_pyramid - from_png).max() <= JPEG_TOLERANCE
    assert_colours(from_png, expected_cells(window(0, 0, GRID_COLUMNS, GRID_ROWS)), RESAMPLED_TOLERANCE)


@pytest.mark.parametrize(
    ("path", "shrink", "cells", "output_size"),
    [
        pytest.param("full/pct:50", 2, window(0, 0, GRID_COLUMNS, GRID_ROWS), (800, 600), id="3.0 sec 4.2 pct:50, shrink 2"),
        pytest.param("full/400,", 4, window(0, 0, GRID_COLUMNS, GRID_ROWS), (400, 300), id="3.0 sec 4.2 w, shrink 4"),
        pytest.param("full/!200,200", 8, window(0, 0, GRID_COLUMNS, GRID_ROWS), (200, 150),
                     id="3.0 sec 4.2 !w,h shrink 8"),
        pytest.param("300,200,800,600/200,", 4, window(3, 2, 8, 6), (200, 150),
                     id="3.0 sec 4.1 x,y,w,h on the shrunk image"),
        pytest.param("300,200,800,600/max", None, window(3, 2, 8, 6), (800, 600), id="3.0 sec 4.1 full resolution"),
    ],
)
def test_a_flat_jpeg_is_shrunk_while_it_loads_and_keeps_every_cell_in_place(
    client, path: str, shrink: int | None, cells: list[list[tuple[int, int]]], output_size: tuple[int, int]
) -> None:
    """libvips decodes a flat JPEG at 1/2, 1/4 or 1/8 of its size (shrink-on-load, DCT scaling): the
    plan picks the largest shrink that is not smaller than the output, and the cells stay in place."""
    prepared = client.application.extensions["iiif"].prepare(
        parse_image_path(f"grid-jpeg/{path}/0/default.png", ApiVersion.V3)
    )
    assert prepared.plan.level.load_option == (None if shrink is None else ("shrink", shrink))
    image = fetch(client, f"grid-jpeg/{path}/0/default.png")
    assert (image.width, image.height) == output_size
    columns, rows = len(cells[0]), len(cells)
    assert_colours(centre_colours(image, columns, rows), expected_cells(cells), JPEG_TOLERANCE + RESAMPLED_TOLERANCE)


def fetch_v2(client, path: str) -> pyvips.Image:
    response = client.get(f"/iiif/2/{path}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return pyvips.Image.new_from_buffer(response.data, "")


@pytest.mark.parametrize(("identifier", "tolerance"), MASTERS)
@pytest.mark.parametrize(
    ("path", "cells", "output_size"),
    [
        pytest.param("full/full/0/default.png", window(0, 0, GRID_COLUMNS, GRID_ROWS), (1600, 1200),
                     id="2.1 sec 4.1 full, 4.2 full"),
        pytest.param("300,200,400,300/full/0/default.png", window(3, 2, 4, 3), (400, 300), id="2.1 sec 4.1 x,y,w,h"),
        pytest.param("pct:25,25,50,50/400,/0/default.png", window(4, 3, 8, 6), (400, 300), id="2.1 sec 4.1 pct:, 4.2 w,"),
        pytest.param("square/,150/0/default.png", window(2, 0, 12, 12), (150, 150), id="2.1 sec 4.1 square, 4.2 ,h"),
        pytest.param("0,0,800,600/pct:25/0/color.png", window(0, 0, 8, 6), (200, 150), id="2.1 sec 4.2 pct:n, 4.4 color"),
        pytest.param("0,0,800,600/!200,200/0/default.png", window(0, 0, 8, 6), (200, 150), id="2.1 sec 4.2 !w,h"),
        pytest.param("0,0,800,600/1200,/0/default.png", window(0, 0, 8, 6), (1200, 900),
                     id="2.1 sec 4.2 w, above the region without ^"),
        pytest.param("100,200,500,300/full/90/default.png",
                     [[(column + 1, row + 2) for column, row in line] for line in moved_cells(5, 3, 90, False)],
                     (300, 500), id="2.1 sec 4.3 90"),
        pytest.param("100,200,500,300/full/!180/default.png",
                     [[(column + 1, row + 2) for column, row in line] for line in moved_cells(5, 3, 180, True)],
                     (500, 300), id="2.1 sec 4.3 !180 mirrored"),
    ],
)
def test_the_21_api_puts_every_cell_in_place(
    client, identifier: str, tolerance: int, path: str, cells: list[list[tuple[int, int]]],
    output_size: tuple[int, int],
) -> None:
    image = fetch_v2(client, f"{identifier}/{path}")
    assert (image.width, image.height) == output_size
    columns, rows = len(cells[0]), len(cells)
    resampled = output_size not in ((1600, 1200), (columns * CELL, rows * CELL), (rows * CELL, columns * CELL))
    assert_colours(centre_colours(image, columns, rows), expected_cells(cells),
                   tolerance + (RESAMPLED_TOLERANCE if resampled else 0))


@pytest.mark.parametrize("quality", [pytest.param("gray", id="2.1 sec 4.4 gray"),
                                     pytest.param("bitonal", id="2.1 sec 4.4 bitonal")])
def test_the_21_api_gray_and_bitonal_are_the_30_pixels(client, quality: str) -> None:
    version_2 = pixels(fetch_v2(client, f"grid-png/full/400,/0/{quality}.png"))
    version_3 = pixels(fetch(client, f"grid-png/full/400,/0/{quality}.png"))
    assert version_2.shape == version_3.shape and (version_2 == version_3).all()
    colour_spread = np.ptp(version_2[..., :3], axis=2).max() if version_2.shape[2] >= 3 else 0
    assert colour_spread == 0
    if quality == "bitonal":
        assert set(np.unique(version_2[..., 0]).tolist()) == {0, 255}
