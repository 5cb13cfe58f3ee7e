"""Every page works under its Content-Security-Policy in real Chromium (no violation reported), and
frame-ancestors lets any site frame the embed page but no other page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.viewer.browsing import embed_url, wait_for_viewer
from tests.viewer.conftest import EXHIBITION_ID

RECORD_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (event) => {
  (window.violations ||= []).push(`${event.violatedDirective} ${event.blockedURI}`);
});"""


@pytest.fixture()
def watched(page) -> Iterator[tuple[object, list[str]]]:
    """A page recording CSP violations, as events and as console errors."""
    reported: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: reported.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page, reported


def violations(page, reported: list[str]) -> list[str]:
    page.wait_for_load_state("networkidle")
    return reported + (page.evaluate("window.violations || []"))


@pytest.mark.parametrize("page_name", ["landing", "guide", "embed", "exhibitions", "exhibition", "mirador"])
def test_every_page_runs_without_a_policy_violation(watched, published_site, page_name: str) -> None:
    page, reported = watched
    base = published_site.base_url
    manifest = published_site.manifest_url("decree-1945")
    if page_name == "landing":
        page.goto(f"{base}/")
        page.wait_for_selector("img")
    elif page_name == "guide":
        page.goto(f"{base}/viewer/?lang=en")
        wait_for_viewer(page, ".iv-guide-element", timeout=60_000)
        frame = page.frame_locator(".iv-guide-frame")
        frame.locator("iiif-viewer[data-state='ready']").wait_for(timeout=60_000)
    elif page_name == "embed":
        page.goto(embed_url(base, manifest=manifest, lang="en"))
        wait_for_viewer(page, timeout=60_000)
        page.click(".iv-share")
        page.wait_for_function("() => document.querySelector('.iv-preview').naturalWidth > 0")
    elif page_name == "exhibitions":
        page.goto(f"{base}/viewer/exhibitions/")
        page.wait_for_selector(".ex-card img")
    elif page_name == "exhibition":
        page.goto(f"{base}/viewer/exhibitions/{EXHIBITION_ID}")
        wait_for_viewer(page, ".ex-viewer iiif-viewer", timeout=60_000)
    else:
        page.goto(f"{base}/viewer/mirador?{urlencode({'manifest': manifest})}")
        page.wait_for_selector(".mirador-window .openseadragon-canvas canvas", timeout=60_000)
    assert violations(page, reported) == []


@pytest.mark.parametrize(("path", "framed"), [("/viewer/embed?lang=en", True), ("/viewer/exhibitions/", False),
                                              ("/viewer/mirador", False), ("/", False)],
                         ids=["embed page: any origin", "exhibitions: same origin only", "mirador", "landing"])
def test_only_the_embed_page_may_be_framed_by_another_site(page, published_site, framing_site, path, framed) -> None:
    page.goto(f"{framing_site}/?{urlencode({'src': published_site.base_url + path})}")
    page.wait_for_load_state("networkidle")
    frame = page.main_frame.child_frames[0]
    shown = frame.evaluate("() => document.querySelector('main, body > h1') !== null")
    assert shown is framed
