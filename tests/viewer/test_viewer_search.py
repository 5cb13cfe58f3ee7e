"""Search inside a document and the page's text, in the embed viewer and Mirador (headless Chromium).

The decree's first page has the curator's ALTO (tests/viewer/conftest.py), so its manifest offers
Content Search 2.0 and its canvas an annotation page of lines and words.
"""

from __future__ import annotations

from urllib.parse import urlencode

from tests.viewer.browsing import embed_url, wait_for_viewer
from tests.viewer.conftest import DECREE_ALTO_PAGE, DECREE_TEXT_LINES

HIGHLIGHT_BOXES = """() => [...document.querySelectorAll('iiif-viewer .iv-highlight')].map((box) => {
  const r = box.getBoundingClientRect();
  return {current: box.classList.contains('iv-highlight-current'), x: r.x, y: r.y, width: r.width, height: r.height};
})"""


def current_page(page) -> int:
    return page.evaluate("document.querySelector('iiif-viewer').index") + 1


def open_decree(page, published_site, **params: str) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945"), **params))
    wait_for_viewer(page)


def search(page, words: str) -> None:
    page.click("iiif-viewer button[data-action=search]")
    page.fill("iiif-viewer .iv-search-query", words)
    page.press("iiif-viewer .iv-search-query", "Enter")
    page.wait_for_selector("iiif-viewer .iv-hit")


def test_a_word_typed_without_diacritics_is_found_highlighted_and_its_page_opened(page, published_site) -> None:
    open_decree(page, published_site, canvas=published_site.canvas_id("decree-1945", 3))
    assert current_page(page) == 3
    search(page, '"tuyen cu"')  # a phrase, without diacritics
    hits = page.locator("iiif-viewer .iv-hit")
    assert hits.count() == 1
    assert hits.first.locator("mark").inner_text() == "tuyển cử"
    page.wait_for_function("document.querySelector('iiif-viewer').index === 0")
    wait_for_viewer(page)
    page.wait_for_function("document.querySelectorAll('iiif-viewer .iv-highlight-current').length === 1")
    stage = page.locator("iiif-viewer .iv-stage").bounding_box()
    box = next(found for found in page.evaluate(HIGHLIGHT_BOXES) if found["current"])
    # The hit is zoomed to: its box lies inside the stage and is wider than on the whole page.
    assert stage["x"] <= box["x"] and box["x"] + box["width"] <= stage["x"] + stage["width"]
    assert stage["y"] <= box["y"] and box["y"] + box["height"] <= stage["y"] + stage["height"]
    whole_page_width = stage["height"] / DECREE_ALTO_PAGE[1] * 40 * len("tuyểncử")
    assert box["width"] > whole_page_width


def test_next_and_previous_step_through_the_hits(page, published_site) -> None:
    open_decree(page, published_site)
    search(page, "quoc")  # "quốc" and "Quốc": two lines
    assert page.locator("iiif-viewer .iv-hit").count() == 2
    current = "document.querySelector('iiif-viewer .iv-hit[aria-current=true]').dataset.index"
    assert page.evaluate(current) == "0"
    assert page.is_disabled("iiif-viewer .iv-hit-previous")
    page.click("iiif-viewer .iv-hit-next")
    assert page.evaluate(current) == "1"
    assert page.is_disabled("iiif-viewer .iv-hit-next")
    page.click("iiif-viewer .iv-hit-previous")
    assert page.evaluate(current) == "0"


def test_the_page_text_can_be_shown_for_selection_and_screen_readers(page, published_site) -> None:
    open_decree(page, published_site)
    page.click("iiif-viewer button[data-action=search]")
    page.click("iiif-viewer .iv-text-toggle")
    page.wait_for_selector("iiif-viewer .iv-text-line")
    assert page.locator("iiif-viewer .iv-text-line").all_inner_texts() == list(DECREE_TEXT_LINES)
    assert page.get_attribute("iiif-viewer .iv-text-line >> nth=0", "lang") == "vi"
    page.click("iiif-viewer .iv-next")  # page 2 has no text
    page.wait_for_function("document.querySelector('iiif-viewer').index === 1")
    page.wait_for_selector("iiif-viewer .iv-text-layer >> text=Trang này chưa có văn bản.")


def test_a_document_without_text_offers_no_search(page, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("map-hanoi-1873")))
    wait_for_viewer(page)
    assert page.is_hidden("iiif-viewer button[data-action=search]")


def test_mirador_lists_the_page_text_among_its_annotations(page, published_site) -> None:
    query = urlencode({"manifest": published_site.manifest_url("decree-1945"), "lang": "en"})
    page.goto(f"{published_site.base_url}/viewer/mirador?{query}")
    page.wait_for_selector(".mirador-window .openseadragon-canvas canvas")
    page.click("[aria-label='Toggle sidebar']")
    page.click("[aria-label='Annotations']")
    panel = page.locator(".mirador-window-sidebar-annotation-panel")
    # Lines and words both: Mirador knows no text granularity.
    words = sum(len(line.split()) for line in DECREE_TEXT_LINES)
    panel.locator(f"text=Showing {len(DECREE_TEXT_LINES) + words} annotations").wait_for()
    for line in DECREE_TEXT_LINES:
        assert panel.get_by_text(line, exact=True).count() == 1
