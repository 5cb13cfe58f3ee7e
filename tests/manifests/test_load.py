"""Curator files -> Content: every field read, every kind of mistake reported with file, line and field."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from manifests.load import ContentError, describe_field, load_content, read_curator_file
from manifests.model import Behavior, Region, Text, ViewingDirection
from tests.manifests.conftest import MINIMAL_DOCUMENT, write_document

FULL_DOCUMENT = """\
id: decree-test
label: {vi: Sắc lệnh, en: Decree}
summary: {vi: Tóm tắt, en: Summary}
metadata:
  - label: {vi: Ngày ban hành, en: Date issued}
    value: {vi: 8 tháng 9 năm 1945, en: 8 September 1945}
  - label: {vi: "Số, ký hiệu", en: Reference code}
    value: {vi: 14-SL, en: 1945}
rights: http://rightsstatements.org/vocab/NoC-NC/1.0/
attribution: {vi: Trung tâm Lưu trữ quốc gia III, en: National Archives Centre III}
provider:
  id: https://www.archives.gov.vn/#agency
  label: {vi: Cục Văn thư và Lưu trữ nhà nước, en: State Records and Archives Management Department}
  homepage: https://www.archives.gov.vn/
  logo: https://www.archives.gov.vn/logo.png
homepage: https://www.archives.gov.vn/decree-test
navDate: 1945-09-08T10:00:00+07:00
behavior: [paged]
viewingDirection: right-to-left
start: 2
pages:
  - image: decree/p1
    label: {vi: Bìa, en: Cover}
  - image: decree/p2
  - image: decree/p3
contents:
  - label: {vi: Phần một, en: Part one}
    pages: 1-2
    sections:
      - label: {vi: Điều 1, en: Article 1}
        pages: 2
  - label: {vi: Phần hai, en: Part two}
    pages: 3
"""

EXHIBITION = """\
id: show
title: {vi: Triển lãm, en: Exhibition}
introduction: {vi: Giới thiệu, en: Introduction}
cover: pages/one
navDate: 2020-09-02
items:
  - document: doc-a
    page: 1
    region: [10, 20, 30, 40]
    caption: {vi: Chú thích, en: Caption}
    narrative: {vi: Câu chuyện, en: Story}
  - document: doc-a
    caption: {vi: Lần nữa, en: Again}
"""

COLLECTIONS = """\
label: {vi: Tài liệu, en: Documents}
summary: {vi: Tóm tắt, en: Summary}
exhibitions: [show]
sections:
  - id: maps
    label: {vi: Bản đồ, en: Maps}
    summary: {vi: Bản đồ., en: Maps.}
    documents: [doc-a]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_document_field_is_read(tmp_path: Path) -> None:
    write_document(tmp_path, "decree-test", text=FULL_DOCUMENT)
    document = load_content(tmp_path).document("decree-test")
    assert document.label == Text("Sắc lệnh", "Decree")
    assert [(m.label.en, m.value.vi, m.value.en) for m in document.metadata] == [
        ("Date issued", "8 tháng 9 năm 1945", "8 September 1945"),
        ("Reference code", "14-SL", "1945"),  # a bare number is text too
    ]
    assert document.rights == "http://rightsstatements.org/vocab/NoC-NC/1.0/"
    assert document.attribution.en == "National Archives Centre III"
    assert document.provider.id == "https://www.archives.gov.vn/#agency"
    assert document.provider.logo == "https://www.archives.gov.vn/logo.png"
    assert document.homepage == "https://www.archives.gov.vn/decree-test"
    assert document.nav_date == "1945-09-08T03:00:00Z"  # converted to UTC
    assert document.behavior == (Behavior.PAGED,)
    assert document.viewing_direction is ViewingDirection.RIGHT_TO_LEFT
    assert document.start_page == 1
    assert [page.image for page in document.pages] == ["decree/p1", "decree/p2", "decree/p3"]
    assert document.pages[0].label == Text("Bìa", "Cover") and document.pages[1].label is None
    assert document.pages[2].origin.line == 25
    first, second = document.contents
    assert (first.label.en, first.page_indexes, [s.page_indexes for s in first.sections]) == ("Part one", (0, 1), [(1,)])
    assert (second.page_indexes, second.sections) == ((2,), ())


