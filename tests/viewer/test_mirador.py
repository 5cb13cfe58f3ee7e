"""Mirador 3 (from npm, served under /viewer/vendor/) opens our manifests and collections cleanly."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.viewer.conftest import EXHIBITION_ID

MENU_BUTTON_LABEL = "document.querySelector('.mirador-window-top-bar button').getAttribute('aria-label')"


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
        # Mirador 3 shows a label's first language whatever the interface language.
        page.wait_for_selector(".mirador-window-top-bar >> text=Sắc lệnh số 14-SL")
        page.wait_for_load_state("networkidle")
        menu_labels[language] = page.evaluate(MENU_BUTTON_LABEL)
    assert menu_labels["vi"] and menu_labels["en"] and menu_labels["vi"] != menu_labels["en"]
    assert errors == []


def test_mirador_opens_a_collection(page, published_site) -> None:
    errors = console_errors(page)
    collection = f"{published_site.base_url}/iiif/presentation/collections/{EXHIBITION_ID}.json"
    page.goto(f"{published_site.base_url}/viewer/mirador?{urlencode({'manifest': collection})}")
    page.wait_for_selector("#select-collection")
    page.click("text=Quảng trường Ba Đình ngày 2 tháng 9 năm 1945")
    page.wait_for_selector(".mirador-window .openseadragon-canvas canvas")
    page.wait_for_load_state("networkidle")
    assert errors == []
