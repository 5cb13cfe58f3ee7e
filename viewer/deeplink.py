"""PURE: deep links into a document, as IIIF Content State 1.0 and as ``canvas=`` / ``xywh=`` parameters.

A content state names a manifest, optionally one of its canvases and a region of it. On the wire it is
either a plain URI or JSON encoded per Content State 1.0 section 6: ``encodeURIComponent`` of the JSON
text, then base64url without padding, so it survives every layer of re-encoding between sites.
``viewer/static/deeplink.js`` is the browser's twin of this module; the tests run one table against both.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

# A deep link's region is the same rectangle curators give exhibition items: canvas pixels.
from manifests.model import Region

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"

# The characters ECMAScript's encodeURIComponent leaves alone besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"
_XYWH = re.compile(r"^(?:pixel:)?(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$")


class DeepLinkError(ValueError):
    """A deep link that cannot be understood; the message says which part and why, on one line."""


@dataclass(frozen=True)
class ContentState:
    """Where a reader should land: a manifest, optionally a canvas of it and a region of that canvas."""

    manifest: str
    canvas: str | None = None
    region: Region | None = None


def is_web_url(value: object) -> bool:
    """An http(s) URL, or a relative one (it resolves against the page's http(s) address).

    Only such URLs may become links or image sources: ``javascript:`` would run script on this origin.
    ``urlsplit`` drops what browsers drop (leading spaces and controls, tabs and new lines inside).
    """
    if not isinstance(value, str) or not value.strip():
        return False
    return urlsplit(value.strip()).scheme.lower() in ("http", "https", "")


def parse_xywh(text: str) -> Region:
    """``"10,20,300,400"`` (optionally ``pixel:``-prefixed) -> Region; fractions are rounded."""
    match = _XYWH.match(text.strip())
    if not match:
        raise DeepLinkError(f"xywh must be four numbers x,y,w,h, not {text!r}")
    x, y, width, height = (_round(float(part)) for part in match.groups())
    if width <= 0 or height <= 0:
        raise DeepLinkError(f"xywh needs a width and height above zero, not {text!r}")
    return Region(x, y, width, height)


def split_fragment(uri: str) -> tuple[str, Region | None]:
    """``canvas#xywh=1,2,3,4`` -> (``canvas``, Region); a URI without a fragment has no region."""
    base, _, fragment = uri.partition("#")
    if not fragment.startswith("xywh="):
        return base, None
    return base, parse_xywh(fragment[len("xywh=") :])


def encode_content_state(state: ContentState) -> str:
    """The ``iiif-content`` value for a state: a bare manifest URI stays a URI, anything finer is JSON."""
    if state.canvas is None:
        return state.manifest
    target_id = state.canvas if state.region is None else f"{state.canvas}#xywh={state.region.xywh}"
    annotation = {
        "@context": PRESENTATION_CONTEXT,
        "type": "Annotation",
        "motivation": ["contentState"],
        "target": {
            "id": target_id,
            "type": "Canvas",
            "partOf": [{"id": state.manifest, "type": "Manifest"}],
        },
    }
    text = json.dumps(annotation, ensure_ascii=False, separators=(",", ":"))
    uri_encoded = quote(text, safe=_URI_COMPONENT_SAFE)
    return base64.urlsafe_b64encode(uri_encoded.encode("ascii")).decode("ascii").rstrip("=")


def decode_content_state(value: str) -> ContentState:
    """Any ``iiif-content`` value this viewer understands -> ContentState, or DeepLinkError."""
    value = value.strip()
    if not value:
        raise DeepLinkError("iiif-content is empty")
    if value.startswith(("http://", "https://")):
        return ContentState(manifest=value)
    if value.startswith("{"):
        return _state_from_json(value)
    bare = value.rstrip("=")
    padded = bare + "=" * (-len(bare) % 4)
    try:
        uri_encoded = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise DeepLinkError("iiif-content is neither a URI nor base64url-encoded content state") from None
    return _state_from_json(unquote(uri_encoded, errors="strict"))


def _state_from_json(text: str) -> ContentState:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DeepLinkError(f"iiif-content is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(document, dict):
        raise DeepLinkError("iiif-content must be a JSON object")
    if document.get("type") == "Annotation":
        target = document.get("target")
        document = target[0] if isinstance(target, list) and target else target
        if not isinstance(document, dict):
            raise DeepLinkError("iiif-content annotation has no target object")
    return _state_from_target(document)


def _state_from_target(target: dict) -> ContentState:
    kind = target.get("type")
    if kind in ("Manifest", "Collection"):
        return ContentState(manifest=_required_id(target, kind))
    if kind == "SpecificResource":
        source = target.get("source")
        if not isinstance(source, dict):
            raise DeepLinkError("iiif-content SpecificResource has no source object")
        canvas_state = _state_from_target(source)
        selector = target.get("selector")
        selector = selector[0] if isinstance(selector, list) and selector else selector
        if isinstance(selector, dict) and str(selector.get("value", "")).startswith("xywh="):
            return ContentState(canvas_state.manifest, canvas_state.canvas, parse_xywh(selector["value"][5:]))
        return canvas_state
    if kind == "Canvas":
        canvas, region = split_fragment(_required_id(target, kind))
        manifests = [part.get("id") for part in target.get("partOf", []) if isinstance(part, dict)]
        if not manifests or not isinstance(manifests[0], str):
            raise DeepLinkError("iiif-content Canvas needs partOf naming its Manifest")
        return ContentState(manifest=manifests[0], canvas=canvas, region=region)
    raise DeepLinkError(f"iiif-content target type must be Manifest, Canvas or SpecificResource, not {kind!r}")


def _required_id(resource: dict, kind: str) -> str:
    identifier = resource.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise DeepLinkError(f"iiif-content {kind} has no id")
    return identifier


@dataclass(frozen=True)
class RegionImage:
    """An Image API request for a region and the pixel size it answers with."""

    url: str
    width: int
    height: int


def region_image(service_id: str, region: Region | None, canvas_size: tuple[int, int],
                 image_size: tuple[int, int], max_edge: int) -> RegionImage:
    """Image API 3.0 request of a canvas region, at most ``max_edge`` pixels on its long side.

    The region is scaled from canvas to image pixels and clipped to the image; the size is an explicit
    ``w,h`` that never asks for more pixels than the region has (the server refuses upscaling).
    """
    canvas_width, canvas_height = canvas_size
    image_width, image_height = image_size
    if region is None:
        left, top, right, bottom = 0, 0, image_width, image_height
    else:
        scale_x, scale_y = image_width / canvas_width, image_height / canvas_height
        left = min(max(_round(region.x * scale_x), 0), image_width - 1)
        top = min(max(_round(region.y * scale_y), 0), image_height - 1)
        right = min(_round((region.x + region.width) * scale_x), image_width)
        bottom = min(_round((region.y + region.height) * scale_y), image_height)
    width, height = max(right - left, 1), max(bottom - top, 1)
    shrink = min(1.0, max_edge / max(width, height))
    out_width, out_height = max(_round(width * shrink), 1), max(_round(height * shrink), 1)
    region_part = "full" if region is None else f"{left},{top},{width},{height}"
    return RegionImage(f"{service_id}/{region_part}/{out_width},{out_height}/0/default.jpg", out_width, out_height)


def _round(value: float) -> int:
    # Half up, as JavaScript's Math.round does, so deeplink.js and this module agree on every link.
    return math.floor(value + 0.5)
