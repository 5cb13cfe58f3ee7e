"""One published site per session: tiny sample masters, manifests from the real builder, a gunicorn
server, and one headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from markupsafe import escape

from iiif_archive.samples import write_sample_masters
from tests.conftest import REPO_ROOT, RunningServer, free_port, stop_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SAMPLE_SCALE = 0.05
EXHIBITION_ID = "test-exhibition"
# The curator's text of the decree's first page (ALTO, measured on a 1000 x 1400 scan: the build
# scales it to the canvas), so the viewer's search and text layer and Mirador have words to show.
DECREE_TEXT_LINES = ("Sắc lệnh số 14-SL", "Tổng tuyển cử toàn quốc", "Quốc dân Đại hội")
DECREE_ALTO_PAGE = (1000, 1400)
RTL_DOCUMENT_ID = "letter-1946-rtl"
# Regions in full-resolution pixels of the scaled samples (decree pages ~250 x 350, map 1200 x 900).
EXHIBITION_STEPS = [
    {"document": "decree-1945", "page": 1, "region": [20, 30, 120, 90]},
    {"document": "photo-ba-dinh-1945"},
    {"document": "map-hanoi-1873", "region": [300, 200, 400, 300]},
    {"document": "decree-1945", "page": 4, "region": [100, 200, 100, 100]},
]


@dataclass(frozen=True)
class PublishedSite:
    server: RunningServer
    content_root: Path
    presentation_root: Path

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def manifest_url(self, document_id: str) -> str:
        return f"{self.base_url}/iiif/presentation/manifests/{document_id}.json"

    def canvas_id(self, document_id: str, page: int) -> str:
        return f"{self.base_url}/iiif/presentation/manifests/{document_id}/canvas/p{page}"


def decree_alto() -> str:
    """Each line 120 px below the last, each word 40 px wide per letter: boxes the tests can predict."""
    lines = []
    for number, line in enumerate(DECREE_TEXT_LINES):
        top, left, words = 200 + 120 * number, 100, []
        for word in line.split():
            words.append(f'<String CONTENT="{word}" HPOS="{left}" VPOS="{top}" WIDTH="{40 * len(word)}" HEIGHT="60"/>')
            left += 40 * len(word) + 30
        lines.append(f'<TextLine HPOS="100" VPOS="{top}" WIDTH="{left - 130}" HEIGHT="60">{"<SP/>".join(words)}</TextLine>')
    width, height = DECREE_ALTO_PAGE
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">'
            f"<Description><MeasurementUnit>pixel</MeasurementUnit></Description>"
            f'<Layout><Page ID="p1" WIDTH="{width}" HEIGHT="{height}"><PrintSpace><TextBlock>'
            f'{"".join(lines)}</TextBlock></PrintSpace></Page></Layout></alto>\n')


def write_test_content(folder: Path) -> Path:
    """The demo's documents, an extra right-to-left one, and an exhibition whose regions fit the tiny samples."""
    documents = folder / "documents"
    documents.mkdir(parents=True)
    for name in ("decree-1945", "letter-1946", "map-hanoi-1873", "photo-ba-dinh-1945"):
        shutil.copy(REPO_ROOT / "content" / "documents" / f"{name}.yml", documents)
    decree = yaml.safe_load((documents / "decree-1945.yml").read_text(encoding="utf-8"))
    decree["pages"][0]["text"] = "text/decree-1945-p1.alto.xml"
    (documents / "decree-1945.yml").write_text(yaml.safe_dump(decree, allow_unicode=True), encoding="utf-8")
    (folder / "text").mkdir()
    (folder / "text" / "decree-1945-p1.alto.xml").write_text(decree_alto(), encoding="utf-8")
    letter = yaml.safe_load((documents / "letter-1946.yml").read_text(encoding="utf-8"))
    letter.update(id=RTL_DOCUMENT_ID, viewingDirection="right-to-left")
    (documents / f"{RTL_DOCUMENT_ID}.yml").write_text(yaml.safe_dump(letter, allow_unicode=True), encoding="utf-8")
    items = []
    for number, step in enumerate(EXHIBITION_STEPS, start=1):
        item = {**step, "caption": {"vi": f"Bước {number}: chú thích", "en": f"Step {number}: caption"},
                "narrative": {"vi": f"Lời kể của bước {number}.", "en": f"Narrative of step {number}."}}
        items.append(item)
    exhibition = {
        "id": EXHIBITION_ID,
        "title": {"vi": "Triển lãm thử", "en": "Test exhibition"},
        "introduction": {"vi": "Giới thiệu triển lãm thử.", "en": "Introduction of the test exhibition."},
        "cover": "photos/ba-dinh-1945",
        "items": items,
    }
    (folder / "exhibitions").mkdir()
    (folder / "exhibitions" / f"{EXHIBITION_ID}.yml").write_text(yaml.safe_dump(exhibition, allow_unicode=True),
                                                                encoding="utf-8")
    collections = {
        "label": {"vi": "Tài liệu lưu trữ", "en": "Archival documents"},
        "summary": {"vi": "Triển lãm và chuyên đề.", "en": "Exhibitions and sections."},
        "exhibitions": [EXHIBITION_ID],
        "sections": [{"id": "maps", "label": {"vi": "Bản đồ", "en": "Maps"},
                      "summary": {"vi": "Bản đồ.", "en": "Maps."}, "documents": ["map-hanoi-1873"]}],
    }
    (folder / "collections.yml").write_text(yaml.safe_dump(collections, allow_unicode=True), encoding="utf-8")
    return folder


