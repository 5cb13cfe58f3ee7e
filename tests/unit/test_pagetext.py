import unicodedata

import pytest

from manifests.model import Region
from manifests.pagetext import Line, PageText, Word, page_text_from_json

DECOMPOSED = unicodedata.normalize("NFD", "Quốc khánh")


def _page() -> PageText:
    words = (Word(DECOMPOSED.split()[0], Region(10, 20, 50, 12)), Word(DECOMPOSED.split()[1], Region(65, 20, 60, 12)))
    return PageText(lines=(Line(words=words, box=Region(10, 20, 115, 12)),), source="alto", made_from="sha256:ab")


def test_text_is_nfc_whatever_the_vendor_wrote():
    assert DECOMPOSED != "Quốc khánh"
    assert _page().text == "Quốc khánh"


def test_stored_form_reads_back_equal():
    page = _page()
    again = page_text_from_json(page.to_json())
    assert again == page and again.made_from == "sha256:ab"


@pytest.mark.parametrize("box", [(-1, 0, 5, 5), (0, -1, 5, 5), (0, 0, 0, 5), (0, 0, 5, 0)])
def test_box_outside_a_canvas_is_refused(box):
    with pytest.raises(ValueError, match="not a rectangle"):
        Word("chữ", Region(*box))
    with pytest.raises(ValueError, match="not a rectangle"):
        Line((), Region(*box))


def test_xywh_is_the_media_fragment():
    assert Region(1, 2, 3, 4).xywh == "1,2,3,4"