def test_exhibition_and_collections_are_read(tmp_path: Path) -> None:
    write_document(tmp_path, "doc-a")
    write(tmp_path / "exhibitions" / "show.yml", EXHIBITION)
    write(tmp_path / "collections.yml", COLLECTIONS)
    content = load_content(tmp_path)
    show = content.exhibition("show")
    assert show.title == Text("Triển lãm", "Exhibition") and show.cover.image == "pages/one"
    assert show.nav_date == "2020-09-02T00:00:00Z"
    assert [(i.document_id, i.page_index, i.region, i.caption.en) for i in show.items] == [
        ("doc-a", 0, Region(10, 20, 30, 40), "Caption"), ("doc-a", 0, None, "Again"),
    ]
    assert show.items[0].narrative == Text("Câu chuyện", "Story") and show.items[1].narrative is None
    assert show.document_ids == ("doc-a",)
    assert content.top.exhibition_ids == ("show",)
    assert [(s.id, s.label.en, s.document_ids) for s in content.top.sections] == [("maps", "Maps", ("doc-a",))]


def test_without_collections_file_the_top_collection_lists_every_exhibition(tmp_path: Path) -> None:
    write_document(tmp_path, "doc-a")
    write(tmp_path / "exhibitions" / "show.yml", EXHIBITION)
    top = load_content(tmp_path).top
    assert top.exhibition_ids == ("show",) and top.sections == () and top.label.vi and top.label.en


def test_vietnamese_is_normalised_to_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Sắc lệnh")
    write_document(tmp_path, "doc-a", text=MINIMAL_DOCUMENT.format(id="doc-a", image="p").replace("Tài liệu doc-a", decomposed))
    label = load_content(tmp_path).document("doc-a").label.vi
    assert label == "Sắc lệnh" and unicodedata.is_normalized("NFC", label) and decomposed != label


def test_a_page_names_its_text_file_inside_the_content_folder(tmp_path: Path) -> None:
    write(tmp_path / "text" / "doc-a" / "p1.alto.xml", "<alto/>")
    write_document(tmp_path, "doc-a", text=MINIMAL_DOCUMENT.format(id="doc-a", image="pages/one")
                   + "  - image: pages/two\n    text: text/doc-a/p1.alto.xml\n")
    document = load_content(tmp_path).document("doc-a")
    assert [page.text for page in document.pages] == [None, (tmp_path / "text/doc-a/p1.alto.xml").resolve()]


def test_the_demo_content_loads() -> None:
    from tests.manifests.conftest import DEMO_CONTENT

    content = load_content(DEMO_CONTENT)
    shown = content.exhibition("national-day-75").document_ids
    # The 75th-anniversary exhibition: a multi-page decree with a table of contents, a letter, a photograph, a map.
    assert set(shown) >= {"decree-1945", "letter-1946", "photo-ba-dinh-1945", "map-hanoi-1873"}
    decree = content.document("decree-1945")
    assert len(decree.pages) == 4 and decree.contents
    assert len(content.document("letter-1946").pages) == 2
    assert content.top.exhibition_ids == ("national-day-75",)


def replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new)
    return edit


def append(extra: str):
    return lambda text: text + extra


