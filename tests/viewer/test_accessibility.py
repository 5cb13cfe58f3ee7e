"""WCAG 2.1 AA in Chromium: axe-core (npm) on each page kind, bilingual labels, keyboard reach, visible focus."""

from __future__ import annotations

import pytest

from tests.viewer.browsing import embed_url, wait_for_viewer
from tests.viewer.conftest import EXHIBITION_ID

AXE_RUN = """async () => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return results.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${violation.id}: ${violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join(', ')}`);
}"""


def serious_violations(page, base_url: str) -> list[str]:
    page.add_script_tag(url=f"{base_url}/viewer/vendor/axe-core/axe.min.js")
    return page.evaluate(AXE_RUN)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_embed_page_has_no_serious_violations(page, published_site, language) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945"), lang=language))
    wait_for_viewer(page)
    assert serious_violations(page, published_site.base_url) == []
    page.click(".iv-share")
    assert serious_violations(page, published_site.base_url) == []


@pytest.mark.parametrize("path", [f"/viewer/exhibitions/{EXHIBITION_ID}", "/viewer/exhibitions/", "/viewer/",
                                  "/viewer/search?q=quoc"])
def test_exhibition_index_and_guide_pages_have_no_serious_violations(page, published_site, path) -> None:
    page.goto(published_site.base_url + path)
    if path not in ("/viewer/exhibitions/", "/viewer/search?q=quoc"):
        wait_for_viewer(page)
    assert serious_violations(page, published_site.base_url) == []


def test_every_control_is_labelled_in_both_languages(page, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945")))
    wait_for_viewer(page)
    labels_of = "[...document.querySelectorAll('iiif-viewer button')].map((b) => b.getAttribute('aria-label') || b.textContent.trim())"
    vietnamese = page.evaluate(labels_of)
    page.click(".iv-language")
    english = page.evaluate(labels_of)
    assert len(vietnamese) == len(english) > 10
    assert all(vietnamese) and all(english)
    unchanged = [pair for pair in zip(vietnamese, english) if pair[0] == pair[1] and not pair[0].startswith(("Trang", "Page"))]
    assert unchanged == []


def test_keyboard_reaches_every_control_with_a_visible_focus(page, published_site) -> None:
    page.goto(embed_url(published_site.base_url, manifest=published_site.manifest_url("decree-1945")))
    wait_for_viewer(page)
    expected = set(page.evaluate(
        "[...document.querySelectorAll('iiif-viewer button')].filter((b) => b.offsetParent && !b.disabled)"
        ".map((b) => b.getAttribute('aria-label'))"))
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
          const element = document.activeElement;
          const style = getComputedStyle(element);
          return {label: element.getAttribute('aria-label'), tag: element.tagName,
                  outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
        }""")
        if focused["tag"] == "BUTTON":
            assert focused["outline"], f"{focused['label']} has no visible focus"
            reached.add(focused["label"])
    assert expected <= reached
