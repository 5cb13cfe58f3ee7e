"""A hostile manifest from another origin, opened in the embed page, an exhibition page and Mirador in
real Chromium: none of its script runs (no dialog, no request to its marker URLs), its text shows
literally, and none of its javascript: or data: URLs becomes a link."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlencode

import pytest
import requests

from tests.viewer.browsing import embed_url, wait_for_viewer
from tests.viewer.conftest import EXHIBITION_ID, http_server
from tests.viewer.test_export import exported  # noqa: F401 - the static export on its own web server
from viewer.deeplink import PRESENTATION_CONTEXT, ContentState, encode_content_state

# Every link and image source of the page, resolved, that is not http(s).
NON_WEB_URLS = """() => [...document.querySelectorAll('a[href], area[href], img[src], iframe[src]')]
  .map((node) => node.href || node.src).filter((url) => !/^https?:/i.test(url))"""


@dataclass
class HostileOrigin:
    """A second loopback origin serving the hostile manifest and recording every path asked of it."""

    base_url: str
    manifest: dict = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)

    @property
    def manifest_url(self) -> str:
        return f"{self.base_url}/manifest.json"

    def marker(self, name: str) -> str:
        return f"{self.base_url}/marker/{name}"

    def markers_hit(self) -> list[str]:
        return [path for path in self.requested if path.startswith("/marker/")]


def hostile_manifest(origin: HostileOrigin, canvas: dict) -> dict:
    def script(name: str) -> str:
        return f"<script>fetch('{origin.marker(name)}');alert('{name}')</script>"

    def onerror(name: str) -> str:
        return f"<img src=x onerror=\"fetch('{origin.marker(name)}');alert('{name}')\">"

    def javascript_link(name: str) -> str:
        return f"javascript:fetch('{origin.marker(name)}');alert('{name}')"

    label = f"Hostile {script('label-script')}{onerror('label-onerror')}"
    html = (f"<p>{onerror('html-onerror')}<a href=\"{javascript_link('html-link')}\">click</a>"
            f"<a href=\"data:text/html,{script('html-data')}\">data</a>{script('html-script')}</p>")
    link_label = {"en": ["a link"]}
    return {
        "@context": PRESENTATION_CONTEXT,
        "id": origin.manifest_url,
        "type": "Manifest",
        "label": {"en": [label]},
        "summary": {"en": [html]},
        "metadata": [{"label": {"en": [label]}, "value": {"en": [html]}}],
        "requiredStatement": {"label": {"en": [label]}, "value": {"en": [html]}},
        "rights": javascript_link("rights"),
        "homepage": [{"id": javascript_link("homepage"), "type": "Text", "label": link_label, "format": "text/html"}],
        "seeAlso": [{"id": f"data:text/html,{script('see-also')}", "type": "Dataset", "label": link_label,
                     "format": "text/html"}],
        "rendering": [{"id": javascript_link("rendering"), "type": "Text", "label": link_label,
                       "format": "application/pdf"}],
        "provider": [{
            "id": f"{origin.base_url}/provider", "type": "Agent", "label": {"en": [label]},
            "homepage": [{"id": javascript_link("provider-homepage"), "type": "Text", "label": link_label,
                          "format": "text/html"}],
            "logo": [{"id": javascript_link("provider-logo"), "type": "Image", "format": "image/png"}],
        }],
        "thumbnail": [{"id": f"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload=\"fetch('"
                             f"{origin.marker('thumbnail')}')\"/>", "type": "Image", "format": "image/svg+xml"}],
        "items": [{**canvas, "label": {"en": [label]}}],
    }


@pytest.fixture(scope="module")
def hostile(published_site) -> Iterator[HostileOrigin]:
    """The manifest lives on 127.0.0.2; its one canvas shows a real image of the published site."""
    built = json.loads((published_site.presentation_root / "manifests" / "decree-1945.json").read_text("utf-8"))
    requested: list[str] = []
    body: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            requested.append(self.path)
            found = self.path == "/manifest.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            self.wfile.write(body[0] if found else b"{}")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
            pass

    with http_server("127.0.0.2", Handler) as server:
        origin = HostileOrigin(f"http://127.0.0.2:{server.server_address[1]}", requested=requested)
        origin.manifest = hostile_manifest(origin, built["items"][0])
        body.append(json.dumps(origin.manifest).encode())
        yield origin


@pytest.fixture()
def dialogs(page) -> list[str]:
    opened: list[str] = []

    def dismiss(dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def assert_nothing_ran(page, hostile: HostileOrigin, dialogs: list[str]) -> None:
    page.wait_for_timeout(1500)  # a late handler (image error, deferred script) would have fired by now
    assert dialogs == []
    assert hostile.markers_hit() == []
    assert page.evaluate(NON_WEB_URLS) == []


def assert_shown_literally(page, hostile: HostileOrigin, viewer: str) -> None:
    label = hostile.manifest["label"]["en"][0]
    assert page.text_content(f"{viewer} .iv-title") == label
    rights = page.locator(f"{viewer} .iv-rights")
    assert rights.locator("a").count() == 0
    assert hostile.manifest["rights"] in rights.text_content()
    assert hostile.manifest["requiredStatement"]["value"]["en"][0] in page.text_content(f"{viewer} .iv-attribution")


@pytest.mark.parametrize("link", ["manifest", "content state"])
def test_the_embed_page_shows_a_hostile_manifest_as_text(page, dialogs, hostile, published_site, link) -> None:
    hostile.requested.clear()
    canvas_id = hostile.manifest["items"][0]["id"]
    query = ({"manifest": hostile.manifest_url} if link == "manifest" else
             {"iiif-content": encode_content_state(ContentState(hostile.manifest_url, canvas_id))})
    page.goto(embed_url(published_site.base_url, lang="en", **query))
    wait_for_viewer(page, timeout=60_000)
    assert_shown_literally(page, hostile, "iiif-viewer")
    page.click("iiif-viewer .iv-rights")  # the javascript: rights are text: a click does nothing
    page.click(".iv-share")
    assert_nothing_ran(page, hostile, dialogs)
    assert "/manifest.json" in hostile.requested


def test_the_exported_embed_page_shows_a_hostile_manifest_as_text(page, dialogs, hostile, exported) -> None:
    """The portal's copy (iiif-archive viewer-export), served with no security headers at all."""
    hostile.requested.clear()
    _, static_url = exported
    page.goto(f"{static_url}/embed.html?{urlencode({'manifest': hostile.manifest_url, 'lang': 'en'})}")
    wait_for_viewer(page, timeout=60_000)
    assert_shown_literally(page, hostile, "iiif-viewer")
    page.click("iiif-viewer .iv-rights")
    assert_nothing_ran(page, hostile, dialogs)
    page.goto(f"{static_url}/embed.html?{urlencode({'manifest': 'javascript:alert(1)', 'lang': 'en'})}")
    page.wait_for_selector("iiif-viewer[data-state='error']", timeout=60_000)
    assert 'the manifest must be an http(s) URL, not "javascript:alert(1)"' in page.text_content(".iv-status")
    assert dialogs == []


