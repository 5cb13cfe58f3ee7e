"""viewer/static/search.js's readers of Content Search 2.0 answers and text annotation pages, in Chromium.

Each case is a shape the spec shows; the ids quote its section (Content Search 2.0 §3.3-3.4,
Presentation 3.0 for targets, the Text Granularity extension for lines and words).
"""

from __future__ import annotations

import pytest

CANVAS = "https://x.vn/iiif/presentation/manifests/decree/canvas/p1"
OTHER = "https://x.vn/iiif/presentation/manifests/decree/canvas/p2"
SERVICE = "https://x.vn/iiif/presentation/search/decree"


def item(name: str, target, value: str = "Quốc khánh") -> dict:
    return {"id": f"{SERVICE}/anno/{name}", "type": "Annotation", "motivation": "supplementing",
            "body": {"type": "TextualBody", "value": value, "format": "text/plain"}, "target": target}


def extra(motivation: str, *targets: tuple[str, dict]) -> dict:
    return {"id": f"{SERVICE}/match", "type": "Annotation", "motivation": motivation,
            "target": [{"type": "SpecificResource", "source": f"{SERVICE}/anno/{name}",
                        "selector": [{"type": "TextQuoteSelector", **quote}]} for name, quote in targets]}


def answer(items: list[dict], extras: list[dict] | None = None) -> dict:
    page = {"@context": ["http://iiif.io/api/presentation/3/context.json", "http://iiif.io/api/search/2/context.json"],
            "id": f"{SERVICE}?q=x", "type": "AnnotationPage", "items": items}
    if extras is not None:
        page["annotations"] = [{"type": "AnnotationPage", "items": extras}]
    return page


HIT_CASES = [
    pytest.param(answer([item("a", f"{CANVAS}#xywh=10,20,30,40")]),
                 [{"canvas": CANVAS, "region": {"x": 10, "y": 20, "width": 30, "height": 40},
                   "prefix": "", "exact": "Quốc khánh", "suffix": ""}],
                 id="§3.3 simple lists: each item is a hit, its body the text"),
    pytest.param(answer([item("a", {"id": f"{CANVAS}#xywh=1,2,3,4", "partOf": {"id": "m", "type": "Manifest"}})]),
                 [{"canvas": CANVAS, "region": {"x": 1, "y": 2, "width": 3, "height": 4},
                   "prefix": "", "exact": "Quốc khánh", "suffix": ""}],
                 id="§3.3 a target object with partOf"),
    pytest.param(answer([item("a", {"type": "SpecificResource", "source": {"id": CANVAS, "type": "Canvas"},
                                    "selector": {"type": "FragmentSelector", "value": "xywh=5,6,7,8"}})]),
                 [{"canvas": CANVAS, "region": {"x": 5, "y": 6, "width": 7, "height": 8},
                   "prefix": "", "exact": "Quốc khánh", "suffix": ""}],
                 id="Presentation 3.0 §4.2 a SpecificResource with a FragmentSelector"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=10,20,30,40", "Ngày Quốc khánh năm")],
                        [extra("highlighting", ("a", {"prefix": "Ngày ", "exact": "Quốc khánh", "suffix": " năm"}))]),
                 [{"canvas": CANVAS, "region": {"x": 10, "y": 20, "width": 30, "height": 40},
                   "prefix": "Ngày ", "exact": "Quốc khánh", "suffix": " năm"}],
                 id="§3.4.3 highlighting with a TextQuoteSelector"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=10,20,30,40")],
                        [extra("contextualizing", ("a", {"prefix": "Ngày ", "exact": "Quốc khánh", "suffix": ""}))]),
                 [{"canvas": CANVAS, "region": {"x": 10, "y": 20, "width": 30, "height": 40},
                   "prefix": "Ngày ", "exact": "Quốc khánh", "suffix": ""}],
                 id="§3.4.2 contextualizing snippets"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=100,100,150,30", "A bird in the hand"),
                         item("b", f"{CANVAS}#xywh=200,140,170,30", "is worth two")],
                        [extra("highlighting", ("a", {"prefix": "bird in the ", "exact": "hand"}),
                               ("b", {"exact": "is", "suffix": " worth two"}))]),
                 [{"canvas": CANVAS, "region": {"x": 100, "y": 100, "width": 270, "height": 70},
                   "prefix": "bird in the ", "exact": "hand is", "suffix": " worth two"}],
                 id="§3.4.5 a match across two annotations covers both"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=100,100,50,30", "Tổng"),
                         item("b", f"{CANVAS}#xywh=160,100,60,30", "tuyển")],
                        [extra("contextualizing", ("a", {"prefix": "x ", "exact": "Tổng tuyển", "suffix": " cử"}),
                               ("b", {"prefix": "x ", "exact": "Tổng tuyển", "suffix": " cử"}))]),
                 [{"canvas": CANVAS, "region": {"x": 100, "y": 100, "width": 120, "height": 30},
                   "prefix": "x ", "exact": "Tổng tuyển", "suffix": " cử"}],
                 id="§3.4.5 one quote of the whole match repeated on each part is shown once"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=1,1,1,1"), item("b", f"{OTHER}#xywh=2,2,2,2")],
                        [extra("highlighting", ("b", {"exact": "x"})), extra("highlighting", ("a", {"exact": "y"}))]),
                 [{"canvas": OTHER, "region": {"x": 2, "y": 2, "width": 2, "height": 2},
                   "prefix": "", "exact": "x", "suffix": ""},
                  {"canvas": CANVAS, "region": {"x": 1, "y": 1, "width": 1, "height": 1},
                   "prefix": "", "exact": "y", "suffix": ""}],
                 id="§3.4.4 hits in the service's order, each on its own canvas"),
    pytest.param(answer([item("a", f"{CANVAS}#xywh=1,1,1,1")], [extra("highlighting", ("missing", {"exact": "x"}))]),
                 [], id="a highlight naming no listed annotation is no hit"),
]