# (case, edit of the minimal document, expected lines of the error: "<line>: <field>: <message>")
DOCUMENT_MISTAKES = [
    ("missing English translation", replace("label: {vi: Tài liệu doc-a, en: Document doc-a}", "label: {vi: Tài liệu}"),
     ["2: label: missing the English (en) translation"]),
    ("missing Vietnamese translation of the attribution", replace("{vi: Trung tâm Lưu trữ quốc gia III, en:", "{en:"),
     ["5: attribution: missing the Vietnamese (vi) translation"]),
    ("blank translation", replace("summary: {vi: Tóm tắt,", "summary: {vi: '  ',"),
     ["3: summary > vi: the Vietnamese (vi) translation is empty"]),
    ("unknown rights URI", replace("http://creativecommons.org/publicdomain/mark/1.0/", "http://example.org/free"),
     ["4: rights: 'http://example.org/free' is not a Creative Commons or RightsStatements.org URI; "
      "see https://creativecommons.org/licenses/ and https://rightsstatements.org/page/1.0/"]),
    ("rights URI written with https", replace("http://creativecommons.org/publicdomain/mark/1.0/",
                                              "https://creativecommons.org/licenses/by/4.0"),
     ["4: rights: write the rights URI exactly as http://creativecommons.org/licenses/by/4.0/"]),
    ("bad page span", append("contents:\n  - label: {vi: A, en: A}\n    pages: 3-1\n"),
     ["13: contents > item 1 > pages: bad page span '3-1': write first-last, e.g. 1-3"]),
    ("page span past the last page", append("contents:\n  - label: {vi: A, en: A}\n    pages: 1-5\n"),
     ["13: contents > item 1 > pages: page 5 does not exist; the document has 1 page"]),
    ("page span that is not a span", append("contents:\n  - label: {vi: A, en: A}\n    pages: one\n"),
     ["13: contents > item 1 > pages: 'one' is not in the expected form: One page (2) or a span of pages (1-3)."]),
    ("section without pages", append("contents:\n  - label: {vi: A, en: A}\n"),
     ["12: contents > item 1: a section needs 'pages', 'sections' or both"]),
    ("start past the last page", append("start: 4\n"),
     ["11: start: page 4 does not exist; the document has 1 page"]),
    ("YAML syntax error", replace("  homepage:", "   homepage:"),
     ["8: YAML syntax error: expected <block end>, but found '<block mapping start>' "
      "(check the indentation and quotes here and on the line before)"]),
    ("misspelt field", replace("summary:", "summry:"),
     ["1: missing the field 'summary'", "3: summry: unknown field; did you mean 'summary'?"]),
    ("field written twice", append("id: other\n"), ["11: id: written twice (first on line 1); keep one"]),
    ("list expected", replace("pages:\n  - image: pages/one", "pages: pages/one"),
     ["9: pages: should be a list (lines starting with '- '), not 'pages/one'"]),
    ("date that does not exist", append("navDate: 1945-13-40\n"), ["11: navDate: '1945-13-40' is not a real date"]),
    ("unknown behavior", append("behavior: [pagd]\n"),
     ["11: behavior > item 1: 'pagd' is not allowed; use one of: paged, individuals, continuous, unordered"]),
    ("paged and individuals together", append("behavior: [paged, individuals]\n"),
     ["11: behavior: 'paged' and 'individuals' cannot be combined; keep one"]),
    ("text file that is not there", replace("  - image: pages/one", "  - image: pages/one\n    text: text/p1.alto.xml"),
     ["11: pages > item 1 > text: no file 'text/p1.alto.xml' in the content folder"]),
    ("text file outside the content folder", replace("  - image: pages/one", "  - image: pages/one\n    text: ../p1.xml"),
     ["11: pages > item 1 > text: '../p1.xml' is not in the expected form: the page's ALTO (.xml) or hOCR (.hocr, "
      ".html) file, relative to the content folder, e.g. text/decree-1945/p1.alto.xml"]),
    ("text file of another kind", replace("  - image: pages/one", "  - image: pages/one\n    text: p1.txt"),
     ["11: pages > item 1 > text: 'p1.txt' is not an ALTO or hOCR file name (the name must end in one of .xml, "
      ".alto, .hocr, .html, .htm, .xhtml)"]),
    ("id that is not a slug", replace("id: doc-a", "id: Doc A"),
     ["1: id: 'Doc A' is not in the expected form: Lower-case letters, digits and hyphens, e.g. decree-1945."]),
    # Schema problems do not hide the loader's checks of the fields the schema accepted (issue 11.7).
    ("schema problems and the loader's own together",
     lambda text: append("behavior: [paged, individuals]\nnavdate: 1945-13-40\n")(
         replace("label: {vi: Tài liệu doc-a, en: Document doc-a}", "label: {vi: Tài liệu}")(text)),
     ["2: label: missing the English (en) translation",
      "12: navdate: unknown field; did you mean 'navDate'?",
      "11: behavior: 'paged' and 'individuals' cannot be combined; keep one"]),
]


@pytest.mark.parametrize("edit, expected", [c[1:] for c in DOCUMENT_MISTAKES], ids=[c[0] for c in DOCUMENT_MISTAKES])
def test_document_mistakes_name_file_line_and_field(tmp_path: Path, edit, expected: list[str]) -> None:
    path = write_document(tmp_path, "doc-a", text=edit(MINIMAL_DOCUMENT.format(id="doc-a", image="pages/one")))
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    assert str(raised.value).splitlines() == [f"{path}:{line}" for line in expected]


EXHIBITION_MISTAKES = [
    ("unknown document", replace("  - document: doc-a\n    caption", "  - document: doc-b\n    caption"),
     ["12: items > item 2 > document: no document with id 'doc-b'; did you mean 'doc-a'?"]),
    ("page the document does not have", replace("page: 1", "page: 3"),
     ["8: items > item 1 > page: page 3 does not exist; 'doc-a' has 1 page"]),
    ("empty region", replace("[10, 20, 30, 40]", "[10, 20, 0, 40]"),
     ["9: items > item 1 > region: width and height must be more than 0"]),
    ("region with three numbers", replace("[10, 20, 30, 40]", "[10, 20, 30]"),
     ["9: items > item 1 > region: needs at least 4 entries"]),
    ("caption missing", replace("    caption: {vi: Lần nữa, en: Again}\n", ""),
     ["12: items > item 2: missing the field 'caption'"]),
    ("caption missing and an unknown document in another step",
     lambda text: replace("    caption: {vi: Lần nữa, en: Again}\n", "")(replace("document: doc-a\n    page", "document: doc-b\n    page")(text)),
     ["12: items > item 2: missing the field 'caption'",
      "7: items > item 1 > document: no document with id 'doc-b'; did you mean 'doc-a'?"]),
]


