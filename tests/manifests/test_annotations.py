"""A page's text -> its AnnotationPage: lines then their words, supplementing, valid Presentation 3.0."""

from __future__ import annotations

from manifests.annotations import PRESENTATION_CONTEXT, TEXT_GRANULARITY_CONTEXT, build_text_annotation_page
from manifests.model import Region
from manifests.pagetext import Line, PageText, Word
from manifests.write import schema_errors

PAGE_ID = "https://iiif.example.vn/iiif/presentation/annotations/decree/p1.json"
CANVAS_ID = "https://iiif.example.vn/iiif/presentation/manifests/decree/canvas/p1"
TEXT = PageText((
    Line((Word("Quốc", Region(10, 20, 40, 12)), Word("khánh", Region(55, 20, 50, 12))), Region(10, 20, 95, 12)),
    Line((Word("1945", Region(10, 40, 30, 12)),), Region(10, 40, 30, 12)),
), source="ocr", language="vi")


def test_each_line_is_followed_by_its_words_each_targeting_its_canvas_region() -> None:
    page = build_text_annotation_page(TEXT, PAGE_ID, CANVAS_ID)
    assert (page["id"], page["type"]) == (PAGE_ID, "AnnotationPage")
    assert page["@context"] == [TEXT_GRANULARITY_CONTEXT, PRESENTATION_CONTEXT]  # Presentation 3.0 §4.6: last
    assert [(item["textGranularity"], item["body"]["value"], item["target"]) for item in page["items"]] == [
        ("line", "Quốc khánh", f"{CANVAS_ID}#xywh=10,20,95,12"),
        ("word", "Quốc", f"{CANVAS_ID}#xywh=10,20,40,12"),
        ("word", "khánh", f"{CANVAS_ID}#xywh=55,20,50,12"),
        ("line", "1945", f"{CANVAS_ID}#xywh=10,40,30,12"),
        ("word", "1945", f"{CANVAS_ID}#xywh=10,40,30,12"),
    ]
    first = page["items"][0]
    assert first["id"] == PAGE_ID.removesuffix(".json") + "/line/1"
    assert first["motivation"] == "supplementing"
    assert first["body"] == {"type": "TextualBody", "value": "Quốc khánh", "format": "text/plain", "language": "vi"}
    assert page["items"][2]["id"] == PAGE_ID.removesuffix(".json") + "/line/1/word/2"
    assert len({item["id"] for item in page["items"]}) == 5


def test_the_annotation_page_is_valid_presentation_3() -> None:
    assert schema_errors(build_text_annotation_page(TEXT, PAGE_ID, CANVAS_ID)) == []


def test_a_page_without_lines_is_an_empty_valid_page() -> None:
    page = build_text_annotation_page(PageText((), "alto"), PAGE_ID, CANVAS_ID)
    assert page["items"] == [] and schema_errors(page) == []
