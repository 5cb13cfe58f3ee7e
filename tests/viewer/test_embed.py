"""The embed viewer in headless Chromium against gunicorn: tiles, deep links, sharing, languages, phones."""

from __future__ import annotations

import re

import pytest
import requests

from tests.viewer.browsing import assert_shows, embed_url, screenshot_deviation, viewport_region, wait_for_viewer
from tests.viewer.conftest import RTL_DOCUMENT_ID
from viewer.deeplink import ContentState, Region, encode_content_state


def current_page(page) -> int:
    return page.evaluate("document.querySelector('iiif-viewer').index") + 1


def test_embed_loads_tiles_from_the_image_api_and_draws_them(page, published_site) -> None:
    image_responses = []
    page.on("response", lambda response: image_responses.append(response) if "/iiif/3/" in response.url else None)
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("map-hanoi-1873")))
    wait_for_viewer(page)
    tiles = [r for r in image_responses if not r.url.endswith("info.json") and "/full/" not in r.url]
    assert tiles, "no tile requests were made"
    assert all(r.status == 200 and r.headers["content-type"] == "image/jpeg" for r in tiles)
    assert screenshot_deviation(page.locator(".iv-stage").screenshot()) > 10


def test_canvas_and_xywh_parameters_open_that_page_and_region(page, published_site) -> None:
    region = Region(40, 60, 120, 80)
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945"),
                        canvas=published_site.canvas_id("decree-1945", 3), xywh=region.xywh))
    wait_for_viewer(page)
    assert current_page(page) == 3
    assert_shows(page, region)


def test_content_state_link_opens_that_page_and_region(page, published_site) -> None:
    region = Region(10, 150, 200, 100)
    state = ContentState(published_site.manifest_url("decree-1945"), published_site.canvas_id("decree-1945", 2), region)
    page.goto(embed_url(published_site.base_url, **{"iiif-content": encode_content_state(state)}))
    wait_for_viewer(page)
    assert current_page(page) == 2
    assert_shows(page, region)


def test_share_this_view_round_trips(page, browser, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("map-hanoi-1873"), lang="en"))
    wait_for_viewer(page)
    page.click(".iv-zoomIn")
    page.click(".iv-zoomIn")
    page.evaluate("document.querySelector('iiif-viewer').viewer.viewport.panBy({x: 0.1, y: 0.05}, true)")
    shared_view = viewport_region(page)
    page.click(".iv-share")
    link = page.input_value(".iv-share-link")
    assert "iiif-content=" in link
    citation = page.text_content(".iv-citation")
    title = page.text_content(".iv-title")
    assert citation.startswith(title) and "Page 1, region" in citation and link in citation
    page.wait_for_function("() => document.querySelector('.iv-preview').naturalWidth > 0")  # no eval under CSP
    assert re.search(r"/iiif/3/maps%2Fhanoi-1873/\d+,\d+,\d+,\d+/\d+,\d+/0/default.jpg$",
                     page.get_attribute(".iv-preview", "src"))

    other = browser.new_context(viewport={"width": 1100, "height": 800}, reduced_motion="reduce").new_page()
    try:
        other.goto(link)
        wait_for_viewer(other)
        reopened = viewport_region(other)
        assert_shows(other, shared_view)
        assert abs(reopened.width - shared_view.width) <= 0.02 * shared_view.width
    finally:
        other.context.close()


def test_shared_view_has_an_og_image_of_the_region(published_site) -> None:
    region = Region(20, 30, 100, 50)
    state = ContentState(published_site.manifest_url("decree-1945"), published_site.canvas_id("decree-1945", 4), region)
    html = requests.get(embed_url(published_site.base_url, **{"iiif-content": encode_content_state(state)}),
                        timeout=10).text
    og_image = re.search(r'<meta property="og:image" content="([^"]+)">', html).group(1)
    assert og_image.endswith("/iiif/3/decree-1945%2Fp4/20,30,100,50/100,50/0/default.jpg")
    picture = requests.get(og_image, timeout=10)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"


def test_language_switch_changes_interface_and_labels(page, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945")))
    wait_for_viewer(page)
    assert page.get_attribute(".iv-zoomIn", "aria-label") == "Phóng to"
    assert page.text_content(".iv-title").startswith("Sắc lệnh số 14-SL")
    assert page.text_content(".iv-thumb-label >> nth=1") == "Trang 2"
    page.click(".iv-language")
    assert page.get_attribute(".iv-zoomIn", "aria-label") == "Zoom in"
    assert page.text_content(".iv-title").startswith("Decree No. 14-SL")
    assert page.text_content(".iv-thumb-label >> nth=1") == "Page 2"
    assert page.get_attribute("html", "lang") == "en"
    assert "lang=en" in page.url


def test_attribution_rights_and_contents_from_ranges(page, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945"), lang="en"))
    wait_for_viewer(page)
    assert "National Archives Centre III" in page.text_content(".iv-attribution")
    assert page.get_attribute(".iv-rights a", "href") == "http://creativecommons.org/publicdomain/mark/1.0/"
    page.click("[data-action=contents]")
    page.click("text=Articles 4–7")
    wait_for_viewer(page)
    assert current_page(page) == 3


@pytest.mark.parametrize(("document_id", "forward_key"), [
    pytest.param("decree-1945", "ArrowRight", id="left-to-right: right arrow is next"),
    pytest.param(RTL_DOCUMENT_ID, "ArrowLeft", id="right-to-left viewingDirection: left arrow is next"),
])
def test_keyboard_paging_follows_the_viewing_direction(page, published_site, document_id, forward_key) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url(document_id)))
    wait_for_viewer(page)
    page.focus(".iv-home")
    page.keyboard.press(forward_key)
    wait_for_viewer(page)
    assert current_page(page) == 2
    page.keyboard.press("PageUp")
    wait_for_viewer(page)
    assert current_page(page) == 1
    strip_direction = page.get_attribute(".iv-strip", "dir")
    assert strip_direction == ("rtl" if document_id == RTL_DOCUMENT_ID else "ltr")


def test_phone_screen_shows_every_control(browser, published_site) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True, reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945")))
        wait_for_viewer(page)
        screenshot = page.screenshot()
        assert screenshot_deviation(screenshot) > 10
        for button in page.locator(".iv-toolbar button:visible").all():
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] + box["height"] <= 740
        assert page.locator(".iv-toolbar button:visible").count() == 11  # the decree has text: search too
    finally:
        context.close()


def test_guide_page_shows_the_iframe_and_the_element_working(page, published_site) -> None:
    page.goto(f"{published_site.base_url}/viewer/?lang=en")
    wait_for_viewer(page, ".iv-guide-element")
    frame = page.frame_locator(".iv-guide-frame")
    frame.locator("iiif-viewer[data-state=ready]").wait_for()
    embedded = next(f for f in page.frames if "/viewer/embed" in f.url)
    embedded.wait_for_function("() => document.querySelector('iiif-viewer').viewer.world.getItemAt(0).getFullyLoaded()")
    assert embedded.get_attribute("iiif-viewer", "lang") == "en"
    page.click(".iv-guide-element .iv-share")
    assert page.input_value(".iv-guide-element .iv-share-link").startswith(f"{published_site.base_url}/viewer/embed?")
