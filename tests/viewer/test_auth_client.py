"""The viewer as an IIIF Authorization Flow 2.0 client, end to end in Chromium against a real server:
probe, the login window, the token frame, full tiles, logout; on the server's origin and framed by a
portal on another loopback origin (127.0.0.2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
import yaml
from markupsafe import escape

from iiif_archive.samples import sample_masters, write_sample_master
from iiif_server.auth.users import UsersFile
from tests.conftest import REPO_ROOT, RunningServer, free_port, stop_server
from tests.viewer.browsing import assert_shows, embed_url
from tests.viewer.conftest import CHROMIUM, CHROMIUM_ARGS, SAMPLE_SCALE, http_server, start_site_server
from viewer.deeplink import Region

# TIFF pages: the letter's 210 x 295 JP2 (smaller than one code-tile) answers 500 to every other request
# once nothing caches it, as for a restricted image (reported; not at 1050 x 1475).
RESTRICTED_DOCUMENT = "decree-1945"  # restricted, with a public substitute of at most SUBSTITUTE_EDGE px
SUBSTITUTE_EDGE = 100
READING_ROOM_DOCUMENT = "photo-ba-dinh-1945"  # reading-room, without a substitute
EXHIBITION_ID = "restricted-decree"
READER, PASSWORD = "lan", "mật khẩu của Lan"
# Image requests for the restricted images, full (/iiif/3/) or substitute (/iiif/substitute/3/).
IMAGE_REQUEST = re.compile(r"/iiif/(?P<substitute>substitute/)?3/(?P<identifier>[^/]+)/(?P<region>[^/]+)/(?P<size>[^/]+)"
                           r"/0/default\.\w+$")
TIMEOUT = 60_000


@dataclass(frozen=True)
class RestrictedSite:
    server: RunningServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def manifest_url(self, document_id: str) -> str:
        return f"{self.base_url}/iiif/presentation/manifests/{document_id}.json"


@pytest.fixture(scope="module")
def element_portal() -> Iterator[str]:
    """A portal on a third origin (127.0.0.3) whose page runs the <iiif-viewer> element itself: the
    module from ?script=, the manifest from ?manifest=."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            query = parse_qs(urlsplit(self.path).query)
            script, manifest = escape(query["script"][0]), escape(query["manifest"][0])
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(f'<!doctype html><script type="module" src="{script}"></script>'
                             f'<iiif-viewer manifest="{manifest}" lang="en" style="height:600px"></iiif-viewer>'.encode())

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
            pass

    with http_server("127.0.0.3", Handler) as server:
        yield f"http://127.0.0.3:{server.server_address[1]}"


