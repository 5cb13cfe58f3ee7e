"""``iiif-archive viewer-export``: the static pages work from any plain web server (here Python's own)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from iiif_archive.cli import main
from tests.viewer.browsing import assert_shows, wait_for_viewer
from tests.viewer.conftest import EXHIBITION_ID, EXHIBITION_STEPS, http_server
from viewer.deeplink import Region


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
        pass


@pytest.fixture(scope="module")
def exported(published_site, tmp_path_factory) -> Iterator[tuple[Path, str]]:
    out = tmp_path_factory.mktemp("export")
    result = CliRunner().invoke(main, ["viewer-export", "--out", str(out), "--presentation",
                                       str(published_site.presentation_root), "--content",
                                       str(published_site.content_root)])
    assert result.exit_code == 0, result.output
    with http_server("127.0.0.1", functools.partial(QuietHandler, directory=str(out))) as server:
        yield out, f"http://127.0.0.1:{server.server_address[1]}"


def test_export_writes_every_page_in_both_languages(exported) -> None:
    out, _ = exported
    for name in ("embed.html", "mirador.html", "index.html", "index.en.html", "exhibitions.html",
                 "exhibitions.en.html", f"exhibition-{EXHIBITION_ID}.html", f"exhibition-{EXHIBITION_ID}.en.html",
                 "static/iiif-viewer.js", "vendor/openseadragon/openseadragon.min.js", "vendor/mirador/mirador.min.js"):
        assert (out / name).is_file(), name
    assert f'href="exhibition-{EXHIBITION_ID}.en.html"' in (out / "exhibitions.en.html").read_text(encoding="utf-8")


def test_exported_embed_page_opens_a_deep_link(page, exported, published_site) -> None:
    _, static_url = exported
    region = Region(30, 40, 100, 120)
    page.goto(f"{static_url}/embed.html?manifest={published_site.manifest_url('decree-1945')}"
              f"&canvas={published_site.canvas_id('decree-1945', 2)}&xywh={region.xywh}")
    wait_for_viewer(page)
    assert_shows(page, region)
    page.click(".iv-share")
    assert page.input_value(".iv-share-link").startswith(f"{static_url}/embed.html?iiif-content=")


def test_exported_exhibition_page_follows_the_steps(page, exported) -> None:
    _, static_url = exported
    page.goto(f"{static_url}/exhibition-{EXHIBITION_ID}.en.html")
    viewer = ".ex-viewer iiif-viewer"
    wait_for_viewer(page, viewer)
    # dispatch_event, not click: Playwright would first scroll the button (below the fold) into view,
    # and that scroll alone may already reach step 2, so two clicks would land on step 4.
    for step in ("2", "3"):
        page.dispatch_event(".ex-next", "click")
        page.wait_for_function(f"document.querySelector('{viewer}').dataset.step === '{step}'")
    wait_for_viewer(page, viewer)
    assert_shows(page, Region(*EXHIBITION_STEPS[2]["region"]), viewer)


def test_a_step_whose_manifest_arrives_first_is_not_replaced_by_an_earlier_steps(page, exported,
                                                                               published_site) -> None:
    """A reader going on two steps quickly: the second step's manifest arrives before the first's (held
    back here). The viewer must end on the second step's page, ready, not on the first's manifest with
    the second's image (a fresh-clone CI run once stopped there, "loading" for good)."""
    _, static_url = exported
    page.goto(f"{static_url}/embed.html?manifest={published_site.manifest_url('decree-1945')}")
    wait_for_viewer(page)
    held_back = published_site.manifest_url("photo-ba-dinh-1945")

    def arrive_late(route) -> None:  # noqa: ANN001 - Playwright's Route
        time.sleep(1.5)
        route.continue_()

    page.route(held_back, arrive_late)
    region = Region(*EXHIBITION_STEPS[2]["region"])
    page.evaluate("([first, second, canvas, xywh]) => {"
                  " const viewer = document.querySelector('iiif-viewer');"
                  " viewer.show({manifest: first});"
                  " viewer.show({manifest: second, canvas, region: xywh}); }",
                  [held_back, published_site.manifest_url("map-hanoi-1873"),
                   published_site.canvas_id("map-hanoi-1873", 1),
                   {"x": region.x, "y": region.y, "width": region.width, "height": region.height}])
    time.sleep(2)  # the held-back manifest has arrived
    wait_for_viewer(page)
    assert_shows(page, region)


def test_content_without_presentation_is_refused(tmp_path) -> None:
    result = CliRunner().invoke(main, ["viewer-export", "--out", str(tmp_path / "out"), "--content", str(tmp_path)])
    assert result.exit_code == 2 and "--content needs --presentation" in result.output