@pytest.mark.parametrize("edit, expected", [c[1:] for c in EXHIBITION_MISTAKES], ids=[c[0] for c in EXHIBITION_MISTAKES])
def test_exhibition_mistakes_name_file_line_and_field(tmp_path: Path, edit, expected: list[str]) -> None:
    write_document(tmp_path, "doc-a")
    path = write(tmp_path / "exhibitions" / "show.yml", edit(EXHIBITION))
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    assert str(raised.value).splitlines() == [f"{path}:{line}" for line in expected]


COLLECTION_MISTAKES = [
    ("unknown exhibition", replace("exhibitions: [show]", "exhibitions: [shows]"),
     ["3: exhibitions > item 1: no exhibition with id 'shows'; did you mean 'show'?"]),
    ("section id already used by an exhibition", replace("id: maps", "id: show"),
     ["5: sections > item 1 > id: 'show' is already the id of an exhibition or section"]),
    ("unknown document in a section", replace("documents: [doc-a]", "documents: [doc-a, map]"),
     ["8: sections > item 1 > documents > item 2: no document with id 'map'"]),
]


@pytest.mark.parametrize("edit, expected", [c[1:] for c in COLLECTION_MISTAKES], ids=[c[0] for c in COLLECTION_MISTAKES])
def test_collection_mistakes_name_file_line_and_field(tmp_path: Path, edit, expected: list[str]) -> None:
    write_document(tmp_path, "doc-a")
    write(tmp_path / "exhibitions" / "show.yml", EXHIBITION)
    path = write(tmp_path / "collections.yml", edit(COLLECTIONS))
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    assert str(raised.value).splitlines() == [f"{path}:{line}" for line in expected]


def test_every_gap_of_every_file_is_listed_at_once(tmp_path: Path) -> None:
    first = write_document(tmp_path, "doc-a", text=MINIMAL_DOCUMENT.format(id="doc-a", image="p").replace(", en: Summary", ""))
    second = write_document(tmp_path, "doc-b", text=MINIMAL_DOCUMENT.format(id="doc-b", image="p")
                            .replace("{vi: Tài liệu doc-b, ", "{"))
    # The exhibition names a document whose own file is broken: that is not reported a second time.
    write(tmp_path / "exhibitions" / "show.yml", EXHIBITION)
    with pytest.raises(ContentError) as raised:
        load_content(tmp_path)
    assert str(raised.value).splitlines() == [
        f"{first}:3: summary: missing the English (en) translation",
        f"{second}:2: label: missing the Vietnamese (vi) translation",
    ]


def test_duplicate_document_ids_are_refused(tmp_path: Path) -> None:
    write_document(tmp_path, "doc-a")
    copy = write(tmp_path / "documents" / "zz-copy.yml", MINIMAL_DOCUMENT.format(id="doc-a", image="p"))
    with pytest.raises(ContentError, match=f"^{copy}:1: id: 'doc-a' is already used by .*doc-a.yml$"):
        load_content(tmp_path)


@pytest.mark.parametrize("data, expected", [
    (b"", "1: the file is empty"),
    (b"label: \xff\xfe\n", "1: not UTF-8 text (invalid start byte); save it as UTF-8"),
    (b"id: a\nlabel: [unclosed\n", "3: YAML syntax error: expected ',' or ']', but got '<stream end>' "
                                  "(check the indentation and quotes here and on the line before)"),
], ids=["empty file", "not UTF-8", "unclosed list"])
def test_unreadable_files(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_bytes(data)
    with pytest.raises(ContentError) as raised:
        read_curator_file(path)
    assert str(raised.value) == f"{path}:{expected}"


def test_missing_content_folder(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="the content folder does not exist"):
        load_content(tmp_path / "nowhere")


@pytest.mark.parametrize("path, expected", [
    (("label",), "label"),
    (("pages", 2, "image"), "pages > item 3 > image"),
    (("contents", 0, "sections", 1, "pages"), "contents > item 1 > sections > item 2 > pages"),
])
def test_describe_field_counts_list_items_from_one(path: tuple, expected: str) -> None:
    assert describe_field(path) == expected
