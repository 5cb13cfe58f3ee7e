"""PURE: plan an ImageRequest against an ImageInfo and the service limits.

The plan says which resolution level to read, which box of it to crop, the exact output size, and
the canonical form of the request (the derivative-cache key and the Link rel="canonical"). Every
bounds and limit error is raised here, before anything is decoded.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from iiif_server.errors import BadRequest, LimitExceeded
from iiif_server.info import ImageInfo, Level, MasterKind, ServiceLimits
from iiif_server.request import (
    ApiVersion,
    ImageRequest,
    OutputFormat,
    Quality,
    Region,
    RegionKind,
    Rotation,
    Size,
    SizeKind,
)


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def text(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"

    def contains(self, other: Box) -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom

    def intersection(self, other: Box) -> Box | None:
        """The part both boxes cover, or None when they do not overlap."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        return Box(left, top, right - left, bottom - top) if right > left and bottom > top else None


class LevelReader(enum.Enum):
    """How the renderer gets the pixels of the crop."""

    OPENED_LEVEL = "opened level"  # libvips, random access into a level opened once per worker
    SEQUENTIAL = "sequential"  # libvips, one pass top to bottom (flat JPEG, PNG)
    JPEG2000_REGION = "jpeg2000 region"  # OpenJPEG, only the code-tiles under the crop, into memory


# Crops up to a 2048 px region at full resolution (12 MiB decoded) go to the OpenJPEG reader, which
# holds the crop's pixels; larger crops stay with libvips, which streams them. A level libvips opens
# is kept per worker with its own OpenJPEG decoder and its tile headers (15 MB more resident per level
# of the 16k JP2, 55 MB of the 40k), which the reader never holds. For a 2048 px region of the 16k
# JP2 the reader took 1.33 s of CPU against libvips' 1.41 s.
JPEG2000_REGION_MAX_PIXELS = 2048 * 2048


@dataclass(frozen=True)
class StoredTilePart:
    """The stored tile at ``column``, ``row`` of the chosen level (``tile_size`` its stored size),
    and ``part`` of it (in the tile's pixels) that is the response."""

    column: int
    row: int
    part: Box
    tile_size: tuple[int, int]
    # The answer's size when it is the part scaled by one pixel (a viewer's tile at the edge of a level
    # its writer rounded down: see grid_cell); None when it is the part as it is.
    scaled_to: tuple[int, int] | None = None

    @property
    def whole(self) -> bool:
        """The tile's bytes are the answer as they are (passthrough); else the part is cut out of the
        decoded tile (edge tiles, stored padded; crops inside one tile), and scaled if need be."""
        return self.scaled_to is None and self.part == Box(0, 0, *self.tile_size)


@dataclass(frozen=True)
class RenderPlan:
    identifier: str
    level_index: int
    level: Level
    crop: Box  # in the chosen level's pixels
    region: Box  # in full-resolution pixels
    width: int  # output size after scaling, before rotation
    height: int
    rotation: Rotation
    quality: Quality
    format: OutputFormat
    reader: LevelReader
    canonical: str  # "{region}/{size}/{rotation}/{quality}.{format}" in the request's API version
    # The master's stored JPEG tile this response lies in, when it is one unscaled part of one tile.
    stored_tile: StoredTilePart | None
    # The ICC profile the master's pixels are in, to convert to sRGB from; None if they are sRGB.
    colour_profile: bytes | None = None

    @property
    def scale_x(self) -> float:
        return self.width / self.crop.width

    @property
    def scale_y(self) -> float:
        return self.height / self.crop.height

    @property
    def output_pixels(self) -> int:
        """Pixels of the response: the rotated bounding box when the rotation is not a right angle."""
        if self.rotation.degrees % 90 == 0:
            return self.width * self.height
        radians = math.radians(self.rotation.degrees)
        cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
        return math.ceil(self.width * cos + self.height * sin) * math.ceil(self.width * sin + self.height * cos)


