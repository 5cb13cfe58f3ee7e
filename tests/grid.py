"""A synthetic colour grid: each cell has its own colour, so pixels tell where a region landed."""

from __future__ import annotations

from pathlib import Path

import pyvips

CELL = 100


def cell_colour(column: int, row: int) -> tuple[int, int, int]:
    """Far-apart colours (steps of 40) survive JPEG, resizing and grey conversion distinguishably."""
    return (20 + 40 * (column % 6), 20 + 40 * (row % 6), 20 + 40 * ((column + row) % 5))


def grid_image(columns: int, rows: int, cell: int = CELL) -> pyvips.Image:
    """columns x rows cells of cell px; built from pyvips operations, so large grids stream."""
    index = pyvips.Image.xyz(columns * cell, rows * cell) // cell
    column, row = index[0], index[1]
    red = (column % 6) * 40 + 20
    green = (row % 6) * 40 + 20
    blue = ((column + row) % 5) * 40 + 20
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")


def write_grid_masters(folder: Path, columns: int, rows: int, cell: int = CELL) -> dict[str, Path]:
    """The same grid as pyramidal JPEG TIFF, JPEG 2000, flat JPEG and PNG: one identifier each."""
    folder.mkdir(parents=True, exist_ok=True)
    image = grid_image(columns, rows, cell)
    paths = {
        "grid-tiff": folder / "grid-tiff.tif",
        "grid-jp2": folder / "grid-jp2.jp2",
        "grid-jpeg": folder / "grid-jpeg.jpg",
        "grid-png": folder / "grid-png.png",
    }
    image.tiffsave(str(paths["grid-tiff"]), tile=True, pyramid=True, compression="jpeg", Q=95,
                   tile_width=256, tile_height=256)
    image.jp2ksave(str(paths["grid-jp2"]), lossless=True, tile_width=256, tile_height=256)
    image.jpegsave(str(paths["grid-jpeg"]), Q=95)
    image.pngsave(str(paths["grid-png"]))
    return paths
