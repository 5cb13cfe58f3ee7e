"""Universal Viewer and Leaflet-IIIF (npm dev dependencies) open our manifests and image services in
Chromium, from another origin, running exactly the README's snippets."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler

import pytest

from tests.conftest import REPO_ROOT
from tests.viewer.browsing import screenshot_deviation
from tests.viewer.conftest import http_server

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
README_BASE_URL = "http://127.0.0.1:8000"
CLIENT_PACKAGES = ("universalviewer", "leaflet", "leaflet-iiif")
# A screenshot of drawn tiles varies (text, lines, paper); an empty viewer is one colour (deviation ~0).
DRAWN_DEVIATION = 10.0
TILE_TIMEOUT_S = 60.0
UV_MAIN_CANVAS = ".uv .openseadragon-canvas[role=application]"  # not the navigator's
LEAFLET_TILES_LOADED = """() => {
  const tiles = [...document.querySelectorAll('#map img.leaflet-tile')];
  return tiles.length > 0 && tiles.every((tile) => tile.classList.contains('leaflet-tile-loaded'));
}"""


def readme_snippet(client: str) -> str:
    """The README's html snippet for one client, from the section naming the other IIIF clients."""
    section = README.split("### Mirador, Universal Viewer, Leaflet-IIIF", 1)[1].split("\n### ", 1)[0]
    item = section.split(f"- {client}", 1)[1].split("\n- ", 1)[0]
    return re.search(r"```html\n(.*?)```", item, re.S).group(1)


class ClientPageHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the browser's view of every response instead."""


@pytest.fixture(scope="module")
def client_pages(tmp_path_factory: pytest.TempPathFactory, published_site) -> Iterator[str]:
    """A loopback web server of its own origin: one page per README snippet (pointed at the test site)
    and the three client packages from viewer/node_modules, nothing else of it."""
    root = tmp_path_factory.mktemp("client-pages")
    modules = root / "node_modules"
    modules.mkdir()
    for package in CLIENT_PACKAGES:
        (modules / package).symlink_to(REPO_ROOT / "viewer" / "node_modules" / package, target_is_directory=True)
    for name, client in (("uv.html", "Universal Viewer"), ("leaflet.html", "Leaflet-IIIF")):
        body = readme_snippet(client).replace(README_BASE_URL, published_site.base_url)
        (root / name).write_text(f'<!doctype html>\n<html lang="en"><meta charset="utf-8"><title>{client}</title>\n'
                                 f"<body>\n{body}</body></html>\n", encoding="utf-8")
    with http_server("127.0.0.1", functools.partial(ClientPageHandler, directory=root)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def record_site_responses(page, base_url: str) -> list[tuple[int, str]]:
    responses: list[tuple[int, str]] = []
    page.on("response", lambda response: responses.append((response.status, response.url))
            if response.url.startswith(base_url) else None)
    return responses


def wait_until_drawn(page, selector: str) -> float:
    """The deviation of the element's screenshot once it is no longer one flat colour."""
    deadline = time.monotonic() + TILE_TIMEOUT_S
    deviation = 0.0
    while time.monotonic() < deadline:
        deviation = screenshot_deviation(page.locator(selector).screenshot())
        if deviation > DRAWN_DEVIATION:
            return deviation
        page.wait_for_timeout(250)
    raise AssertionError(f"{selector} stayed blank (deviation {deviation:.1f})")


def test_readme_snippets_point_at_our_documents() -> None:
    assert "decree-1945.json" in readme_snippet("Universal Viewer")
    assert "/iiif/3/maps%2Fhanoi-1873/info.json" in readme_snippet("Leaflet-IIIF")


def test_universal_viewer_opens_the_manifest_at_the_page_it_names(page, published_site, client_pages) -> None:
    responses = record_site_responses(page, published_site.base_url)
    page.goto(f"{client_pages}/uv.html")
    # canvasIndex 3 is the fourth page: Universal Viewer cuts its tiles from that page's image service.
    page.wait_for_selector(f"{UV_MAIN_CANVAS} canvas", timeout=TILE_TIMEOUT_S * 1000)
    deviation = wait_until_drawn(page, UV_MAIN_CANVAS)
    page.wait_for_load_state("networkidle")
    tiles = [url for status, url in responses
             if status == 200 and re.search(r"/decree-1945%2Fp4/\d+,\d+,\d+,\d+/.*/default\.jpg$", url)]
    other_pages = [url for _, url in responses if re.search(r"/decree-1945%2Fp[123]/\d+,\d+,\d+,\d+/", url)]
    assert tiles, f"no tile of page 4 was requested: {responses}"
    assert other_pages == []
    assert [response for response in responses if response[0] >= 400] == []
    assert deviation > DRAWN_DEVIATION


def test_leaflet_iiif_tiles_an_image_service(page, published_site, client_pages) -> None:
    responses = record_site_responses(page, published_site.base_url)
    page.goto(f"{client_pages}/leaflet.html")
    page.wait_for_function(LEAFLET_TILES_LOADED, timeout=TILE_TIMEOUT_S * 1000)
    deviation = wait_until_drawn(page, "#map")
    tile_urls = page.evaluate("[...document.querySelectorAll('#map img.leaflet-tile')].map((tile) => tile.src)")
    answered = {url: status for status, url in responses}
    assert all(answered.get(url) == 200 for url in tile_urls), f"tiles {tile_urls}, answers {answered}"
    tile_form = re.compile(r"/iiif/3/maps%2Fhanoi-1873/\d+,\d+,\d+,\d+/\d+,\d+/0/default\.jpg$")
    assert all(tile_form.search(url) for url in tile_urls), tile_urls
    assert [response for response in responses if response[0] >= 400] == []
    assert deviation > DRAWN_DEVIATION