def start_site_server(images: Path, presentation: Path, content: Path,
                      settings: dict[str, str] | None = None, port: int | None = None) -> RunningServer:
    """``iiif-archive serve`` on a loopback port, once it answers; stopped by PID if it never does.
    ``settings`` are further ``IIIF_*`` environment variables."""
    port = port or free_port()
    command = [sys.executable, "-m", "iiif_archive", "serve", "--images", str(images), "--presentation",
               str(presentation), "--content", str(content), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "2", "--threads", "4"]
    process = subprocess.Popen(command, env={**os.environ, **(settings or {})}, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RunningServer(process, f"http://127.0.0.1:{port}", port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(server.base_url + "/health", timeout=5)
            return server
        except requests.RequestException:
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the server did not answer within 60 s (exit status {process.poll()})")


@pytest.fixture(scope="session")
def published_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PublishedSite]:
    root = tmp_path_factory.mktemp("viewer-site")
    images = root / "images"
    write_sample_masters(images, scale=SAMPLE_SCALE)
    content = write_test_content(root / "content")
    presentation = root / "public"
    presentation.mkdir()
    server = start_site_server(images, presentation, content)
    try:
        # The ids name the server's port, so the manifests are built once the server has one.
        subprocess.run([sys.executable, "-m", "iiif_archive", "build", str(content), "--images", str(images),
                        "--out", str(presentation), "--base-url", server.base_url, "--no-ocr"],
                       check=True, capture_output=True, text=True)
        yield PublishedSite(server, content, presentation)
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """The one Playwright of the session (a second one cannot start while it runs)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[object]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture()
def page(browser) -> Iterator[object]:
    """A fresh page (own context) that fails the test on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors
    # Kept to say why a viewer never finished loading (a test that waits for it reports them).
    page.failed_loads = []

    def note_server_error(response) -> None:
        if response.status >= 500:
            page.failed_loads.append(f"{response.url}: {response.status}")

    page.on("requestfailed", lambda request: page.failed_loads.append(f"{request.url}: {request.failure}"))
    page.on("response", note_server_error)
    yield page
    context.close()
    assert not errors, f"script errors: {errors}"


@contextmanager
def http_server(host: str, handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A ThreadingHTTPServer on a free port of the loopback address ``host``, serving on a thread of
    its own until the block ends (another origin for a browser test, or a folder served as files)."""
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(scope="session")
def framing_site() -> Iterator[str]:
    """A portal on another origin (127.0.0.2) whose page frames the URL given as ?src=."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            source = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(f'<!doctype html><iframe src="{escape(source)}" width="1000" height="700"></iframe>'.encode())

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
            pass

    with http_server("127.0.0.2", Handler) as server:
        yield f"http://127.0.0.2:{server.server_address[1]}"
