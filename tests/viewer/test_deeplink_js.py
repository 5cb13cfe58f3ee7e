"""viewer/static/deeplink.js, the browser twin of viewer/deeplink.py, run against the same tables in Chromium."""

from __future__ import annotations

import dataclasses

import pytest

from tests.viewer.test_deeplink import (
    BAD_DECODE_CASES,
    BAD_XYWH_CASES,
    DECODE_CASES,
    REGION_IMAGE_CASES,
    ROUND_TRIP_CASES,
    SERVICE,
    WEB_URL_CASES,
    XYWH_CASES,
)
from viewer.deeplink import ContentState, Region, encode_content_state

# OpenSeadragon viewport rectangles are in canvas widths (one unit = the canvas' width).
VIEWPORT_CASES = [
    pytest.param({"x": 0.1, "y": 0.2, "width": 0.5, "height": 0.25}, 1000, Region(100, 200, 500, 250),
                 id="inside the canvas"),
    pytest.param({"x": -0.25, "y": 0.0, "width": 1.5, "height": 1.4}, 2000, Region(-500, 0, 3000, 2800),
                 id="letterboxed view wider than the canvas"),
    pytest.param({"x": 0.33333, "y": 0.5, "width": 0.0001, "height": 0.0001}, 300, Region(100, 150, 1, 1),
                 id="deep zoom keeps at least one pixel"),
]


def as_js_state(state: ContentState) -> dict:
    return {"manifest": state.manifest, "canvas": state.canvas,
            "region": dataclasses.asdict(state.region) if state.region else None}


@pytest.fixture(scope="module")
def deeplink(browser, published_site):
    """A page on the server's origin with deeplink.js imported as window.deeplink."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{published_site.base_url}/viewer/exhibitions/")
    page.evaluate("async () => { window.deeplink = await import('/viewer/static/deeplink.js'); }")
    yield page
    context.close()


def call(page, function: str, *args):
    return page.evaluate("([name, args]) => window.deeplink[name](...args)", [function, list(args)])


def error_of(page, function: str, *args) -> str:
    return page.evaluate(
        "([name, args]) => { try { window.deeplink[name](...args); return ''; }"
        " catch (error) { return `${error.name}:${error instanceof window.deeplink.DeepLinkError}:${error.message}`; } }",
        [function, list(args)])


@pytest.mark.parametrize(("text", "expected"), XYWH_CASES)
def test_parse_xywh(deeplink, text: str, expected: Region) -> None:
    assert call(deeplink, "parseXywh", text) == dataclasses.asdict(expected)


@pytest.mark.parametrize(("text", "message"), BAD_XYWH_CASES)
def test_bad_xywh(deeplink, text: str, message: str) -> None:
    error = error_of(deeplink, "parseXywh", text)
    assert ":true:" in error and message in error


@pytest.mark.parametrize(("value", "expected"), DECODE_CASES)
def test_decode_content_state(deeplink, value: str, expected: ContentState) -> None:
    assert call(deeplink, "decodeContentState", value) == as_js_state(expected)


@pytest.mark.parametrize(("value", "message"), BAD_DECODE_CASES)
def test_bad_content_state(deeplink, value: str, message: str) -> None:
    error = error_of(deeplink, "decodeContentState", value)
    assert ":true:" in error and message in error


@pytest.mark.parametrize("state", ROUND_TRIP_CASES)
def test_encoding_is_identical_to_python(deeplink, state: ContentState) -> None:
    encoded = call(deeplink, "encodeContentState", as_js_state(state))
    assert encoded == encode_content_state(state)
    assert call(deeplink, "decodeContentState", encoded) == as_js_state(state)


@pytest.mark.parametrize(("region", "canvas_size", "image_size", "max_edge", "expected"), REGION_IMAGE_CASES)
def test_region_image_url(deeplink, region, canvas_size, image_size, max_edge, expected) -> None:
    js_region = dataclasses.asdict(region) if region else None
    assert call(deeplink, "regionImageUrl", SERVICE, js_region, list(canvas_size), list(image_size), max_edge) == expected


@pytest.mark.parametrize(("bounds", "canvas_width", "expected"), VIEWPORT_CASES)
def test_viewport_to_region(deeplink, bounds: dict, canvas_width: int, expected: Region) -> None:
    assert call(deeplink, "viewportToRegion", bounds, canvas_width) == dataclasses.asdict(expected)


@pytest.mark.parametrize(("bounds", "canvas_width", "expected"), VIEWPORT_CASES[:2])
def test_region_to_viewport_inverts_it(deeplink, bounds: dict, canvas_width: int, expected: Region) -> None:
    back = call(deeplink, "regionToViewport", dataclasses.asdict(expected), canvas_width)
    assert back == pytest.approx(bounds)


@pytest.mark.parametrize(("value", "web"), WEB_URL_CASES)
def test_web_url(deeplink, value: str, web: bool) -> None:
    assert (call(deeplink, "webUrl", value, SERVICE) is not None) is web


def test_web_url_gives_the_absolute_address(deeplink) -> None:
    assert call(deeplink, "webUrl", "/m.json", SERVICE) == "https://archives.example/m.json"
    assert call(deeplink, "webUrl", " HTTPS://Archives.example/m.json", SERVICE) == "https://archives.example/m.json"
    assert call(deeplink, "webUrl", {"id": "https://archives.example/m.json"}, SERVICE) is None