@pytest.fixture(scope="module")
def search_module(browser, published_site):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{published_site.base_url}/viewer/exhibitions/")
    page.evaluate("async () => { window.search = await import('/viewer/static/search.js'); }")
    yield page
    context.close()


@pytest.mark.parametrize(("answer_json", "expected"), HIT_CASES)
def test_search_hits(search_module, answer_json: dict, expected: list[dict]) -> None:
    assert search_module.evaluate("(answer) => window.search.searchHits(answer)", answer_json) == expected


def line(name: str, value: str, xywh: str, granularity: str | None) -> dict:
    annotation = item(name, f"{CANVAS}#xywh={xywh}", value)
    annotation["body"]["language"] = "vi"
    if granularity:
        annotation["textGranularity"] = granularity
    return annotation


@pytest.mark.parametrize(("items", "expected"), [
    pytest.param([line("l1", "Sắc lệnh số 1", "0,0,100,10", "line"), line("w1", "Sắc", "0,0,20,10", "word"),
                  line("l2", "Điều 1", "0,20,50,10", "line")],
                 ["Sắc lệnh số 1", "Điều 1"], id="Text Granularity extension: only the lines, in order"),
    pytest.param([line("a", "Một dòng", "0,0,1,1", None), line("b", "Hai", "0,2,1,1", None)],
                 ["Một dòng", "Hai"], id="no granularity marked: every supplementing annotation is a line"),
    pytest.param([{**line("p", "tranh", "0,0,1,1", None), "motivation": "painting"}], [],
                 id="Presentation 3.0 §3.4 only supplementing annotations are the page's text"),
])
def test_page_lines(search_module, items: list[dict], expected: list[str]) -> None:
    lines = search_module.evaluate("(page) => window.search.pageLines(page)",
                                   {"id": "x", "type": "AnnotationPage", "items": items})
    assert [found["text"] for found in lines] == expected
    assert all(found["language"] == "vi" and found["region"] for found in lines)


@pytest.mark.parametrize(("services", "expected"), [
    pytest.param([{"id": SERVICE, "type": "SearchService2"}], SERVICE, id="§2 SearchService2 in the manifest's service"),
    pytest.param([{"id": "javascript:alert(1)", "type": "SearchService2"}], None, id="an untrusted URL is http(s) only"),
    pytest.param([{"id": SERVICE, "type": "SearchService1"}], None, id="Search 1.0 services are not this client's"),
])
def test_search_service(search_module, services: list[dict], expected) -> None:
    assert search_module.evaluate("(manifest) => window.search.searchService(manifest)",
                                  {"service": services}) == expected
