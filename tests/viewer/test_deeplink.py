"""PURE: content-state encoding and decoding, xywh, region image URLs (viewer/deeplink.py).

Each table is also run against the browser twin, viewer/static/deeplink.js (test_deeplink_js.py).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, unquote

import pytest

from viewer.deeplink import (
    ContentState,
    DeepLinkError,
    Region,
    decode_content_state,
    encode_content_state,
    is_web_url,
    parse_xywh,
    region_image,
)

MANIFEST = "https://archives.example/iiif/presentation/manifests/decree-1945.json"
CANVAS = "https://archives.example/iiif/presentation/manifests/decree-1945/canvas/p2"
SERVICE = "https://archives.example/iiif/3/decree-1945%2Fp2"


def spec_encode(document: dict) -> str:
    """Content State 1.0 §6.1 done by hand: encodeURIComponent, base64url, padding removed."""
    uri_encoded = quote(json.dumps(document, ensure_ascii=False), safe="-_.!~*'()")
    return base64.urlsafe_b64encode(uri_encoded.encode()).decode().rstrip("=")


def canvas_target(target_id: str) -> dict:
    return {"id": target_id, "type": "Canvas", "partOf": [{"id": MANIFEST, "type": "Manifest"}]}


def annotation(target: dict) -> dict:
    return {"@context": "http://iiif.io/api/presentation/3/context.json", "id": "https://x/state/1",
            "type": "Annotation", "motivation": ["contentState"], "target": target}


XYWH_CASES = [
    pytest.param("10,20,300,400", Region(10, 20, 300, 400), id="media-fragments: x,y,w,h"),
    pytest.param("pixel:10,20,300,400", Region(10, 20, 300, 400), id="media-fragments: pixel: prefix"),
    pytest.param("10.4,20.5,299.6,400", Region(10, 21, 300, 400), id="fractions round half up"),
    pytest.param(" 0,0,1,1 ", Region(0, 0, 1, 1), id="surrounding spaces"),
]
BAD_XYWH_CASES = [
    pytest.param("10,20,300", "four numbers", id="three numbers"),
    pytest.param("a,b,c,d", "four numbers", id="letters"),
    pytest.param("-1,0,10,10", "four numbers", id="negative x"),
    pytest.param("0,0,0,10", "above zero", id="zero width"),
    pytest.param("percent:10,10,10,10", "four numbers", id="percent is not IIIF"),
]
DECODE_CASES = [
    pytest.param(MANIFEST, ContentState(MANIFEST), id="content-state 3.1: a plain manifest URI"),
    pytest.param(spec_encode(annotation(canvas_target(f"{CANVAS}#xywh=100,200,300,400"))),
                 ContentState(MANIFEST, CANVAS, Region(100, 200, 300, 400)),
                 id="content-state 2.2: annotation, canvas region with partOf, encoded"),
    pytest.param(spec_encode(canvas_target(CANVAS)), ContentState(MANIFEST, CANVAS),
                 id="content-state 2.2: bare canvas target, encoded"),
    pytest.param(spec_encode(annotation({"type": "SpecificResource", "source": canvas_target(CANVAS),
                                         "selector": {"type": "FragmentSelector", "value": "xywh=1,2,3,4"}})),
                 ContentState(MANIFEST, CANVAS, Region(1, 2, 3, 4)),
                 id="content-state 2.2: SpecificResource with a FragmentSelector"),
    pytest.param(spec_encode(annotation({"id": MANIFEST, "type": "Manifest"})), ContentState(MANIFEST),
                 id="content-state 2.2: annotation targeting a manifest"),
    pytest.param(json.dumps(annotation([canvas_target(f"{CANVAS}#xywh=5,6,7,8")])),
                 ContentState(MANIFEST, CANVAS, Region(5, 6, 7, 8)),
                 id="content-state 6: unencoded JSON, target as a list"),
    pytest.param(spec_encode(annotation(canvas_target(f"{CANVAS}#xywh=1,1,9,9"))) + "==",
                 ContentState(MANIFEST, CANVAS, Region(1, 1, 9, 9)), id="content-state 6.1: padding tolerated"),
]
BAD_DECODE_CASES = [
    pytest.param("", "empty", id="empty"),
    pytest.param("%%%not-base64", "neither a URI nor base64url", id="not base64url"),
    pytest.param(spec_encode(annotation({"id": CANVAS, "type": "Canvas"})), "partOf", id="canvas without its manifest"),
    pytest.param(spec_encode(annotation({"id": CANVAS, "type": "Image"})), "target type", id="unknown target type"),
    pytest.param(base64.urlsafe_b64encode(b"[1,2]").decode(), "JSON object", id="JSON that is not an object"),
    pytest.param(base64.urlsafe_b64encode(b"{nope").decode(), "not valid JSON", id="broken JSON"),
]
ROUND_TRIP_CASES = [
    pytest.param(ContentState(MANIFEST), id="manifest only"),
    pytest.param(ContentState(MANIFEST, CANVAS), id="canvas"),
    pytest.param(ContentState(MANIFEST, CANVAS, Region(0, 0, 5000, 7000)), id="canvas and region"),
    pytest.param(ContentState("https://x/tài-liệu/manifest.json", "https://x/tài-liệu/c1", Region(1, 2, 3, 4)),
                 id="non-ASCII URIs survive encodeURIComponent"),
]
# (region, canvas size, image size, max edge) -> Image API URL
REGION_IMAGE_CASES = [
    pytest.param(None, (1000, 800), (1000, 800), 500, f"{SERVICE}/full/500,400/0/default.jpg",
                 id="image-api 4.1/4.2: full, w,h within the box"),
    pytest.param(Region(100, 100, 200, 100), (1000, 800), (1000, 800), 500,
                 f"{SERVICE}/100,100,200,100/200,100/0/default.jpg", id="image-api 4.2: small region never upscaled"),
    pytest.param(Region(100, 100, 2000, 1000), (4000, 3000), (2000, 1500), 500,
                 f"{SERVICE}/50,50,1000,500/500,250/0/default.jpg", id="canvas twice the image: region halved"),
    pytest.param(Region(900, 700, 400, 400), (1000, 800), (1000, 800), 800,
                 f"{SERVICE}/900,700,100,100/100,100/0/default.jpg", id="region clipped to the image"),
]

# URLs from manifests, content states and query parameters: links and image sources only when http(s).
WEB_URL_CASES = [
    pytest.param("https://archives.example/m.json", True, id="https"),
    pytest.param("HTTP://archives.example/m.json", True, id="http, any case"),
    pytest.param("/iiif/presentation/manifests/m.json", True, id="relative: the page's own scheme"),
    pytest.param("//elsewhere.example/m.json", True, id="scheme-relative"),
    pytest.param("javascript:alert(1)", False, id="javascript"),
    pytest.param("JaVaScRiPt:alert(1)", False, id="javascript, mixed case"),
    pytest.param(" \x01javascript:alert(1)", False, id="javascript after a space and a control"),
    pytest.param("java\tscr\nipt:alert(1)", False, id="javascript with a tab and a new line inside"),
    pytest.param("data:text/html,<script>alert(1)</script>", False, id="data"),
    pytest.param("vbscript:msgbox(1)", False, id="vbscript"),
    pytest.param("file:///etc/passwd", False, id="file"),
    pytest.param("blob:https://archives.example/0f0e", False, id="blob"),
    pytest.param("", False, id="empty"),
    pytest.param("   ", False, id="blank"),
]


@pytest.mark.parametrize(("value", "web"), WEB_URL_CASES)
def test_is_web_url(value: str, web: bool) -> None:
    assert is_web_url(value) is web


@pytest.mark.parametrize(("text", "expected"), XYWH_CASES)
def test_parse_xywh(text: str, expected: Region) -> None:
    assert parse_xywh(text) == expected


@pytest.mark.parametrize(("text", "message"), BAD_XYWH_CASES)
def test_bad_xywh_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(DeepLinkError, match=message) as raised:
        parse_xywh(text)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("value", "expected"), DECODE_CASES)
def test_decode_content_state(value: str, expected: ContentState) -> None:
    assert decode_content_state(value) == expected


@pytest.mark.parametrize(("value", "message"), BAD_DECODE_CASES)
def test_bad_content_state_is_one_clear_line(value: str, message: str) -> None:
    with pytest.raises(DeepLinkError, match=message) as raised:
        decode_content_state(value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("state", ROUND_TRIP_CASES)
def test_encode_then_decode_gives_the_same_state(state: ContentState) -> None:
    assert decode_content_state(encode_content_state(state)) == state


def test_encoding_follows_content_state_6_1() -> None:
    encoded = encode_content_state(ContentState(MANIFEST, CANVAS, Region(1, 2, 3, 4)))
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    padded = encoded + "=" * (-len(encoded) % 4)
    document = json.loads(unquote(base64.urlsafe_b64decode(padded).decode("ascii")))
    assert document["motivation"] == ["contentState"]
    assert document["target"] == canvas_target(f"{CANVAS}#xywh=1,2,3,4")


@pytest.mark.parametrize(("region", "canvas_size", "image_size", "max_edge", "expected"), REGION_IMAGE_CASES)
def test_region_image(region, canvas_size, image_size, max_edge, expected) -> None:
    image = region_image(SERVICE, region, canvas_size, image_size, max_edge)
    assert image.url == expected
    assert f"/{image.width},{image.height}/" in image.url
