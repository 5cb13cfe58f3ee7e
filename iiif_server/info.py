"""What the server knows about one master (ImageInfo) and the info.json documents built from it. Pure."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from iiif_server.sources.base import Fingerprint


class MasterKind(enum.Enum):
    PYRAMIDAL_TIFF = "pyramidal-tiff"  # reduced levels stored as further pages (or SubIFDs)
    JPEG2000 = "jpeg2000"  # reduced levels decoded from the wavelet resolutions
    JPEG = "jpeg"  # flat, shrink-on-load by 2, 4, 8 in the DCT
    FLAT = "flat"  # PNG, strip TIFF, WebP, GIF: read sequentially, reduced while reading


class Level(NamedTuple):
    """One resolution the master can be read at without decoding a larger one. A named tuple: the
    probe builds one per level for every master it has not seen, and a frozen dataclass takes three
    times as long to build."""

    width: int
    height: int
    # The libvips loader option that opens this level: ("page", 2), ("subifd", 0), ("shrink", 4)
    # or None for the full resolution.
    load_option: tuple[str, int] | None
    # Size of the tiles this level is stored in, if it is tiled (TIFF tiles, JPEG 2000 tiles).
    stored_tile: tuple[int, int] | None = None


@dataclass(frozen=True)
class Jpeg2000Layout:
    """A JPEG 2000 codestream simple enough for the server's own OpenJPEG reader: 8-bit unsigned
    RGB (3 bands) or grey (1 band), sRGB or with an ICC profile the renderer converts from, no
    subsampling, image and tile grid starting at 0."""

    width: int
    height: int
    tile_width: int  # the code-tile size at full resolution (the whole image when untiled)
    tile_height: int
    bands: int


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    kind: MasterKind
    levels: tuple[Level, ...]  # largest first; levels[0] is the full resolution
    tile_width: int
    tile_height: int
    scale_factors: tuple[int, ...]
    fingerprint: Fingerprint
    has_alpha: bool = False
    # Pyramidal TIFF whose every level stores baseline JPEG tiles: requests on that grid can be
    # answered with the stored bytes.
    stored_jpeg_tiles: bool = False
    # Set when the server's OpenJPEG reader can decode regions of this JPEG 2000 master.
    jpeg2000_layout: Jpeg2000Layout | None = None
    # The embedded ICC profile the pixels are in, when it is not sRGB in effect (see colour.py):
    # every response is converted from it to sRGB, and no stored tile is handed out as it is.
    colour_profile: bytes | None = None

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """Sizes cheap to deliver whole: every level that is itself smaller than the full image."""
        return tuple(sorted({(level.width, level.height) for level in self.levels[1:]}))


@dataclass(frozen=True)
class ServiceLimits:
    max_width: int
    max_height: int
    max_area: int


# Both API versions render the same things; only the names in info.json differ.
OUTPUT_FORMATS = ("jpg", "png", "webp", "tif", "gif", "jp2")
QUALITIES = ("default", "color", "gray", "bitonal")
V3_FEATURES = (
    "baseUriRedirect",
    "canonicalLinkHeader",
    "cors",
    "jsonldMediaType",
    "mirroring",
    "profileLinkHeader",
    "regionByPct",
    "regionByPx",
    "regionSquare",
    "rotationArbitrary",
    "rotationBy90s",
    "sizeByConfinedWh",
    "sizeByH",
    "sizeByPct",
    "sizeByW",
    "sizeByWh",
    "sizeUpscaling",
)
# What "profile": "level2" already promises (Image API 3.0 compliance §3, §4): the extra* properties
# list only what goes beyond it (3.0 §5.6). Every quality is level 2, so there is no extraQualities.
LEVEL2_FORMATS = ("jpg", "png")
LEVEL2_FEATURES = (
    "baseUriRedirect",
    "cors",
    "jsonldMediaType",
    "regionByPct",
    "regionByPx",
    "regionSquare",
    "rotationBy90s",
    "sizeByConfinedWh",
    "sizeByH",
    "sizeByPct",
    "sizeByW",
    "sizeByWh",
)
# 2.1 names the same abilities, except that enlarging is "sizeAboveFull" and w,h is "sizeByDistortedWh".
V2_SUPPORTS = tuple(
    sorted({feature for feature in V3_FEATURES if feature != "sizeUpscaling"} | {"sizeAboveFull", "sizeByDistortedWh"})
)
V3_CONTEXT = "http://iiif.io/api/image/3/context.json"
V2_CONTEXT = "http://iiif.io/api/image/2/context.json"
V3_PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
V2_PROFILE_URI = "http://iiif.io/api/image/2/level2.json"


def _sizes_within(info: ImageInfo, limits: ServiceLimits) -> list[dict[str, int]]:
    return [
        {"width": width, "height": height}
        for width, height in info.sizes
        if width <= limits.max_width and height <= limits.max_height and width * height <= limits.max_area
    ]


def _tiles(info: ImageInfo) -> list[dict[str, object]]:
    return [{"width": info.tile_width, "height": info.tile_height, "scaleFactors": list(info.scale_factors)}]


def info_json_v3(info: ImageInfo, service_id: str, limits: ServiceLimits) -> dict[str, object]:
    return {
        "@context": V3_CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": info.width,
        "height": info.height,
        "maxWidth": limits.max_width,
        "maxHeight": limits.max_height,
        "maxArea": limits.max_area,
        "sizes": _sizes_within(info, limits),
        "tiles": _tiles(info),
        "preferredFormats": ["jpg"],
        "extraFormats": [f for f in OUTPUT_FORMATS if f not in LEVEL2_FORMATS],
        "extraFeatures": [feature for feature in V3_FEATURES if feature not in LEVEL2_FEATURES],
    }


def info_json_v2(info: ImageInfo, service_id: str, limits: ServiceLimits) -> dict[str, object]:
    return {
        "@context": V2_CONTEXT,
        "@id": service_id,
        "protocol": "http://iiif.io/api/image",
        "width": info.width,
        "height": info.height,
        "sizes": _sizes_within(info, limits),
        "tiles": _tiles(info),
        "profile": [
            V2_PROFILE_URI,
            {
                "formats": list(OUTPUT_FORMATS),
                "qualities": list(QUALITIES),
                "supports": list(V2_SUPPORTS),
                "maxWidth": limits.max_width,
                "maxHeight": limits.max_height,
                "maxArea": limits.max_area,
            },
        ],
    }
