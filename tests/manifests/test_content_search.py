"""IIIF Content Search 2.0 (https://iiif.io/api/search/2.0/) on a published folder, through the platform app."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from manifests.build import plan_outputs
from manifests.content_search import MATCHES_PER_PAGE, SEARCH_CONTEXT
from manifests.search_index import INDEX_FILE
from manifests.write import publish
from tests.manifests.test_build import CONTENT, SIZES, URLS
from tests.unit.test_search_query import page

BASE = URLS.base_url
DECREE_CANVAS_1 = f"{BASE}/iiif/presentation/manifests/decree/canvas/p1"
DECREE_CANVAS_2 = f"{BASE}/iiif/presentation/manifests/decree/canvas/p2"
SEARCH = "/iiif/presentation/search/decree"
# Page 1 says "khanh" without diacritics, page 2 "Quốc khánh" with them.
TEXTS = {
    "decree": [page("Ban quoc khanh", "ngày lễ " + "độc " * (MATCHES_PER_PAGE + 20)),
               page("Sắc lệnh về ngày Quốc khánh", "nước Việt Nam dân chủ cộng hòa")],
    "photo": [None],
}


def publish_with_text(out: Path, texts: dict) -> None:
    publish(plan_outputs(CONTENT, SIZES, URLS, texts), out, stream_url=URLS.activity_stream(), progress=False,
            page_texts=texts)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("public") / "iiif"
    publish_with_text(out, TEXTS)
    return out


@pytest.fixture(scope="module")
def client(folder: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = PlatformSettings(image_root=tmp_path_factory.mktemp("images"), presentation_root=folder, base_url=BASE)
    return create_platform_app(settings).test_client()


def test_3_a_manifest_with_text_declares_search_with_autocomplete_inside(client) -> None:
    manifest = client.get("/iiif/presentation/manifests/decree.json").json
    assert manifest["service"] == [{
        "id": f"{BASE}/iiif/presentation/search/decree", "type": "SearchService2",
        "service": [{"id": f"{BASE}/iiif/presentation/autocomplete/decree", "type": "AutoCompleteService2"}],
    }]
    assert "service" not in client.get("/iiif/presentation/manifests/photo.json").json


def test_4_2_the_answer_is_an_annotation_page_of_matches_on_their_canvas_regions(client) -> None:
    response = client.get(SEARCH + "?q=dân+chủ")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    answer = response.json
    assert answer["@context"] == SEARCH_CONTEXT and answer["type"] == "AnnotationPage"
    assert answer["id"] == f"{BASE}/iiif/presentation/search/decree?q=d%C3%A2n+ch%E1%BB%A7"
    # "nước Việt Nam dân chủ": words 3 and 4 of line 2, at x = 10 + 100 n, y = 70.
    assert [(item["body"]["value"], item["target"]["id"]) for item in answer["items"]] == [
        ("dân", f"{DECREE_CANVAS_2}#xywh=310,70,80,30"), ("chủ", f"{DECREE_CANVAS_2}#xywh=410,70,80,30")]
    item = answer["items"][0]
    assert item["type"] == "Annotation" and item["motivation"] == "supplementing"
    # §4.2.3 References to Containing Resources
    assert item["target"]["partOf"] == {"id": f"{BASE}/iiif/presentation/manifests/decree.json", "type": "Manifest",
                                        "label": {"vi": ["Sắc lệnh"], "en": ["Decree"]}}


def test_4_3_1_match_context_is_a_text_quote_selector_on_the_match(client) -> None:
    answer = client.get(SEARCH + '?q="Quốc khánh"').json
    item, context = answer["items"][0], answer["annotations"][0]["items"][0]
    assert item["target"]["id"] == f"{DECREE_CANVAS_2}#xywh=410,20,180,30"
    assert context["motivation"] == "contextualizing"
    assert context["target"] == {"type": "SpecificResource", "source": item["id"], "selector": [
        {"type": "TextQuoteSelector", "prefix": "Sắc lệnh về ngày ", "exact": "Quốc khánh",
         "suffix": " nước Việt Nam dân chủ"}]}


def test_4_3_3_a_phrase_across_lines_targets_one_region_per_line(client) -> None:
    answer = client.get(SEARCH + '?q="khánh nước"').json
    assert [item["target"]["id"] for item in answer["items"]] == [
        f"{DECREE_CANVAS_2}#xywh=510,20,80,30", f"{DECREE_CANVAS_2}#xywh=10,70,80,30"]
    (context,) = answer["annotations"][0]["items"]
    assert [target["source"] for target in context["target"]] == [item["id"] for item in answer["items"]]


@pytest.mark.parametrize("q, expected", [
    ("quoc khanh", [DECREE_CANVAS_1, DECREE_CANVAS_1, DECREE_CANVAS_2, DECREE_CANVAS_2]),
    ("Quốc khánh", [DECREE_CANVAS_2, DECREE_CANVAS_2, DECREE_CANVAS_1, DECREE_CANVAS_1]),
    ("khanh", [DECREE_CANVAS_1, DECREE_CANVAS_2]),
    ("khánh", [DECREE_CANVAS_2, DECREE_CANVAS_1]),
    ("ban khánh", [DECREE_CANVAS_1, DECREE_CANVAS_1]),
    ('"lệnh về"', [DECREE_CANVAS_2]),
    ('"về lệnh"', []),
], ids=["§4.1.1 q: words without diacritics find both spellings, the page spelled so first",
         "words with diacritics: the page spelled so first",
        "folded word: the page spelled so ranks first", "accented word: the page spelled so ranks first",
        "every word must be on the page", "a phrase in quotes", "a phrase keeps its word order"])
def test_4_1_1_q_folds_vietnamese_diacritics(client, q: str, expected: list[str]) -> None:
    answer = client.get(SEARCH, query_string={"q": q}).json
    assert [item["target"]["id"].split("#")[0] for item in answer["items"]] == expected


def test_4_2_2_paging_results(client) -> None:
    first = client.get(SEARCH + "?q=doc").json
    total = MATCHES_PER_PAGE + 20
    url = f"{BASE}/iiif/presentation/search/decree?q=doc"
    assert first["id"] == url + "&page=1" and first["startIndex"] == 0
    assert first["partOf"] == {"id": url, "type": "AnnotationCollection", "total": total,
                               "first": {"id": url + "&page=1", "type": "AnnotationPage"},
                               "last": {"id": url + "&page=2", "type": "AnnotationPage"}}
    assert first["next"] == {"id": url + "&page=2", "type": "AnnotationPage"} and "prev" not in first
    assert len(first["items"]) == len(first["annotations"][0]["items"]) == MATCHES_PER_PAGE
    second = client.get(first["next"]["id"].removeprefix(BASE)).json
    assert second["startIndex"] == MATCHES_PER_PAGE and len(second["items"]) == 20
    assert second["prev"] == {"id": url + "&page=1", "type": "AnnotationPage"} and "next" not in second
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}


def test_4_2_4_ignored_parameters_are_named(client) -> None:
    answer = client.get(SEARCH + "?q=khánh&user=https%3A%2F%2Fexample.com%2Fu&date=x").json
    assert answer["ignored"] == ["date", "user"] and len(answer["items"]) == 2
    assert "ignored" not in client.get(SEARCH + "?q=khánh").json


@pytest.mark.parametrize("motivation, count", [("supplementing", 2), ("painting", 0), ("painting supplementing", 2)],
                         ids=["§4.1.1 motivation: the matches' own", "another", "any of several"])
def test_4_1_1_motivation_filters_matches(client, motivation: str, count: int) -> None:
    answer = client.get(SEARCH, query_string={"q": "khánh", "motivation": motivation}).json
    assert len(answer["items"]) == count and "ignored" not in answer


def test_5_2_autocomplete_answers_a_term_page(client) -> None:
    response = client.get("/iiif/presentation/autocomplete/decree?q=kh")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json == {"@context": SEARCH_CONTEXT, "id": f"{BASE}/iiif/presentation/autocomplete/decree?q=kh",
                             "type": "TermPage", "items": [{"value": "khanh", "total": 1}, {"value": "khánh", "total": 1}]}
    assert client.get("/iiif/presentation/autocomplete/decree?q=Quố").json["items"] == [
        {"value": "quốc", "total": 1}, {"value": "quoc", "total": 1}]
    assert client.get("/iiif/presentation/autocomplete/decree?q=độ&min=2").json["items"] == [
        {"value": "độc", "total": MATCHES_PER_PAGE + 20}]


@pytest.mark.parametrize("path, status, reason", [
    (SEARCH, 400, "q is empty"),
    (SEARCH + "?q=%22quoc", 400, "not closed"),
    (SEARCH + "?q=...", 400, "no word"),
    (SEARCH + "?q=khanh&page=0", 400, "page must be a whole number"),
    (SEARCH + "?q=khanh&page=x", 400, "page must be a whole number"),
    (SEARCH + "?q=khanh&page=3", 404, "beyond the last page"),
    ("/iiif/presentation/search/nothing?q=x", 404, "no document 'nothing'"),
    ("/iiif/presentation/search/photo?q=x", 404, "no text to search"),
    ("/iiif/presentation/search/Decree?q=x", 404, "no document 'Decree'"),
    ("/iiif/presentation/autocomplete/decree", 400, "q is empty"),
    ("/iiif/presentation/autocomplete/decree?q=kh&min=-1", 400, "min must be a whole number"),
    ("/iiif/presentation/autocomplete/photo?q=kh", 404, "no text to search"),
], ids=["no q", "unclosed quote", "only punctuation", "page 0", "page not a number", "page beyond the last",
        "unknown document", "document without text", "not a document id", "autocomplete without q",
        "autocomplete min below 1", "autocomplete of a document without text"])
def test_bad_requests_answer_one_line(client, path: str, status: int, reason: str) -> None:
    response = client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == status and reason in body and body.count("\n") == 1
    assert "/tmp" not in body and response.headers["Access-Control-Allow-Origin"] == "*"


def test_a_new_build_is_searched_at_once_and_an_unchanged_one_keeps_its_index(tmp_path: Path) -> None:
    out = tmp_path / "iiif"
    publish_with_text(out, TEXTS)
    client = create_platform_app(PlatformSettings(image_root=tmp_path, presentation_root=out, base_url=BASE)).test_client()
    assert client.get(SEARCH + "?q=hòa").json["items"]
    changed = {**TEXTS, "decree": [TEXTS["decree"][0], page("Tuyên ngôn độc lập")]}
    report = publish(plan_outputs(CONTENT, SIZES, URLS, changed), out, stream_url=URLS.activity_stream(), progress=False,
                     page_texts=changed)
    assert INDEX_FILE in report.built
    assert client.get(SEARCH + "?q=hòa").json["items"] == []
    assert [item["body"]["value"] for item in client.get(SEARCH + "?q=tuyen").json["items"]] == ["Tuyên"]
    again = publish(plan_outputs(CONTENT, SIZES, URLS, changed), out, stream_url=URLS.activity_stream(), progress=False,
                    page_texts=changed)
    assert INDEX_FILE in again.reused and not again.written
    without_text = publish(plan_outputs(CONTENT, SIZES, URLS), out, stream_url=URLS.activity_stream(), progress=False)
    assert INDEX_FILE in without_text.removed and not (out / INDEX_FILE).exists()
    assert client.get(SEARCH + "?q=tuyen").status_code == 404


def test_a_searched_manifest_is_parsed_once_per_version_of_its_file(folder: Path, tmp_path: Path) -> None:
    import shutil

    from manifests.serve import SearchableManifests

    root = tmp_path / "iiif"
    shutil.copytree(folder, root)
    manifests = SearchableManifests(root)
    first = manifests.get("decree")
    assert manifests.get("decree") is first, "the same file: no second parse"
    manifest_file = root / "manifests" / "decree.json"
    manifest_file.write_text(manifest_file.read_text(encoding="utf-8").replace('canvas/p2"', 'canvas/page-2"'), encoding="utf-8")
    rebuilt = manifests.get("decree")
    assert rebuilt is not first and rebuilt.canvas_ids[1].endswith("/page-2")
