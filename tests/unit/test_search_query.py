"""PURE: folding, query parsing and matching on a page's words (manifests/search_query.py)."""

from __future__ import annotations

import unicodedata

import pytest

from manifests.model import Region
from manifests.pagetext import Line, PageText, Word
from manifests.search_query import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    QueryError,
    Term,
    exact_form,
    find_matches,
    fold,
    page_words,
    parse_query,
)

FOLDING = [
    ("Quốc khánh", "quoc khanh", "tone and vowel marks"),
    ("ĐỘC LẬP", "doc lap", "đ and capitals"),
    ("đường", "duong", "đ lower case, horn and tone"),
    ("Nguyễn Ái Quốc", "nguyen ai quoc", "ngã, sắc"),
    ("Hồ Chí Minh", "ho chi minh", "huyền, sắc"),
    ("thuở", "thuo", "hỏi on a horned o"),
    ("người", "nguoi", "two horns and huyền"),
    ("Hà Nội, 2/9/1945", "ha noi, 2/9/1945", "punctuation and digits stay"),
    ("quoc khanh", "quoc khanh", "text without diacritics is unchanged"),
    (unicodedata.normalize("NFD", "Quốc khánh"), "quoc khanh", "decomposed input"),
    ("Straße", "strasse", "case folding beyond lower()"),
]


@pytest.mark.parametrize("text, folded", [(text, folded) for text, folded, _ in FOLDING],
                         ids=[why for *_, why in FOLDING])
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_exact_form_keeps_diacritics_and_composes() -> None:
    assert exact_form(unicodedata.normalize("NFD", "QUỐC Khánh")) == "quốc khánh"


QUERIES = [
    ("bird", (("bird",),), "Content Search 2.0 §4.1.1 q: one search term"),
    ("quoc khanh", (("quoc",), ("khanh",)), "§4.1.1 q: space separated terms, each required"),
    ('"Quốc khánh"', (("quốc", "khánh"),), "phrase in double quotes, lower case"),
    ('độc "lập tự do" hạnh', (("độc",), ("lập", "tự", "do"), ("hạnh",)), "words and a phrase"),
    ("  Hà   Nội  ", (("hà",), ("nội",)), "extra spaces"),
    ("2/9/1945", (("2",), ("9",), ("1945",)), "punctuation splits like the index's tokens"),
    ('"Hà Nội," 1945', (("hà", "nội"), ("1945",)), "punctuation inside a phrase"),
    ("nội nội", (("nội",),), "a repeated term counts once"),
    ('""  x', (("x",),), "an empty phrase is dropped"),
    (unicodedata.normalize("NFD", "khánh"), (("khánh",),), "decomposed input is composed"),
]


@pytest.mark.parametrize("q, terms", [(q, terms) for q, terms, _ in QUERIES], ids=[why for *_, why in QUERIES])
def test_parse_query(q: str, terms: tuple[tuple[str, ...], ...]) -> None:
    assert parse_query(q).terms == tuple(Term(term) for term in terms)


BAD_QUERIES = [
    ("", "q is empty", "no q"),
    ("   ", "q is empty", "only spaces"),
    ("!!! ...", "no word", "only punctuation"),
    ('"quoc khanh', "not closed", "unclosed quote"),
    ("a" * (MAX_QUERY_LENGTH + 1), "longer than", "too long"),
    (" ".join(f"w{n}" for n in range(MAX_TERMS + 1)), "at most", "too many terms"),
]


@pytest.mark.parametrize("q, reason", [(q, reason) for q, reason, _ in BAD_QUERIES], ids=[why for *_, why in BAD_QUERIES])
def test_bad_query(q: str, reason: str) -> None:
    with pytest.raises(QueryError, match=reason) as error:
        parse_query(q)
    assert "\n" not in str(error.value)


def test_folded_term() -> None:
    assert Term(("quốc", "khánh")).folded == ("quoc", "khanh")


def page(*lines: str) -> PageText:
    """Words 100 px apart, lines 50 px apart: word n of line m is at (10 + 100 n, 20 + 50 m), 80 x 30."""
    return PageText(tuple(
        Line(tuple(Word(text, Region(10 + 100 * n, 20 + 50 * m, 80, 30)) for n, text in enumerate(line.split())),
             Region(10, 20 + 50 * m, 100 * len(line.split()), 30))
        for m, line in enumerate(lines)), source="ocr")


DECREE = page("Ngày Quốc khánh 2/9/1945 tại Hà Nội,", "Chủ tịch Hồ Chí Minh đọc Tuyên ngôn", "Độc lập. Quoc khanh")

MATCHES = [
    ("khánh", [("khánh", True), ("khanh", False)], "one word, both spellings, exact first in the text order"),
    ("khanh", [("khánh", False), ("khanh", True)], "a folded query finds both"),
    ('"quốc khánh"', [("Quốc khánh", True), ("Quoc khanh", False)], "phrase"),
    ("1945", [("2/9/1945", True)], "a token inside a word matches the word"),
    ('"Nội chủ"', [("Nội, Chủ", True)], "phrase across a line break"),
    ('"doc lap"', [("Độc lập.", False)], "đ folds to d"),
    ("nguyen", [], "no match"),
]


@pytest.mark.parametrize("q, expected", [(q, expected) for q, expected, _ in MATCHES], ids=[why for *_, why in MATCHES])
def test_find_matches(q: str, expected: list[tuple[str, bool]]) -> None:
    assert [(m.exact, m.exact_diacritics) for m in find_matches(parse_query(q), page_words(DECREE))] == expected


def test_match_boxes_are_the_union_of_its_words_on_each_line() -> None:
    (phrase,) = [m for m in find_matches(parse_query('"quốc khánh"'), page_words(DECREE)) if m.exact_diacritics]
    assert [part.box.xywh for part in phrase.parts] == ["110,20,180,30"]
    (across,) = find_matches(parse_query('"Nội chủ"'), page_words(DECREE))
    assert [(part.text, part.box.xywh) for part in across.parts] == [("Nội,", "610,20,80,30"), ("Chủ", "10,70,80,30")]


def test_context_is_the_words_around_the_match() -> None:
    (match,) = find_matches(parse_query('"Chí Minh"'), page_words(DECREE))
    assert (match.prefix, match.exact, match.suffix) == ("Hà Nội, Chủ tịch Hồ ", "Chí Minh", " đọc Tuyên ngôn Độc lập.")
    (first,) = find_matches(parse_query("ngày"), page_words(DECREE))
    assert first.prefix == "" and first.suffix == " Quốc khánh 2/9/1945 tại Hà"
    (last,) = [m for m in find_matches(parse_query("khanh"), page_words(DECREE)) if m.exact_diacritics]
    assert last.suffix == ""


def test_every_term_is_matched_in_reading_order() -> None:
    matches = find_matches(parse_query("minh ngày"), page_words(DECREE))
    assert [m.exact for m in matches] == ["Ngày", "Minh"]


def test_two_terms_on_the_same_words_give_one_match_exact_if_either_is() -> None:
    matches = find_matches(parse_query("khanh khánh"), page_words(page("Quốc khánh")))
    assert [(m.exact, m.exact_diacritics) for m in matches] == [("khánh", True)]
