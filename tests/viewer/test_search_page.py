"""/viewer/search and /viewer/search.json: search across every published document, without JavaScript.

The page has no script at all (a GET form and links), so the Flask client sees all a reader sees.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from manifests.model import Region
from tests.manifests.test_build import URLS
from tests.manifests.test_content_search import publish_with_text
from tests.unit.test_search_query import page
from viewer import search
from viewer.deeplink import ContentState, decode_content_state

BASE = URLS.base_url
MANIFEST = f"{BASE}/iiif/presentation/manifests/decree.json"
CANVAS_2 = f"{BASE}/iiif/presentation/manifests/decree/canvas/p2"
TEXTS = {
    "decree": [page("Ban quoc khanh <script>alert(1)</script>", "nam"),
               page("Sắc lệnh về ngày Quốc khánh", "nước Việt Nam dân chủ cộng hòa")],
    "photo": [None],
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("public") / "iiif"
    publish_with_text(out, TEXTS)
    settings = PlatformSettings(image_root=tmp_path_factory.mktemp("images"), presentation_root=out)
    return create_platform_app(settings).test_client()


def links(html: str, pattern: str) -> list[str]:
    return [unescape(found) for found in re.findall(pattern, html)]


def test_the_page_is_a_plain_form_under_the_content_security_policy(client) -> None:
    response = client.get("/viewer/search")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script" not in html and "style=" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<form class="sr-form" method="get" action="/viewer/search"' in html
    assert 'name="q"' in html and "Tìm trong tài liệu lưu trữ" in html


def test_results_are_grouped_by_document_with_region_thumbnails_and_viewer_links(client) -> None:
    html = client.get("/viewer/search", query_string={"q": '"quốc khánh"'}).get_data(as_text=True)
    assert "2 trang khớp" in html
    assert html.count('<section class="sr-document">') == 1 and "Sắc lệnh</a></h2>" in html
    # Page 2 spells it so and comes first; the match (words 4-5 of line 1: x 410-590, y 20-50) with a
    # margin of one line height (30 px).
    assert html.index("Trang 2") < html.index("Trang 1")
    thumbnails = links(html, r'<img src="([^"]+)"')
    assert thumbnails[0] == f"{BASE}/iiif/3/decree%2Fp2/380,0,240,80/200,67/0/default.jpg"
    viewer = links(html, r'<a href="(/viewer/embed\?iiif-content=[^"]+)"')[0]
    state = decode_content_state(parse_qs(urlsplit(viewer).query)["iiif-content"][0])
    assert state == ContentState(MANIFEST, CANVAS_2, Region(380, 0, 240, 80))
    assert "Sắc lệnh về ngày <mark>Quốc khánh</mark> nước Việt Nam dân chủ" in html


def test_untrusted_text_is_escaped(client) -> None:
    html = client.get("/viewer/search", query_string={"q": 'khanh "<b>x'}).get_data(as_text=True)
    assert "<b>x" not in html
    html = client.get("/viewer/search?q=khanh").get_data(as_text=True)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_speaks_english_on_request(client) -> None:
    html = client.get("/viewer/search?q=khanh&lang=en").get_data(as_text=True)
    assert "Search the archive" in html and "2 matching pages" in html and "Page 2" in html
    assert '<input type="hidden" name="lang" value="en">' in html
    assert links(html, r'class="iv-language-link" href="([^"]+)"') == ["/viewer/search?q=khanh"]


def test_a_bad_query_is_explained_on_the_page(client) -> None:
    response = client.get('/viewer/search?q="quoc')
    assert response.status_code == 400 and "q has a double quote that is not closed" in response.get_data(as_text=True)


def test_results_are_paged(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "PAGES_PER_RESULTS_PAGE", 1)
    first = client.get("/viewer/search?q=khanh").get_data(as_text=True)
    assert "Trang 1" in first and "Trang 2" not in first
    assert links(first, r'<a rel="next" href="([^"]+)"') == ["/viewer/search?q=khanh&page=2"]
    second = client.get("/viewer/search?q=khanh&page=2").get_data(as_text=True)
    assert "Trang 2" in second and links(second, r'<a rel="prev" href="([^"]+)"') == ["/viewer/search?q=khanh"]
    assert 'rel="next"' not in second
    assert client.get("/viewer/search?q=khanh&page=3").status_code == 404


def test_the_json_api(client, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client.get("/viewer/search.json?q=dan+chu").json
    assert answer["q"] == "dan chu" and answer["totalPages"] == 1 and answer["pageCount"] == 1
    (document,) = answer["documents"]
    assert (document["id"], document["manifest"], document["label"]["en"]) == ("decree", MANIFEST, ["Decree"])
    (found,) = document["pages"]
    assert (found["page"], found["canvas"], found["more"]) == (2, CANVAS_2, 0)
    assert [(m["exact"], m["xywh"]) for m in found["matches"]] == [("dân", "310,70,80,30"), ("chủ", "410,70,80,30")]
    assert found["matches"][0]["thumbnail"].startswith(f"{BASE}/iiif/3/decree%2Fp2/")
    assert found["matches"][0]["viewer"].startswith("/viewer/embed?iiif-content=")
    monkeypatch.setattr(search, "PAGES_PER_RESULTS_PAGE", 1)
    paged = client.get("/viewer/search.json?q=khanh").json
    assert paged["next"] == "/viewer/search.json?q=khanh&page=2" and "prev" not in paged


@pytest.mark.parametrize("path, status, reason", [
    ("/viewer/search.json", 400, "q is empty"),
    ("/viewer/search.json?q=%22x", 400, "not closed"),
    ("/viewer/search.json?q=x&page=0", 400, "page must be a whole number"),
    ("/viewer/search.json?q=khanh&page=9", 404, "beyond the last page"),
], ids=["no q", "unclosed quote", "page 0", "beyond the last page"])
def test_the_json_api_refuses_bad_requests_in_one_line(client, path: str, status: int, reason: str) -> None:
    response = client.get(path)
    assert response.status_code == status and reason in response.get_data(as_text=True)


def test_without_text_the_page_says_so(tmp_path: Path) -> None:
    from manifests.build import plan_outputs
    from manifests.write import publish
    from tests.manifests.test_build import CONTENT, SIZES

    publish(plan_outputs(CONTENT, SIZES, URLS), tmp_path / "iiif", stream_url=URLS.activity_stream(), progress=False)
    client = create_platform_app(PlatformSettings(image_root=tmp_path, presentation_root=tmp_path / "iiif")).test_client()
    assert "Chưa có tài liệu nào có văn bản để tìm." in client.get("/viewer/search").get_data(as_text=True)
    assert client.get("/viewer/search.json?q=x").json["totalPages"] == 0


def test_a_presentation_folder_named_relative_to_the_working_directory_is_searched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`iiif-archive serve --presentation public/iiif`, as scripts/demo.sh runs it."""
    publish_with_text(tmp_path / "public" / "iiif", TEXTS)
    monkeypatch.chdir(tmp_path)
    settings = PlatformSettings(image_root=tmp_path, presentation_root=Path("public/iiif"))
    client = create_platform_app(settings).test_client()
    assert "2 trang khớp" in client.get("/viewer/search", query_string={"q": '"quốc khánh"'}).get_data(as_text=True)
    assert client.get("/iiif/presentation/search/decree", query_string={"q": "quoc"}).status_code == 200
