"""The search index file: written from page texts, searched per document and across the archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests.search_index import SearchIndex, Suggestion, searchable_documents, write_index
from manifests.search_query import parse_query
from tests.unit.test_search_query import page

TEXTS = {
    "decree": [page("Quốc khánh nước Việt Nam", "Hà Nội ngày 2/9/1945"), None, page("quoc khanh khong dau")],
    "letter": [page("Kính gửi đồng bào Quốc khánh"), page("Hà Nội, Hà Nam, hà")],
    "photo": [None],
    "blank": [page()],
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    folder = tmp_path_factory.mktemp("index")
    return SearchIndex(write_index(TEXTS, folder))


def test_documents_with_text_on_a_page_are_searchable() -> None:
    assert searchable_documents(TEXTS) == {"decree", "letter"}


def test_search_in_a_document_finds_every_page_exact_diacritics_first(index: SearchIndex) -> None:
    pages = index.search_document("decree", parse_query("Quốc khánh"))
    assert [(found.page, found.exact_diacritics) for found in pages] == [(1, True), (3, False)]
    assert [match.parts[0].box.xywh for match in pages[0].matches()] == ["10,20,80,30", "110,20,80,30"]


@pytest.mark.parametrize("q, expected", [
    ("quoc khanh", [1, 3]),
    ('"khánh quốc"', []),
    ("quốc 1945", [1]),
    ('"Hà Nội ngày"', [1]),
    ("Viet Hà", [1]),
    ("nowhere", []),
], ids=["folded words", "a phrase keeps its order", "every word must match on the page", "phrase",
        "words on different lines of a page", "no match"])
def test_search_in_a_document(index: SearchIndex, q: str, expected: list[int]) -> None:
    assert sorted(found.page for found in index.search_document("decree", parse_query(q))) == expected


def test_search_across_the_archive_ranks_exact_pages_first_then_by_document(index: SearchIndex) -> None:
    results = index.search_archive(parse_query("quốc khánh"), offset=0, limit=10)
    assert results.total_pages == 3
    assert [(found.document, found.page) for found in results.pages] == [("decree", 1), ("letter", 1), ("decree", 3)]
    second = index.search_archive(parse_query("quốc khánh"), offset=1, limit=1)
    assert [(found.document, found.page) for found in second.pages] == [("letter", 1)] and second.total_pages == 3


def test_suggestions_begin_with_the_typed_letters_the_typed_form_first(index: SearchIndex) -> None:
    assert index.suggest("letter", "Hà") == [Suggestion("hà", 3)]
    assert index.suggest("letter", "ha") == [Suggestion("hà", 3)]
    assert index.suggest("decree", "kh") == [Suggestion("khanh", 1), Suggestion("khánh", 1), Suggestion("khong", 1)]
    assert index.suggest("decree", "khá") == [Suggestion("khánh", 1), Suggestion("khanh", 1)]
    assert index.suggest("decree", "qu", minimum=2) == []
    assert index.suggest("decree", "zz") == [] and index.suggest("photo", "qu") == []


def test_an_index_is_one_file_written_anew(tmp_path: Path) -> None:
    write_index(TEXTS, tmp_path)
    path = write_index({"other": [page("một")]}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["search.sqlite"]
    assert SearchIndex(path).search_document("decree", parse_query("quốc")) == []
    assert SearchIndex(path).has_document("other")
