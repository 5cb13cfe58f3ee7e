"""Server side of /viewer/ through Flask's test client: previews, bad input, exhibitions, vendor files."""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlencode

import pytest

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from manifests import load
from iiif_server.settings import SettingsError
from tests.viewer.conftest import EXHIBITION_ID, EXHIBITION_STEPS
from viewer.blueprint import OPENSEADRAGON_STYLE_HASHES
from viewer.deeplink import ContentState, encode_content_state


@pytest.fixture(scope="module")
def client(published_site):
    settings = PlatformSettings(image_root=published_site.presentation_root, presentation_root=published_site.presentation_root,
                        content_root=published_site.content_root, trusted_hosts="archives.example")
    return create_platform_app(settings).test_client()


@pytest.fixture(scope="module")
def bare_client(tmp_path_factory):
    """A server with no built manifests and no content folder."""
    return create_platform_app(PlatformSettings(image_root=tmp_path_factory.mktemp("no-images"))).test_client()


def meta(html: str, name: str) -> str | None:
    found = re.search(rf'<meta (?:property|name)="{re.escape(name)}" content="([^"]*)">', html)
    return found.group(1) if found else None


def test_a_canvas_link_gets_an_og_image_of_its_region(client, published_site) -> None:
    query = urlencode({"manifest": published_site.manifest_url("map-hanoi-1873"),
                       "canvas": published_site.canvas_id("map-hanoi-1873", 1), "xywh": "300,200,400,300",
                       "lang": "en"})
    html = client.get(f"/viewer/embed?{query}").get_data(as_text=True)
    assert meta(html, "og:image").endswith("/iiif/3/maps%2Fhanoi-1873/300,200,400,300/400,300/0/default.jpg")
    assert meta(html, "og:image:width") == "400"
    assert meta(html, "og:title") == "Map of the city of Hanoi, 1873"
    assert meta(html, "twitter:card") == "summary_large_image"
    assert '<html lang="en">' in html


def test_a_large_region_preview_is_shrunk_to_1200_pixels(client, published_site) -> None:
    state = ContentState(published_site.manifest_url("map-hanoi-1873"), published_site.canvas_id("map-hanoi-1873", 1))
    html = client.get("/viewer/embed?" + urlencode({"iiif-content": encode_content_state(state)})).get_data(as_text=True)
    assert re.search(r"/iiif/3/maps%2Fhanoi-1873/full/\d+,\d+/0/default.jpg$", meta(html, "og:image"))
    assert max(int(meta(html, "og:image:width")), int(meta(html, "og:image:height"))) <= 1200


def test_a_manifest_from_elsewhere_gets_no_preview(client) -> None:
    response = client.get("/viewer/embed?" + urlencode({"manifest": "https://elsewhere.example/manifest.json"}))
    assert response.status_code == 200
    assert meta(response.get_data(as_text=True), "og:image") is None


@pytest.mark.parametrize(("query", "message"), [
    pytest.param({"manifest": "https://x/m.json", "xywh": "1,2,3"}, "xywh must be four numbers", id="bad xywh"),
    pytest.param({"iiif-content": "!!!"}, "neither a URI nor base64url", id="bad content state"),
    pytest.param({"iiif-content": encode_content_state(ContentState("https://x/m", "https://x/c"))[:-8]},
                 "iiif-content", id="truncated content state"),
])
def test_bad_deep_links_get_one_clear_line(client, query, message) -> None:
    response = client.get("/viewer/embed?" + urlencode(query))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and body.count("\n") == 1


def test_exhibition_page_has_every_step_in_order_with_its_picture(client, published_site) -> None:
    html = client.get(f"/viewer/exhibitions/{EXHIBITION_ID}?lang=en").get_data(as_text=True)
    captions = re.findall(r'alt="(Step \d: caption)"', html)
    assert captions == [f"Step {number}: caption" for number in range(1, len(EXHIBITION_STEPS) + 1)]
    regions = re.findall(r'data-region="([^"]+)"', html)
    assert regions == [",".join(map(str, step["region"])) for step in EXHIBITION_STEPS if "region" in step]
    assert 'href="/viewer/exhibitions/test-exhibition"' in html  # the switch to Vietnamese


