"""Mirador 4 (from npm, served under /viewer/vendor/) opens our manifests and collections cleanly."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.viewer.conftest import EXHIBITION_ID

MENU_BUTTON_LABEL = "document.querySelector('.mirador-window-top-bar button').getAttribute('aria-label')"
DECREE_LABELS = {"vi": "Sắc lệnh số 14-SL", "en": "Decree No. 14-SL"}


def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def test_mirador_opens_a_manifest_in_both_interface_languages(page, published_site) -> None:
    errors = console_errors(page)
    manifest = published_site.manifest_url("decree-1945")
    menu_labels = {}
    for language in ("vi", "en"):
        page.goto(f"{published_site.base_url}/viewer/mirador?{urlencode({'manifest': manifest, 'lang': language})}")
        page.wait_for_selector(".mirador-window .openseadragon-canvas canvas")
        # Mirador 4 shows a label in the interface language (Mirador 3 showed its first language).
        page.wait_for_selector(f".mirador-window-top-bar >> text={DECREE_LABELS[language]}")
        page.wait_for_load_state("networkidle")
        menu_labels[language] = page.evaluate(MENU_BUTTON_LABEL)
    assert menu_labels["vi"] and menu_labels["en"] and menu_labels["vi"] != menu_labels["en"]
    assert errors == []


def test_mirador_opens_a_collection_without_a_required_statement(page, published_site) -> None:
    """Mirador 3.4 failed on a collection without requiredStatement; Mirador 4 needs no workaround."""
    errors = console_errors(page)
    collection = f"{published_site.base_url}/iiif/presentation/collections/{EXHIBITION_ID}.json"
    page.goto(f"{published_site.base_url}/viewer/mirador?{urlencode({'manifest': collection})}")
    assert "requiredStatement" not in page.request.get(collection).json()
    # Mirador 4.0 opens the collection dialog only when the window is already laid out; else the window
    # offers it with its "show collection" button.
    page.wait_for_selector("#select-collection, [aria-label='show collection']")
    if not page.is_visible("#select-collection"):
        page.click("[aria-label='show collection']")
    page.click("#select-collection >> xpath=ancestor::*[@role='dialog'] >> text=Quảng trường Ba Đình ngày 2 tháng 9 năm 1945")
    page.wait_for_selector(".mirador-window .openseadragon-canvas canvas")
    page.wait_for_selector(".mirador-window-top-bar >> text=Quảng trường Ba Đình")
    page.wait_for_load_state("networkidle")
    assert errors == []