@pytest.fixture(scope="module")
def restricted_site(tmp_path_factory: pytest.TempPathFactory, element_portal: str) -> Iterator[RestrictedSite]:
    """The decree restricted to the archivists group (alone and in an exhibition), the photograph kept
    for the reading room (the same group), through the documents' access:."""
    root = tmp_path_factory.mktemp("restricted-site")
    images = root / "images"
    for master in sample_masters():
        if master.identifier.startswith((RESTRICTED_DOCUMENT, "photos/")):
            write_sample_master(images, master, SAMPLE_SCALE)
    content = root / "content"
    (content / "documents").mkdir(parents=True)
    for document, level in ((RESTRICTED_DOCUMENT, "restricted"), (READING_ROOM_DOCUMENT, "reading-room")):
        curated = yaml.safe_load((REPO_ROOT / "content" / "documents" / f"{document}.yml").read_text(encoding="utf-8"))
        curated["access"] = {"level": level, "groups": ["archivists"]}
        (content / "documents" / f"{document}.yml").write_text(yaml.safe_dump(curated, allow_unicode=True),
                                                               encoding="utf-8")
    exhibition = {"id": EXHIBITION_ID, "title": {"vi": "Sắc lệnh hạn chế", "en": "Restricted decree"},
                  "introduction": {"vi": "Giới thiệu.", "en": "Introduction."}, "cover": f"{RESTRICTED_DOCUMENT}/p1",
                  "items": [{"document": RESTRICTED_DOCUMENT, "page": 1, "region": [20, 30, 120, 90],
                             "caption": {"vi": "Đoạn mở đầu", "en": "The opening"}}]}
    (content / "exhibitions").mkdir()
    (content / "exhibitions" / f"{EXHIBITION_ID}.yml").write_text(yaml.safe_dump(exhibition, allow_unicode=True),
                                                                 encoding="utf-8")
    users = root / "users.json"
    UsersFile(users).add(READER, PASSWORD, ("archivists",))
    presentation = root / "public"
    # Built before the server starts, which reads the access rules the build writes beside the manifests.
    port = free_port()
    subprocess.run([sys.executable, "-m", "iiif_archive", "build", str(content), "--images", str(images),
                    "--out", str(presentation), "--base-url", f"http://127.0.0.1:{port}"],
                   check=True, capture_output=True, text=True)
    server = start_site_server(images, presentation, content, {
        "IIIF_RESTRICTED_SUBSTITUTE": f"max:{SUBSTITUTE_EDGE}",
        "IIIF_AUTH_SECRET": "secret of the viewer tests",
        "IIIF_AUTH_USERS_FILE": str(users),
        "IIIF_AUTH_TOKEN_ORIGINS": element_portal,
    }, port=port)
    try:
        yield RestrictedSite(server)
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def cookie_friendly_browser(playwright_driver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Chromium with a profile that allows third-party cookies (a browser's usual setting outside private
    windows; Playwright's own contexts block them): only there does the access cookie reach a viewer
    framed by another site."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    (profile / "Default").mkdir()
    (profile / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": 0}}))
    context = playwright_driver.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        viewport={"width": 1100, "height": 800}, reduced_motion="reduce")
    yield context
    context.close()


class TileLog:
    """Every image response of a page for the restricted document, full (``responses``: identifier,
    region, size, status) or of its substitute (``substitutes``, the same)."""

    def __init__(self, page) -> None:
        self.responses: list[tuple[str, str, str, int]] = []
        self.substitutes: list[tuple[str, str, str, int]] = []
        page.on("response", self.record)

    def record(self, response) -> None:
        match = IMAGE_REQUEST.search(response.url)
        if match and unquote(match["identifier"]).startswith(RESTRICTED_DOCUMENT):
            entry = (unquote(match["identifier"]), match["region"], match["size"], response.status)
            (self.substitutes if match["substitute"] else self.responses).append(entry)

    def full_resolution_tiles(self, status: int) -> list[tuple[str, str, str, int]]:
        """Tiles answered ``status`` whose size is the region's own width: pixels at full resolution."""
        return [entry for entry in self.responses if entry[3] == status
                and (entry[2] in ("max", "full") or entry[1].split(",")[2:3] == [entry[2].split(",")[0]])]


def drawn_pixels(frame) -> int:
    """Pixels OpenSeadragon's canvas has drawn (not transparent)."""
    return frame.evaluate("""() => {
      const canvas = document.querySelector('iiif-viewer').viewer.drawer.canvas;
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let drawn = 0;
      for (let index = 3; index < data.length; index += 4) if (data[index]) drawn += 1;
      return drawn;
    }""")


def wait_for_access(frame, access: str) -> None:
    """The viewer shows the image as ``access`` (full / substitute / none), with its tiles drawn."""
    frame.wait_for_function("""(access) => {
      const viewer = document.querySelector('iiif-viewer');
      if (!viewer || viewer.dataset.access !== access) return false;
      if (access === 'none') return viewer.dataset.state === 'restricted';
      const item = viewer.viewer.world.getItemAt(0);
      return viewer.dataset.state === 'ready' && Boolean(item && item.getFullyLoaded());
    }""", arg=access, timeout=TIMEOUT)


def log_in_through_popup(page, frame) -> None:
    """Click the viewer's login button, fill the server's login page in the window it opens; that window
    closes itself."""
    with page.expect_popup() as opened:
        frame.locator(".iv-login").click()
    popup = opened.value
    popup.wait_for_load_state()
    assert "origin=" in popup.url
    popup.fill("#user", READER)
    popup.fill("#password", PASSWORD)
    with popup.expect_event("close", timeout=TIMEOUT):
        popup.click("button[type=submit]")


def log_out_through_popup(page, frame) -> None:
    with page.expect_popup() as opened:
        frame.locator(".iv-logout").click()
    popup = opened.value
    popup.wait_for_load_state()
    assert "Signed out" in popup.inner_text("body")
    popup.close()


def test_reader_sees_the_substitute_logs_in_sees_full_tiles_and_logs_out(page, restricted_site) -> None:
    tiles = TileLog(page)
    page.goto(embed_url(restricted_site.base_url, manifest=restricted_site.manifest_url(RESTRICTED_DOCUMENT),
                        lang="en"))
    wait_for_access(page, "substitute")
    panel = page.locator(".iv-access")
    assert panel.is_visible()
    assert page.inner_text(".iv-access-heading") == "Restricted record"
    assert "signed-in readers" in page.inner_text(".iv-access-note")
    assert page.inner_text(".iv-login") == "Log in"
    assert drawn_pixels(page) > 10_000
    assert tiles.substitutes and all(entry[3] == 200 for entry in tiles.substitutes)
    shown = page.evaluate("() => document.querySelector('iiif-viewer').viewer.world.getItemAt(0).source")
    assert max(shown["width"], shown["height"]) == SUBSTITUTE_EDGE
    assert [entry for entry in tiles.responses if entry[3] == 200] == []

    page.click(".iv-language")  # the panel follows the viewer's language
    assert page.inner_text(".iv-access-heading") == "Tài liệu hạn chế"
    assert page.inner_text(".iv-login") == "Đăng nhập"
    page.click(".iv-language")

    page.wait_for_function("() => document.querySelectorAll('.iv-thumb img[data-refused]').length === 4")
    before_login = len(tiles.responses)
    log_in_through_popup(page, page)
    wait_for_access(page, "full")
    assert not panel.is_visible()
    assert drawn_pixels(page) > 10_000
    assert tiles.full_resolution_tiles(200), f"no full-resolution tile answered 200: {tiles.responses}"
    assert [entry for entry in tiles.responses[before_login:] if entry[3] != 200] == []
    page.wait_for_function("() => [...document.querySelectorAll('.iv-thumb img')].every("
                           "(image) => image.complete && image.naturalWidth > 0)", timeout=TIMEOUT)  # asked again
    assert page.inner_text(".iv-logout") == "Log out of the Archives"

    page.click(".iv-next")  # the token serves every page of the document
    page.wait_for_function("() => document.querySelector('iiif-viewer').canvas.id.endsWith('/p2')")
    wait_for_access(page, "full")

    log_out_through_popup(page, page)
    wait_for_access(page, "substitute")
    assert panel.is_visible() and page.locator(".iv-logout").is_hidden()
    status = page.evaluate("(url) => fetch(url).then((response) => response.status)",
                           f"{restricted_site.base_url}/iiif/3/{RESTRICTED_DOCUMENT}%2Fp1/full/64,/0/default.jpg")
    assert status == 403  # the logout window deleted the access cookie


def test_an_exhibition_step_on_a_restricted_record_logs_in_in_place(page, restricted_site) -> None:
    page.goto(f"{restricted_site.base_url}/viewer/exhibitions/{EXHIBITION_ID}?lang=en")
    wait_for_access(page, "substitute")
    assert_shows(page, Region(20, 30, 120, 90))
    assert page.inner_text(".ex-viewer .iv-access-heading") == "Restricted record"
    log_in_through_popup(page, page)
    wait_for_access(page, "full")
    assert drawn_pixels(page) > 10_000
    assert_shows(page, Region(20, 30, 120, 90))  # still the step's region


def test_without_a_substitute_the_stage_stays_empty_and_a_closed_login_window_is_told(page, restricted_site) -> None:
    page.goto(embed_url(restricted_site.base_url, manifest=restricted_site.manifest_url(READING_ROOM_DOCUMENT),
                        lang="en"))
    wait_for_access(page, "none")
    assert page.locator(".iv-access").is_visible() and drawn_pixels(page) == 0
    with page.expect_popup() as opened:
        page.click(".iv-login")
    assert "window that has opened" in page.inner_text(".iv-access-message")
    opened.value.close()
    page.wait_for_function("() => document.querySelector('.iv-access-note').textContent.includes('not logged in')",
                           timeout=TIMEOUT)
    assert page.locator("iiif-viewer").get_attribute("data-access") == "none"


def test_a_viewer_framed_by_a_portal_on_another_origin_logs_in(cookie_friendly_browser, restricted_site,
                                                               framing_site) -> None:
    page = cookie_friendly_browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    tiles = TileLog(page)
    viewer = embed_url(restricted_site.base_url, manifest=restricted_site.manifest_url(RESTRICTED_DOCUMENT), lang="en")
    page.goto(f"{framing_site}/?{urlencode({'src': viewer})}")
    frame = page.frame_locator("iframe")
    frame.locator(".iv-login").wait_for(timeout=TIMEOUT)
    embedded = page.main_frame.child_frames[0]
    wait_for_access(embedded, "substitute")

    log_in_through_popup(page, frame)
    wait_for_access(embedded, "full")
    assert tiles.full_resolution_tiles(200), f"no full-resolution tile answered 200: {tiles.responses}"
    assert drawn_pixels(embedded) > 10_000

    log_out_through_popup(page, frame)
    wait_for_access(embedded, "substitute")
    page.close()
    assert not errors, f"script errors: {errors}"


def test_the_element_on_a_portal_page_logs_in_and_loads_full_tiles_without_cors(
        cookie_friendly_browser, restricted_site, element_portal) -> None:
    """The portal's own origin is in auth_token_origins: the token comes to it; the tiles, from another
    origin, carry the cookie only as requests without CORS."""
    page = cookie_friendly_browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    tiles = TileLog(page)
    page.goto(f"{element_portal}/?" + urlencode({"script": f"{restricted_site.base_url}/viewer/static/iiif-viewer.js",
                                                 "manifest": restricted_site.manifest_url(RESTRICTED_DOCUMENT)}))
    wait_for_access(page, "substitute")
    log_in_through_popup(page, page)
    wait_for_access(page, "full")
    assert tiles.full_resolution_tiles(200), f"no full-resolution tile answered 200: {tiles.responses}"
    log_out_through_popup(page, page)
    wait_for_access(page, "substitute")
    page.close()
    assert not errors, f"script errors: {errors}"


RECEIVE_TOKEN_MESSAGE = """async ([tokenUrl, origin]) => {
  const url = new URL(tokenUrl);
  url.searchParams.set('messageId', 'portal-1');
  url.searchParams.set('origin', origin);
  const frame = document.createElement('iframe');
  const message = new Promise((resolve) => {
    window.addEventListener('message', (event) => resolve({ origin: event.origin, data: event.data }));
    setTimeout(() => resolve(null), 3000);
  });
  frame.src = url.href;
  document.body.append(frame);
  return message;
}"""


def test_a_token_is_not_given_to_a_foreign_origin(cookie_friendly_browser, restricted_site, framing_site) -> None:
    """Auth 2.0 "4.5 Access Token Error Format": invalidOrigin for an origin the server does not give
    tokens to, even to a reader who is logged in; and a page that names another origin gets nothing."""
    page = cookie_friendly_browser.new_page()
    page.goto(embed_url(restricted_site.base_url, manifest=restricted_site.manifest_url(RESTRICTED_DOCUMENT)))
    log_in_through_popup(page, page)
    wait_for_access(page, "full")
    page.goto(f"{framing_site}/?src=about:blank")
    token_service = f"{restricted_site.base_url}/auth/2/token"
    refused = page.evaluate(RECEIVE_TOKEN_MESSAGE, [token_service, framing_site])
    assert refused["origin"] == restricted_site.base_url
    assert refused["data"]["type"] == "AuthAccessTokenError2" and refused["data"]["profile"] == "invalidOrigin"
    assert "accessToken" not in refused["data"]
    assert page.evaluate(RECEIVE_TOKEN_MESSAGE, [token_service, restricted_site.base_url]) is None
    page.close()