def test_unknown_exhibition_is_404(client) -> None:
    response = client.get("/viewer/exhibitions/no-such-exhibition")
    assert response.status_code == 404 and "no exhibition 'no-such-exhibition'" in response.get_data(as_text=True)


def test_without_content_the_index_says_so(bare_client) -> None:
    html = bare_client.get("/viewer/exhibitions/?lang=en").get_data(as_text=True)
    assert "No exhibitions yet." in html
    assert "No manifests are published yet." in bare_client.get("/viewer/?lang=en").get_data(as_text=True)


def test_guide_shows_both_snippets_with_this_servers_urls(client, published_site) -> None:
    html = client.get("/viewer/?lang=en", base_url="http://archives.example").get_data(as_text=True)
    assert '&lt;iframe src="http://archives.example/viewer/embed?manifest=' in html
    assert '&lt;script type="module" src="http://archives.example/viewer/static/iiif-viewer.js"' in html
    assert "&lt;iiif-viewer manifest=" in html


@pytest.mark.parametrize(("path", "status"), [
    ("/viewer/vendor/openseadragon/openseadragon.min.js", 200),
    ("/viewer/vendor/mirador/mirador.min.js", 200),
    ("/viewer/vendor/axe-core/axe.min.js", 200),
    ("/viewer/vendor/react/index.js", 404),
    ("/viewer/vendor/universalviewer/dist/umd/UV.js", 404),
    ("/viewer/vendor/leaflet-iiif/leaflet-iiif.js", 404),
    ("/viewer/vendor/openseadragon/../../mirador/package.json", 404),
])
def test_only_the_listed_npm_files_are_served(client, path, status) -> None:
    assert client.get(path).status_code == status


def test_an_exhibition_whose_manifests_are_not_built_names_the_missing_document(published_site, tmp_path) -> None:
    settings = PlatformSettings(image_root=tmp_path, presentation_root=tmp_path, content_root=published_site.content_root)
    response = create_platform_app(settings).test_client().get(f"/viewer/exhibitions/{EXHIBITION_ID}")
    assert response.status_code == 404
    assert response.get_data(as_text=True) == (f"exhibition '{EXHIBITION_ID}' step 1: document 'decree-1945' has no "
                                               "built manifest (run iiif-archive build)\n")


def test_broken_curator_files_give_the_first_problem_on_one_line(published_site, tmp_path) -> None:
    content = tmp_path / "content"
    shutil.copytree(published_site.content_root, content)
    exhibition_file = content / "exhibitions" / f"{EXHIBITION_ID}.yml"
    exhibition_file.write_text(exhibition_file.read_text(encoding="utf-8").replace("title:", "title: [", 1),
                               encoding="utf-8")
    settings = PlatformSettings(image_root=tmp_path, presentation_root=published_site.presentation_root, content_root=content)
    response = create_platform_app(settings).test_client().get("/viewer/exhibitions/")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert body.startswith(f"the content folder has problems: exhibitions/{EXHIBITION_ID}.yml:") and body.count("\n") == 1
    assert str(tmp_path) not in body  # issue 10: no path of the server in answers


def test_curator_files_are_read_once_and_then_only_when_changed(published_site, tmp_path, monkeypatch) -> None:
    content = tmp_path / "content"
    shutil.copytree(published_site.content_root, content)
    reads: list[str] = []
    read_curator_file = load.read_curator_file
    monkeypatch.setattr(load, "read_curator_file", lambda path: reads.append(path.name) or read_curator_file(path))
    settings = PlatformSettings(image_root=tmp_path, presentation_root=published_site.presentation_root, content_root=content)
    client = create_platform_app(settings).test_client()
    page = f"/viewer/exhibitions/{EXHIBITION_ID}?lang=en"
    assert client.get(page).status_code == 200
    assert sorted(reads) == sorted(path.name for path in content.rglob("*.yml"))
    reads.clear()
    for _ in range(3):
        assert client.get(page).status_code == 200 and client.get("/viewer/exhibitions/").status_code == 200
    assert reads == []
    exhibition_file = content / "exhibitions" / f"{EXHIBITION_ID}.yml"
    exhibition_file.write_text(exhibition_file.read_text(encoding="utf-8").replace("Test exhibition", "Renamed show"),
                               encoding="utf-8")
    assert "Renamed show" in client.get(page).get_data(as_text=True)
    assert reads == [exhibition_file.name]