def plan_render(request: ImageRequest, info: ImageInfo, limits: ServiceLimits) -> RenderPlan:
    region = region_box(request.region, info.width, info.height)
    width, height = output_size(request.size, region, limits, request.version)
    check_limits(width, height, limits, request)
    level_index, level = choose_level(info.levels, info.width, info.height, region, width, height)
    crop = level_crop(region, level, info.width, info.height)
    return RenderPlan(
        identifier=request.identifier,
        level_index=level_index,
        level=level,
        crop=crop,
        region=region,
        width=width,
        height=height,
        rotation=request.rotation,
        quality=request.quality,
        format=request.format,
        reader=level_reader(info, crop),
        canonical=canonical_form(request, info, region, width, height),
        stored_tile=stored_tile(request, info, level, region, crop, width, height),
        colour_profile=info.colour_profile,
    )


def level_reader(info: ImageInfo, crop: Box) -> LevelReader:
    if info.kind in (MasterKind.JPEG, MasterKind.FLAT):
        # Decoded top to bottom: the renderer must not ask for pixels out of order.
        return LevelReader.SEQUENTIAL
    if info.jpeg2000_layout is not None and crop.width * crop.height <= JPEG2000_REGION_MAX_PIXELS:
        return LevelReader.JPEG2000_REGION
    return LevelReader.OPENED_LEVEL