def test_the_embed_page_refuses_a_javascript_manifest(published_site) -> None:
    response = requests.get(embed_url(published_site.base_url, manifest="javascript:alert(1)"), timeout=30)
    assert response.status_code == 400 and response.text == "the manifest must be an http(s) URL\n"


def test_an_exhibition_viewer_shows_a_hostile_manifest_as_text(page, dialogs, hostile, published_site) -> None:
    hostile.requested.clear()
    page.goto(f"{published_site.base_url}/viewer/exhibitions/{EXHIBITION_ID}?lang=en")
    viewer = ".ex-viewer iiif-viewer"
    wait_for_viewer(page, viewer, timeout=60_000)
    page.evaluate("([selector, url]) => document.querySelector(selector).show({manifest: url})",
                  [viewer, hostile.manifest_url])
    wait_for_viewer(page, viewer, timeout=60_000)
    assert_shown_literally(page, hostile, viewer)
    refused = page.evaluate("(selector) => document.querySelector(selector).show({manifest: 'javascript:alert(1)'})"
                            ".then(() => 'opened', (error) => error.message)", viewer)
    assert refused == 'the manifest must be an http(s) URL, not "javascript:alert(1)"'
    assert_nothing_ran(page, hostile, dialogs)


def test_mirador_shows_a_hostile_manifest_without_running_it(page, dialogs, hostile, published_site) -> None:
    hostile.requested.clear()
    page.goto(f"{published_site.base_url}/viewer/mirador?{urlencode({'manifest': hostile.manifest_url, 'lang': 'en'})}")
    page.wait_for_selector(".mirador-window .openseadragon-canvas canvas", timeout=60_000)
    title = hostile.manifest["label"]["en"][0]
    assert page.text_content(".mirador-window-top-bar h2") == title
    page.click(".mirador-window-top-bar button[aria-label='Toggle sidebar']")
    page.wait_for_selector(".mirador-window .mirador-companion-area-left >> text=Related", timeout=30_000)
    assert_nothing_ran(page, hostile, dialogs)
    assert "/manifest.json" in hostile.requested


def test_mirador_opens_no_javascript_manifest(page, dialogs, published_site) -> None:
    page.goto(f"{published_site.base_url}/viewer/mirador?{urlencode({'manifest': 'javascript:alert(1)'})}")
    page.wait_for_selector(".mirador-workspace-viewport", timeout=60_000)
    assert page.locator(".mirador-window").count() == 0
    assert page.evaluate(NON_WEB_URLS) == []
    assert dialogs == []
