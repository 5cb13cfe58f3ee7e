"""Exhibition pages in Chromium: scrolling and keys drive the viewer; without JavaScript the steps still read."""

from __future__ import annotations

import pytest

from tests.viewer.browsing import assert_shows, wait_for_viewer
from tests.viewer.conftest import EXHIBITION_ID, EXHIBITION_STEPS
from viewer.deeplink import Region

VIEWER = ".ex-viewer iiif-viewer"


def step_region(number: int) -> Region | None:
    region = EXHIBITION_STEPS[number - 1].get("region")
    return Region(*region) if region else None


def active_step(page) -> int:
    return int(page.get_attribute(VIEWER, "data-step"))


def wait_for_step(page, number: int) -> None:
    page.wait_for_function("([selector, number]) => document.querySelector(selector).dataset.step === String(number)",
                           arg=[VIEWER, number])
    wait_for_viewer(page, VIEWER)


@pytest.fixture()
def exhibition_page(page, published_site):
    page.goto(f"{published_site.base_url}/viewer/exhibitions/{EXHIBITION_ID}")
    wait_for_viewer(page, VIEWER)
    return page


def test_first_step_is_shown_on_arrival(exhibition_page) -> None:
    assert active_step(exhibition_page) == 1
    assert_shows(exhibition_page, step_region(1), VIEWER)


def test_scrolling_to_step_3_moves_the_viewer_to_its_region(exhibition_page) -> None:
    exhibition_page.evaluate("document.getElementById('step-3').scrollIntoView({block: 'center'})")
    wait_for_step(exhibition_page, 3)
    assert exhibition_page.evaluate(f"document.querySelector('{VIEWER}').manifestUrl").endswith("map-hanoi-1873.json")
    assert_shows(exhibition_page, step_region(3), VIEWER)


def test_arrow_keys_and_buttons_move_between_steps(exhibition_page) -> None:
    exhibition_page.click(".ex-intro h1")
    exhibition_page.keyboard.press("ArrowRight")
    wait_for_step(exhibition_page, 2)
    exhibition_page.keyboard.press("ArrowRight")
    wait_for_step(exhibition_page, 3)
    assert_shows(exhibition_page, step_region(3), VIEWER)
    exhibition_page.keyboard.press("ArrowLeft")
    wait_for_step(exhibition_page, 2)
    exhibition_page.click(".ex-next")
    exhibition_page.click(".ex-next")
    wait_for_step(exhibition_page, 4)
    assert_shows(exhibition_page, step_region(4), VIEWER)
    assert exhibition_page.is_disabled(".ex-next")
    assert exhibition_page.evaluate(f"document.querySelector('{VIEWER}').index") == 3


def test_motion_is_animated_unless_the_reader_prefers_less(browser, published_site) -> None:
    """Every fit OpenSeadragon is asked for is recorded: animated, or at once (opening a page fits it
    whole at once in any case; the move into the region comes last)."""
    moves = {}
    for preference in ("no-preference", "reduce"):
        context = browser.new_context(viewport={"width": 1100, "height": 800}, reduced_motion=preference)
        page = context.new_page()
        try:
            page.goto(f"{published_site.base_url}/viewer/exhibitions/{EXHIBITION_ID}")
            wait_for_viewer(page, VIEWER)
            page.evaluate(f"""() => {{
                const viewport = document.querySelector('{VIEWER}').viewer.viewport;
                const fitBounds = viewport.fitBounds.bind(viewport);
                window.fits = [];
                viewport.fitBounds = (bounds, immediately) => {{
                    window.fits.push(Boolean(immediately));
                    return fitBounds(bounds, immediately);
                }};
            }}""")
            page.evaluate("document.getElementById('step-3').scrollIntoView({block: 'center'})")
            wait_for_step(page, 3)
            # A function, not an expression: Playwright would eval an expression, which the page's CSP forbids.
            page.wait_for_function("(selector) => { const v = document.querySelector(selector).viewer.viewport;"
                                   " return v.getBounds(true).equals(v.getBounds(false)); }", arg=VIEWER)
            assert_shows(page, step_region(3), VIEWER)
            moves[preference] = page.evaluate("window.fits")
        finally:
            context.close()
    assert moves["no-preference"][-1] is False
    assert all(moves["reduce"])


def test_without_javascript_every_step_has_its_picture(browser, published_site) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{published_site.base_url}/viewer/exhibitions/{EXHIBITION_ID}?lang=en")
        images = page.locator(".ex-step .ex-figure img")
        assert images.count() == len(EXHIBITION_STEPS)
        for number in range(1, len(EXHIBITION_STEPS) + 1):
            image = images.nth(number - 1)
            image.scroll_into_view_if_needed()
            page.wait_for_function("(image) => image.complete", arg=image.element_handle())
            assert image.evaluate("(image) => image.naturalWidth") > 0
            assert image.get_attribute("alt") == f"Step {number}: caption"
            assert "/iiif/3/" in image.get_attribute("src")
        assert page.text_content(".ex-step >> nth=2").count("Narrative of step 3.") == 1
    finally:
        context.close()


def test_exhibition_index_lists_the_top_collection(page, published_site) -> None:
    page.goto(f"{published_site.base_url}/viewer/exhibitions/?lang=en")
    links = page.locator(".ex-card h2 a")
    assert links.count() == 1 and links.text_content() == "Test exhibition"
    links.click()
    wait_for_viewer(page, VIEWER)
    assert page.text_content("h1") == "Test exhibition"
    assert page.get_attribute("html", "lang") == "en"
