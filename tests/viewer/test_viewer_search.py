"""The viewer's search box in Chromium: typing a word lists its matches and highlights it on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from manifests.build import Urls, plan_outputs
from manifests.images import ImageSize
from manifests.search_index import searchable_documents
from manifests.write import publish
from tests.conftest import stop_server
from tests.manifests.conftest import write_tiled_tiff
from tests.manifests.test_build import CONTENT
from tests.unit.test_search_query import page as page_text
from tests.viewer.browsing import embed_url, wait_for_viewer
from tests.viewer.conftest import PublishedSite, start_site_server

SIZES = {"decree/p1": ImageSize(800, 1200), "decree/p2": ImageSize(800, 1200), "photo": ImageSize(300, 200)}
# Word n of line m is at (10 + 100 n, 20 + 50 m), 80 x 30 canvas pixels.
TEXTS = {"decree": [page_text("Ban quoc khanh"), page_text("Sắc lệnh về ngày Quốc khánh")], "photo": [None]}
OVERLAYS = """() => {
  const view = document.querySelector('iiif-viewer');
  return view.viewer.currentOverlays.map((overlay) => [
    [...overlay.element.classList].filter((name) => name.startsWith('iv-')).join(' '),
    ...['x', 'y', 'width', 'height'].map((key) => Math.round(overlay.bounds[key] * view.canvas.width))]);
}"""


@pytest.fixture(scope="module")
def search_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedSite]:
    root = tmp_path_factory.mktemp("search-site")
    for identifier, size in SIZES.items():
        write_tiled_tiff(root / "images" / f"{identifier}.tif", size.width, size.height)
    (root / "content").mkdir()
    (root / "public").mkdir()
    server = start_site_server(root / "images", root / "public", root / "content")
    try:
        publish(plan_outputs(CONTENT, SIZES, Urls(server.base_url), searchable_documents(TEXTS)), root / "public",
                progress=False, page_texts=TEXTS)
        yield PublishedSite(server, root / "content", root / "public")
    finally:
        stop_server(server)


def overlays(page) -> list[list]:
    return page.evaluate(OVERLAYS)


def test_typing_a_word_highlights_it_and_next_opens_the_next_page(page, search_site) -> None:
    page.goto(embed_url(search_site.base_url, manifest=search_site.manifest_url("decree"), lang="en"))
    wait_for_viewer(page)
    page.fill(".iv-search-input", "khanh")
    page.press(".iv-search-input", "Enter")
    page.wait_for_selector(".iv-hit-current", state="visible", timeout=20_000)
    # Page 1 spells it so: it comes first, and the viewer zooms to it.
    assert page.locator(".iv-search-result").all_inner_texts() == [
        "Page 1: Ban quoc khanh", "Page 2: Sắc lệnh về ngày Quốc khánh"]
    assert page.inner_text(".iv-search-count") == "Match 1 of 2"
    assert overlays(page) == [["iv-hit iv-hit-current", 210, 20, 80, 30]]
    box = page.locator(".iv-hit-current").bounding_box()
    assert box["width"] > 10 and box["height"] > 4
    page.click(".iv-search-next")
    page.wait_for_function("() => document.querySelector('iiif-viewer').index === 1")
    wait_for_viewer(page)
    page.wait_for_function("() => document.querySelector('iiif-viewer').viewer.currentOverlays.length === 1")
    assert overlays(page) == [["iv-hit iv-hit-current", 510, 20, 80, 30]]
    assert page.inner_text(".iv-search-count") == "Match 2 of 2" and page.is_disabled(".iv-search-next")
    page.click(".iv-search-result >> nth=0")
    page.wait_for_function("() => document.querySelector('iiif-viewer').index === 0")


def test_the_text_layer_shows_the_page_s_lines_over_the_image(page, search_site) -> None:
    page.goto(embed_url(search_site.base_url, manifest=search_site.manifest_url("decree")))
    wait_for_viewer(page)
    # The decree opens at its start page, page 2. The lines a build publishes as the canvas's
    # annotations (an embedded annotation page here, with a word annotation the layer leaves out).
    page.evaluate("""() => {
      const view = document.querySelector('iiif-viewer');
      const target = (xywh) => `${view.canvas.id}#xywh=${xywh}`;
      view.manifest.items[view.index].annotations = [{type: 'AnnotationPage', items: [
        {type: 'Annotation', motivation: 'supplementing', textGranularity: 'line',
         body: {type: 'TextualBody', value: 'Sắc lệnh về ngày Quốc khánh'}, target: target('10,20,580,30')},
        {type: 'Annotation', motivation: 'supplementing', textGranularity: 'word',
         body: {type: 'TextualBody', value: 'Sắc'}, target: target('10,20,80,30')}]}];
    }""")
    page.click(".iv-text-toggle")
    page.wait_for_selector(".iv-text-line", state="visible")
    assert page.inner_text(".iv-text-line") == "Sắc lệnh về ngày Quốc khánh"
    assert overlays(page) == [["iv-text-line", 10, 20, 580, 30]]
    assert page.get_attribute(".iv-text-toggle", "aria-pressed") == "true"


def test_a_manifest_without_text_shows_no_search_box(page, search_site) -> None:
    page.goto(embed_url(search_site.base_url, manifest=search_site.manifest_url("photo")))
    wait_for_viewer(page)
    assert page.is_hidden(".iv-search")