def test_a_broken_curator_file_is_reported_until_it_is_fixed(published_site, tmp_path) -> None:
    content = tmp_path / "content"
    shutil.copytree(published_site.content_root, content)
    exhibition_file = content / "exhibitions" / f"{EXHIBITION_ID}.yml"
    good = exhibition_file.read_text(encoding="utf-8")
    exhibition_file.write_text(good.replace("title:", "title: [", 1), encoding="utf-8")
    settings = PlatformSettings(image_root=tmp_path, presentation_root=published_site.presentation_root, content_root=content)
    client = create_platform_app(settings).test_client()
    assert client.get("/viewer/exhibitions/").status_code == 500
    assert client.get("/viewer/exhibitions/").status_code == 500
    exhibition_file.write_text(good, encoding="utf-8")
    assert client.get("/viewer/exhibitions/").status_code == 200
@pytest.mark.parametrize("view", ["manifest", "content state"])
def test_a_foreign_manifest_with_a_local_path_borrows_no_preview(client, published_site, view) -> None:
    """og:title and og:image only for a manifest this server publishes, not for one at the same path elsewhere."""
    foreign = published_site.manifest_url("map-hanoi-1873").replace(published_site.base_url, "https://evil.example")
    query = ({"manifest": foreign} if view == "manifest" else
             {"iiif-content": encode_content_state(ContentState(foreign, foreign + "/canvas/p1"))})
    html = client.get("/viewer/embed?" + urlencode({**query, "lang": "en"})).get_data(as_text=True)
    assert meta(html, "og:image") is None and meta(html, "og:title") is None
    assert "Hanoi" not in html and "<title>Document viewer</title>" in html


def policy_of(response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return {name: value for name, value in directives}


@pytest.mark.parametrize("path", ["/viewer/", "/viewer/embed", "/viewer/mirador", "/viewer/exhibitions/",
                                  f"/viewer/exhibitions/{EXHIBITION_ID}", "/"])
def test_every_page_has_a_content_security_policy_without_inline_script(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = policy_of(response)
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == ("*" if path == "/viewer/embed" else "'self'")
    openseadragon_pages = ("/viewer/", "/viewer/embed", f"/viewer/exhibitions/{EXHIBITION_ID}")
    admitted_styles = {"/viewer/mirador": "'self' 'unsafe-inline'"}.get(
        path, f"'self' 'sha256-{OPENSEADRAGON_STYLE_HASHES[0]}'" if path in openseadragon_pages else "'self'")
    assert policy["style-src"] == admitted_styles
    # Pages running our viewer frame the IIIF Auth 2.0 token service of whichever server holds the image.
    assert policy["frame-src"] == ("'self' https: http:" if path in openseadragon_pages else "'self'")
    html = response.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]* src=)[^>]*>", html) == []  # every script is a file
    assert not re.search(r"<[^>]+ (on[a-z]+|style)=", html)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_origins_that_may_frame_the_embed_page_are_a_setting(published_site) -> None:
    settings = PlatformSettings(image_root=published_site.presentation_root,
                                embed_frame_ancestors="'self' https://portal.archives.example")
    client = create_platform_app(settings).test_client()
    assert policy_of(client.get("/viewer/embed"))["frame-ancestors"] == "'self' https://portal.archives.example"
    assert policy_of(client.get("/viewer/"))["frame-ancestors"] == "'self'"


def test_frame_ancestors_that_would_break_the_policy_stop_the_app(tmp_path) -> None:
    with pytest.raises(SettingsError, match="embed_frame_ancestors"):
        create_platform_app(PlatformSettings(image_root=tmp_path, embed_frame_ancestors="*; script-src *"))


@pytest.mark.parametrize("query", [{"manifest": "javascript:alert(1)"}, {"manifest": " data:text/html,x"},
                                   {"iiif-content": encode_content_state(ContentState("javascript:alert(1)", "c"))}],
                         ids=["javascript manifest", "data manifest", "content state naming a javascript manifest"])
def test_a_manifest_that_is_not_http_is_refused(client, query) -> None:
    response = client.get("/viewer/embed?" + urlencode(query))
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "the manifest must be an http(s) URL\n"
