"""PURE: an Image API URL path -> a typed request. Syntax errors are found here, without any image.

Section numbers in messages and tests refer to Image API 3.0 (https://iiif.io/api/image/3.0/) and
2.1 (https://iiif.io/api/image/2.1/).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from iiif_server.errors import BadRequest, NotImplementedFeature
from iiif_server.identifiers import check_identifier


class ApiVersion(enum.Enum):
    V2 = "2"
    V3 = "3"


class RegionKind(enum.Enum):
    FULL = "full"
    SQUARE = "square"
    PIXELS = "pixels"
    PERCENT = "percent"


@dataclass(frozen=True)
class Region:
    kind: RegionKind
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0


class SizeKind(enum.Enum):
    MAX = "max"  # 3.0 max and ^max, 2.1 max
    FULL = "full"  # 2.1 full: the region unscaled
    WIDTH = "w,"
    HEIGHT = ",h"
    PERCENT = "pct:n"
    EXACT = "w,h"
    CONFINED = "!w,h"


@dataclass(frozen=True)
class Size:
    kind: SizeKind
    width: int | None = None
    height: int | None = None
    percent: float | None = None
    # 3.0 "^": the client allows the output to be larger than the region. 2.1 always allows it.
    upscale: bool = False


@dataclass(frozen=True)
class Rotation:
    degrees: float = 0.0
    mirror: bool = False

    @property
    def canonical(self) -> str:
        # repr is the shortest text that reads back as this float; Decimal spells it without an exponent (3.0 §4.7).
        whole = self.degrees == int(self.degrees)
        number = str(int(self.degrees)) if whole else format(Decimal(repr(self.degrees)), "f")
        return ("!" if self.mirror else "") + number


class Quality(enum.Enum):
    DEFAULT = "default"
    COLOR = "color"
    GRAY = "gray"
    BITONAL = "bitonal"


class OutputFormat(enum.Enum):
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"
    TIF = "tif"
    GIF = "gif"
    JP2 = "jp2"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]

    @property
    def has_alpha(self) -> bool:
        return self is not OutputFormat.JPG


_MEDIA_TYPES = {
    OutputFormat.JPG: "image/jpeg",
    OutputFormat.PNG: "image/png",
    OutputFormat.WEBP: "image/webp",
    OutputFormat.TIF: "image/tiff",
    OutputFormat.GIF: "image/gif",
    OutputFormat.JP2: "image/jp2",
}
# Formats the specifications name that this server does not produce: a valid request, so 501.
_KNOWN_UNSUPPORTED_FORMATS = {"pdf"}


@dataclass(frozen=True)
class ImageRequest:
    version: ApiVersion
    identifier: str
    region: Region
    size: Size
    rotation: Rotation
    quality: Quality
    format: OutputFormat


@dataclass(frozen=True)
class InfoRequest:
    version: ApiVersion
    identifier: str


@dataclass(frozen=True)
class BaseUriRequest:
    """The bare image URI: answered with a 303 to its info.json."""

    version: ApiVersion
    identifier: str


# ASCII digits only: \d and int() also accept Arabic-Indic, full-width and other Unicode digits.
_INTEGER = r"[0-9]+"
_DECIMAL = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
_PIXELS_RE = re.compile(rf"({_INTEGER}),({_INTEGER}),({_INTEGER}),({_INTEGER})")
_PERCENT_RE = re.compile(rf"pct:({_DECIMAL}),({_DECIMAL}),({_DECIMAL}),({_DECIMAL})")
_WH_RE = re.compile(rf"({_INTEGER})?,({_INTEGER})?")
_ROTATION_RE = re.compile(rf"(!)?({_DECIMAL})")
# The largest number any parameter may hold. libvips cannot make an image wider than 10,000,000 px;
# bounding every number here keeps the planner's arithmetic finite (a 400-digit width overflowed a float).
MAX_NUMBER = 1_000_000_000


def parse_image_path(path: str, version: ApiVersion) -> ImageRequest | InfoRequest | BaseUriRequest:
    """Split the path after ``/iiif/{version}/`` into identifier and parameters.

    The identifier may itself contain slashes (``%2F`` arrives decoded), so the grammar is read
    from the right: ``…/info.json``, or four parameters whose last holds a ``.``, or a bare id.
    """
    if path.endswith("/info.json"):
        identifier = path[: -len("/info.json")]
        check_identifier(identifier)
        return InfoRequest(version, identifier)
    segments = path.split("/")
    if len(segments) >= 5 and "." in segments[-1]:
        identifier = "/".join(segments[:-4])
        check_identifier(identifier)
        region, size, rotation, quality_format = segments[-4:]
        quality, output_format = parse_quality_format(quality_format)
        return ImageRequest(
            version=version,
            identifier=identifier,
            region=parse_region(region),
            size=parse_size(size, version),
            rotation=parse_rotation(rotation),
            quality=quality,
            format=output_format,
        )
    check_identifier(path)
    return BaseUriRequest(version, path)


def parse_region(text: str) -> Region:
    """3.0 §4.1 / 2.1 §4.1: full | square | x,y,w,h | pct:x,y,w,h."""
    if text == "full":
        return Region(RegionKind.FULL)
    if text == "square":
        return Region(RegionKind.SQUARE)
    if match := _PIXELS_RE.fullmatch(text):
        x, y, width, height = (_bounded_integer(v, "region", text) for v in match.groups())
        kind = RegionKind.PIXELS
    elif match := _PERCENT_RE.fullmatch(text):
        x, y, width, height = (_bounded_decimal(v, "region", text) for v in match.groups())
        kind = RegionKind.PERCENT
        if x > 100 or y > 100:
            raise BadRequest(f"region {text!r}: percentages of x and y must not exceed 100")
    else:
        raise BadRequest(f"region {text!r} is not full, square, x,y,w,h or pct:x,y,w,h")
    if width <= 0 or height <= 0:
        raise BadRequest(f"region {text!r} has a zero width or height")
    return Region(kind, x, y, width, height)


def parse_size(text: str, version: ApiVersion) -> Size:
    """3.0 §4.2: [^]max | [^]w, | [^],h | [^]pct:n | [^]w,h | [^]!w,h. 2.1 §4.2: full | max | the rest, no ^."""
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    if upscale and version is ApiVersion.V2:
        raise BadRequest(f"size {text!r}: '^' belongs to Image API 3.0, not 2.1")
    if body == "max":
        return Size(SizeKind.MAX, upscale=upscale)
    if body == "full":
        if version is ApiVersion.V3:
            raise BadRequest(f"size {text!r}: 'full' was replaced by 'max' in Image API 3.0")
        return Size(SizeKind.FULL, upscale=True)
    # 2.1 lets every size form enlarge the region (sizeAboveFull).
    upscale = upscale or version is ApiVersion.V2
    if body.startswith("pct:"):
        number = body[4:]
        if not re.fullmatch(_DECIMAL, number):
            raise BadRequest(f"size {text!r}: pct: needs a number")
        percent = _bounded_decimal(number, "size", text)
        if percent <= 0:
            raise BadRequest(f"size {text!r} is zero")
        if percent > 100 and not upscale:
            raise BadRequest(f"size {text!r} enlarges the region; Image API 3.0 needs '^pct:' for that")
        return Size(SizeKind.PERCENT, percent=percent, upscale=upscale)
    confined = body.startswith("!")
    match = _WH_RE.fullmatch(body[1:] if confined else body)
    if not match or match.group(1) is None and match.group(2) is None:
        raise BadRequest(f"size {text!r} is not max, w,, ,h, pct:n, w,h or !w,h")
    width = _bounded_integer(match.group(1), "size", text) if match.group(1) is not None else None
    height = _bounded_integer(match.group(2), "size", text) if match.group(2) is not None else None
    if width == 0 or height == 0:
        raise BadRequest(f"size {text!r} has a zero width or height")
    if confined:
        if width is None or height is None:
            raise BadRequest(f"size {text!r}: !w,h needs both width and height")
        return Size(SizeKind.CONFINED, width, height, upscale=upscale)
    if width is not None and height is not None:
        return Size(SizeKind.EXACT, width, height, upscale=upscale)
    if width is not None:
        return Size(SizeKind.WIDTH, width=width, upscale=upscale)
    return Size(SizeKind.HEIGHT, height=height, upscale=upscale)


def parse_rotation(text: str) -> Rotation:
    """3.0 §4.3: [!]n with 0 <= n <= 360, any decimal."""
    match = _ROTATION_RE.fullmatch(text)
    if not match:
        raise BadRequest(f"rotation {text!r} is not a number of degrees, optionally after '!'")
    degrees = _bounded_decimal(match.group(2), "rotation", text)
    if degrees > 360:
        raise BadRequest(f"rotation {text!r} is more than 360 degrees")
    return Rotation(degrees % 360, mirror=match.group(1) is not None)


def _bounded_integer(digits: str, part: str, text: str) -> int:
    """ASCII digits as an int no larger than MAX_NUMBER; the length is checked before int(), which
    refuses (ValueError) strings of more than 4300 digits."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_NUMBER)) or int(significant or "0") > MAX_NUMBER:
        raise BadRequest(f"{part} {_shortened(text)}: a number is larger than {MAX_NUMBER}")
    return int(significant or "0")


def _bounded_decimal(digits: str, part: str, text: str) -> float:
    whole = digits.partition(".")[0].lstrip("0")
    if len(whole) > len(str(MAX_NUMBER)) or float(digits) > MAX_NUMBER:
        raise BadRequest(f"{part} {_shortened(text)}: a number is larger than {MAX_NUMBER}")
    return float(digits)


def _shortened(text: str, limit: int = 40) -> str:
    """The bad part quoted in a reason, cut so a 400-digit number does not fill the answer."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def parse_quality_format(text: str) -> tuple[Quality, OutputFormat]:
    """3.0 §4.4-4.5: quality.format."""
    quality_text, _, format_text = text.rpartition(".")
    try:
        quality = Quality(quality_text)
    except ValueError:
        raise BadRequest(f"quality {quality_text!r} is not default, color, gray or bitonal") from None
    try:
        output_format = OutputFormat(format_text)
    except ValueError:
        if format_text in _KNOWN_UNSUPPORTED_FORMATS:
            raise NotImplementedFeature(f"format {format_text!r} is not produced by this server") from None
        raise BadRequest(f"format {format_text!r} is not one of {', '.join(f.value for f in OutputFormat)}") from None
    return quality, output_format
