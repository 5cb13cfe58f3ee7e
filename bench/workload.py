"""The requests of the benchmark, as a deep-zoom viewer makes them. Pure: no files, no network.

Tile URLs follow OpenSeadragon's IIIFTileSource.getTileUrl (v4/v5) so both servers see exactly the
requests a browser would send; sessions are simulated the way a reader explores a document: a
viewport at some zoom, with the coarser tiles above it that the viewer loads first.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

VIEWPORT = (1600, 1000)  # screen pixels of a reading-room monitor


@dataclass(frozen=True)
class TiledImage:
    """What a viewer reads from info.json."""

    width: int
    height: int
    tile: int
    scale_factors: tuple[int, ...]


@dataclass(frozen=True)
class TileRequest:
    """One tile of one level: the viewer's own coordinates, before they become a URL."""

    scale_factor: int
    column: int
    row: int


def level_size(image: TiledImage, scale_factor: int) -> tuple[int, int]:
    return math.ceil(image.width / scale_factor), math.ceil(image.height / scale_factor)


def tile_grid(image: TiledImage, scale_factor: int) -> tuple[int, int]:
    width, height = level_size(image, scale_factor)
    return math.ceil(width / image.tile), math.ceil(height / image.tile)


def tile_path(image: TiledImage, tile: TileRequest, version: int) -> str:
    """``region/size/rotation/quality.format`` exactly as OpenSeadragon builds it for API 2 or 3."""
    scale = 1 / tile.scale_factor
    level_width, level_height = level_size(image, tile.scale_factor)
    if level_width < image.tile and level_height < image.tile:
        region = "full"
        if version == 2 and level_width == image.width:
            size = "full"
        elif version == 3 and (level_width, level_height) == (image.width, image.height):
            size = "max"
        else:
            size = f"{level_width},{level_height}" if version == 3 else f"{level_width},"
    else:
        region_tile = round(image.tile / scale)
        x, y = tile.column * region_tile, tile.row * region_tile
        region_width, region_height = min(region_tile, image.width - x), min(region_tile, image.height - y)
        if (tile.column, tile.row) == (0, 0) and (region_width, region_height) == (image.width, image.height):
            region = "full"
        else:
            region = f"{x},{y},{region_width},{region_height}"
        size_width = min(image.tile, level_width - tile.column * image.tile)
        size_height = min(image.tile, level_height - tile.row * image.tile)
        if version == 2 and size_width == image.width:
            size = "full"
        elif version == 3 and (size_width, size_height) == (image.width, image.height):
            size = "max"
        else:
            size = f"{size_width},{size_height}" if version == 3 else f"{size_width},"
    return f"{region}/{size}/0/default.jpg"


def viewer_session_tiles(image: TiledImage, count: int, seed: int) -> list[TileRequest]:
    """``count`` distinct tiles a reader's session loads, in a shuffled order.

    Each view picks a zoom level and a point of the document; the viewer loads the tiles under a
    VIEWPORT-sized window at that level and at every coarser level (OpenSeadragon fills in from
    the top of the pyramid). Views repeat until ``count`` distinct tiles were loaded.
    """
    total = sum(columns * rows for columns, rows in (tile_grid(image, s) for s in image.scale_factors))
    if count > total:
        raise ValueError(f"the image has only {total} tiles, fewer than the {count} asked for")
    generator = random.Random(seed)
    seen: dict[TileRequest, None] = {}
    while len(seen) < count:
        zoom = generator.choice(image.scale_factors)
        centre_x, centre_y = generator.uniform(0, image.width), generator.uniform(0, image.height)
        for scale_factor in (s for s in image.scale_factors if s >= zoom):
            columns, rows = tile_grid(image, scale_factor)
            # The window, in full-resolution pixels, of a VIEWPORT shown at this zoom.
            half_width, half_height = VIEWPORT[0] * zoom / 2, VIEWPORT[1] * zoom / 2
            span = image.tile * scale_factor
            first_column = max(0, int((centre_x - half_width) // span))
            last_column = min(columns - 1, int((centre_x + half_width) // span))
            first_row = max(0, int((centre_y - half_height) // span))
            last_row = min(rows - 1, int((centre_y + half_height) // span))
            for row in range(first_row, last_row + 1):
                for column in range(first_column, last_column + 1):
                    seen.setdefault(TileRequest(scale_factor, column, row))
                    if len(seen) == count:
                        break
                if len(seen) == count:
                    break
            if len(seen) == count:
                break
    tiles = list(seen)
    generator.shuffle(tiles)
    return tiles


def interleave(*sequences: list) -> list:  # noqa: ANN401 - any items
    """Round-robin merge, so requests to several masters alternate as they do on a busy server."""
    merged = []
    for position in range(max(len(sequence) for sequence in sequences)):
        merged += [sequence[position] for sequence in sequences if position < len(sequence)]
    return merged


def centre_region(image: TiledImage, edge: int) -> str:
    """A full-resolution ``edge`` x ``edge`` region at the document's centre (IIIF region syntax)."""
    x, y = (image.width - edge) // 2, (image.height - edge) // 2
    return f"{x},{y},{edge},{edge}"


@dataclass(frozen=True)
class MasterCopy:
    """An identifier no server was asked about before, naming a hard link of a benchmark master."""

    identifier: str
    master: str


def distinct_copies(label: str, masters: tuple[str, ...], count: int) -> tuple[MasterCopy, ...]:
    """``count`` fresh identifiers for the pass ``label``, taking the masters in turn.

    Every pass gets a label of its own (repetition, server, workload), so no identifier, and hence
    no URL, is shared between passes or servers: each answer has to be made, none can be replayed.
    """
    return tuple(MasterCopy(f"{label}-{index:05d}", masters[index % len(masters)]) for index in range(count))


def distinct_tile_walk(copies: tuple[MasterCopy, ...], sessions: dict[str, tuple[TiledImage, list[TileRequest]]],
                       version: int) -> list[str]:
    """``identifier/region/size/rotation/quality.format`` of every copy's viewer session, the copies
    interleaved as many readers opening different documents at once would be. No path repeats."""
    return interleave(*[
        [f"{copy.identifier}/{tile_path(sessions[copy.master][0], tile, version)}" for tile in sessions[copy.master][1]]
        for copy in copies
    ])