def region_box(region: Region, image_width: int, image_height: int) -> Box:
    """3.0 §4.1: the region in image pixels, cropped to the image; 400 if nothing is left."""
    if region.kind is RegionKind.FULL:
        return Box(0, 0, image_width, image_height)
    if region.kind is RegionKind.SQUARE:
        side = min(image_width, image_height)
        return Box((image_width - side) // 2, (image_height - side) // 2, side, side)
    if region.kind is RegionKind.PERCENT:
        left = _round(region.x * image_width / 100)
        top = _round(region.y * image_height / 100)
        right = _round((region.x + region.width) * image_width / 100)
        bottom = _round((region.y + region.height) * image_height / 100)
    else:
        left, top = int(region.x), int(region.y)
        right, bottom = left + int(region.width), top + int(region.height)
    right, bottom = min(right, image_width), min(bottom, image_height)
    if left >= image_width or top >= image_height or right <= left or bottom <= top:
        raise BadRequest(f"region lies outside the {image_width}x{image_height} image")
    return Box(left, top, right - left, bottom - top)


def _round(value: float) -> int:
    """Half up, not Python's half-to-even, so pct: regions tile without gaps."""
    return math.floor(value + 0.5)


def output_size(size: Size, region: Box, limits: ServiceLimits, version: ApiVersion) -> tuple[int, int]:
    """3.0 §4.2 / 2.1 §4.2: the output size in pixels (before rotation)."""
    rw, rh = region.width, region.height
    if size.kind is SizeKind.FULL:
        return rw, rh
    # The scale that fills the limits: max, ^max and !w,h never go beyond it.
    limit_scale = min(limits.max_width / rw, limits.max_height / rh, math.sqrt(limits.max_area / (rw * rh)))
    if size.kind is SizeKind.MAX:
        scale = limit_scale if size.upscale else min(limit_scale, 1.0)
        if scale == 1.0:
            return rw, rh
        # floor keeps the result inside every limit
        return max(1, math.floor(rw * scale)), max(1, math.floor(rh * scale))
    if size.kind is SizeKind.WIDTH:
        width = size.width or 0
        height = max(1, _round(rh * width / rw))
    elif size.kind is SizeKind.HEIGHT:
        height = size.height or 0
        width = max(1, _round(rw * height / rh))
    elif size.kind is SizeKind.PERCENT:
        percent = size.percent or 0
        width, height = _round(rw * percent / 100), _round(rh * percent / 100)
        if width < 1 or height < 1:
            raise BadRequest(f"size pct:{percent:g} of the {rw}x{rh} region is less than one pixel")
    elif size.kind is SizeKind.EXACT:
        width, height = size.width or 0, size.height or 0
    else:
        box_width, box_height = size.width or 0, size.height or 0
        if not size.upscale and min(box_width / rw, box_height / rh) > 1:
            # 3.0 §4.2 reads as "give the region", but the IIIF validator (size_noup) demands a 400;
            # conformance is measured with the validator, so the client is told to add "^".
            raise BadRequest(
                f"size !{box_width},{box_height} would enlarge the {rw}x{rh} region; Image API 3.0 needs '^' to upscale"
            )
        if version is ApiVersion.V3:
            # 3.0: "as large as possible but not larger than ... server-imposed limits": shrink the box.
            box_width = min(box_width, max(1, math.floor(rw * limit_scale)))
            box_height = min(box_height, max(1, math.floor(rh * limit_scale)))
        if box_width / rw <= box_height / rh:
            width, height = box_width, min(box_height, max(1, _round(rh * box_width / rw)))
        else:
            width, height = min(box_width, max(1, _round(rw * box_height / rh))), box_height
    if not size.upscale and (width > rw or height > rh):
        raise BadRequest(
            f"size {width}x{height} is larger than the {rw}x{rh} region; Image API 3.0 needs '^' to upscale"
        )
    return width, height


def check_limits(width: int, height: int, limits: ServiceLimits, request: ImageRequest) -> None:
    """3.0 sec 5.3: maxWidth, maxHeight and maxArea bound the image as returned, that is after the
    sec 4.3 rotation: 90 and 270 degrees swap its sides, other angles enlarge it to the rotated
    bounding box (10,000 x 1,000 at 5.7 degrees is 10,050 px wide)."""
    rotated_width, rotated_height = rotated_size(width, height, request.rotation.degrees)
    described = "output" if (rotated_width, rotated_height) == (width, height) else "rotated output"
    if rotated_width > limits.max_width:
        raise LimitExceeded(f"{described} width {rotated_width} exceeds maxWidth {limits.max_width}")
    if rotated_height > limits.max_height:
        raise LimitExceeded(f"{described} height {rotated_height} exceeds maxHeight {limits.max_height}")
    if rotated_width * rotated_height > limits.max_area:
        raise LimitExceeded(f"{described} area {rotated_width}x{rotated_height} exceeds maxArea {limits.max_area}")


def rotated_size(width: int, height: int, degrees: float) -> tuple[int, int]:
    """The size of a width x height image turned clockwise by ``degrees``, as the renderer makes it:
    the bounding box of the turned image, rounded up to whole pixels."""
    if degrees % 180 == 0:
        return width, height
    if degrees % 90 == 0:
        return height, width
    radians = math.radians(degrees)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    # The tolerance keeps an exact fit (a float a hair above a whole number) at that number.
    return math.ceil(width * cos + height * sin - 1e-9), math.ceil(width * sin + height * cos - 1e-9)


def choose_level(
    levels: tuple[Level, ...], full_width: int, full_height: int, region: Box, width: int, height: int
) -> tuple[int, Level]:
    """The smallest level whose copy of the region is still at least the output size.

    The copy is measured at the level's true scale, the full size over its factor (every level here
    halves the one before: TIFF pyramids, JPEG 2000 resolutions, JPEG shrinks), not at the size its
    writer rounded it to; up to one pixel of slack absorbs the viewer's rounding of tile sizes
    (OpenSeadragon asks for ceil(region / scale)). So a tile on a level's grid, or the whole image at
    a level's width, is read from that level even where the writer rounded it down: interior tiles
    at scale 4 of a 1027 px image are 0.75 px short of it, and `full/250,` of the 16,000 x 12,000 px
    master is 250 x 188 px, where that level has 250 x 187. The plan then scales by that pixel
    rather than read a level four times larger.
    """
    chosen = 0
    for index, level in enumerate(levels):
        # The larger ratio of the two sides: a level's short side may be clamped to one pixel.
        factor = 2 ** round(math.log2(max(full_width / level.width, full_height / level.height)))
        if region.width / factor + 1 > width and region.height / factor + 1 > height:
            chosen = index
    return chosen, levels[chosen]


def level_crop(region: Box, level: Level, full_width: int, full_height: int) -> Box:
    """The region in the level's pixels, widened to whole pixels (never empty)."""
    sx, sy = level.width / full_width, level.height / full_height
    left = min(level.width - 1, math.floor(region.x * sx + 1e-9))
    top = min(level.height - 1, math.floor(region.y * sy + 1e-9))
    right = max(left + 1, min(level.width, math.ceil(region.right * sx - 1e-9)))
    bottom = max(top + 1, min(level.height, math.ceil(region.bottom * sy - 1e-9)))
    return Box(left, top, right - left, bottom - top)


def stored_tile(
    request: ImageRequest, info: ImageInfo, level: Level, region: Box, crop: Box, width: int, height: int
) -> StoredTilePart | None:
    """The stored tile the answer is an unscaled JPEG part of: the same grid cell and size (its bytes
    are the answer), or a smaller box inside one cell."""
    if not info.stored_jpeg_tiles or level.stored_tile is None:
        return None
    if request.format is not OutputFormat.JPG or request.quality not in (Quality.DEFAULT, Quality.COLOR):
        return None
    if request.rotation != Rotation():
        return None
    tile_width, tile_height = level.stored_tile
    crop = grid_cell(region, level, info.width, info.height, level.stored_tile) or crop
    if abs(width - crop.width) > 1 or abs(height - crop.height) > 1:
        return None
    column, row = crop.x // tile_width, crop.y // tile_height
    if (crop.right - 1) // tile_width != column or (crop.bottom - 1) // tile_height != row:
        return None  # across a tile edge
    part = Box(crop.x - column * tile_width, crop.y - row * tile_height, crop.width, crop.height)
    # Edge tiles are stored padded to the full tile size: never whole, their part is cut out.
    scaled_to = None if (width, height) == (crop.width, crop.height) else (width, height)
    return StoredTilePart(column, row, part, level.stored_tile, scaled_to)


def grid_cell(region: Box, level: Level, full_width: int, full_height: int, tile_size: tuple[int, int]) -> Box | None:
    """The cell of the level's tile grid (cut at the level's edges) whose every edge lies within one
    level pixel of the region's, or None.

    A writer rounds each level's size down: the 40,000 × 30,000 px master's level at scale 32 has 937
    rows, not 937.5, so its grid rows do not fall on the viewer's (a row of 256 covers 8,196.4
    full-resolution rows, not 8,192). Read to the pixel, the viewer's tile would straddle two stored
    tiles and be rendered; served as the cell, as IIPImage serves it, it is off by under one pixel.
    """
    tile_width, tile_height = tile_size
    sx, sy = level.width / full_width, level.height / full_height
    column, row = round(region.x * sx / tile_width), round(region.y * sy / tile_height)
    left, top = column * tile_width, row * tile_height
    right, bottom = min(level.width, left + tile_width), min(level.height, top + tile_height)
    if right <= left or bottom <= top:
        return None
    edges = ((region.x * sx, left), (region.right * sx, right), (region.y * sy, top), (region.bottom * sy, bottom))
    if all(abs(exact - cell) < 1 for exact, cell in edges):
        return Box(left, top, right - left, bottom - top)
    return None


def canonical_form(request: ImageRequest, info: ImageInfo, region: Box, width: int, height: int) -> str:
    """3.0 §4.7 / 2.1 §4.7: one spelling per distinct response."""
    is_full = region == Box(0, 0, info.width, info.height)
    region_text = "full" if is_full else region.text
    unscaled = (width, height) == (region.width, region.height)
    if request.version is ApiVersion.V3:
        if request.size.kind is SizeKind.MAX:
            size_text = "^max" if request.size.upscale else "max"
        elif unscaled:
            size_text = "max"
        else:
            size_text = ("^" if width > region.width or height > region.height else "") + f"{width},{height}"
    elif unscaled:
        size_text = "full"
    elif height == max(1, _round(region.height * width / region.width)):
        size_text = f"{width},"
    else:
        size_text = f"{width},{height}"
    return f"{region_text}/{size_text}/{request.rotation.canonical}/{request.quality.value}.{request.format.value}"
