"""/iiif/presentation/: the built folder served as JSON-LD, and every id in it resolving on a real server."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from PIL import Image

from iiif_archive.app import create_platform_app
from iiif_archive.cli import main
from iiif_archive.settings import PlatformSettings
from manifests.serve import PRESENTATION_MEDIA_TYPE
from tests.conftest import start_server, stop_server


def build(content: Path, images: Path, out: Path, base_url: str) -> None:
    result = CliRunner().invoke(main, ["build", str(content), "--images", str(images), "--out", str(out),
                                       "--base-url", base_url, "--no-ocr"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def client(demo_content: Path, sample_images: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("public") / "iiif"
    build(demo_content, sample_images, out, "http://localhost")
    app = create_platform_app(PlatformSettings(image_root=sample_images, presentation_root=out))
    return app.test_client()


def test_manifest_is_served_as_json_ld_with_cors(client) -> None:
    response = client.get("/iiif/presentation/manifests/decree-1945.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == PRESENTATION_MEDIA_TYPE
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json["id"] == "http://localhost/iiif/presentation/manifests/decree-1945.json"


def test_revalidation_with_etag_answers_304(client) -> None:
    first = client.get("/iiif/presentation/collection.json")
    assert first.headers["Cache-Control"] == "public, no-cache" and first.headers["ETag"]
    again = client.get("/iiif/presentation/collection.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_folder_root_redirects_to_the_top_collection(client) -> None:
    response = client.get("/iiif/presentation/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/iiif/presentation/collection.json")


@pytest.mark.parametrize("path", [
    "manifests/nothing.json", ".build-state.json", "manifests/../.build-state.json", "manifests", "../images/x.json",
    "manifests/" + "x" * 300 + ".json",
], ids=["unknown manifest", "build state", "build state via ..", "folder", "outside the folder",
        "a name the file system refuses (was 500)"])
def test_only_built_json_files_are_served(client, path: str) -> None:
    response = client.get(f"/iiif/presentation/{path}")
    assert response.status_code == 404
    # A one-line reason naming the URL, never the folder on the server (issue 10).
    assert response.data.decode().count("\n") == 1
    assert response.data.decode().startswith("no manifest or collection at /iiif/presentation/")


def test_preflight_is_answered(client) -> None:
    response = client.options("/iiif/presentation/collection.json", headers={"Origin": "https://portal.example.vn",
                                                                             "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"


def test_without_a_presentation_folder_nothing_is_served(sample_images: Path) -> None:
    client = create_platform_app(PlatformSettings(image_root=sample_images)).test_client()
    assert client.get("/iiif/presentation/collection.json").status_code == 404


def test_a_symlink_out_of_the_folder_is_not_followed(sample_images: Path, tmp_path: Path) -> None:
    folder, outside = tmp_path / "iiif", tmp_path / "outside.json"
    folder.mkdir()
    outside.write_text('{"secret": true}')
    (folder / "leak.json").symlink_to(outside)
    client = create_platform_app(PlatformSettings(image_root=sample_images, presentation_root=folder)).test_client()
    assert client.get("/iiif/presentation/leak.json").status_code == 404


@pytest.fixture(scope="module")
def served(demo_content: Path, sample_images: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("served") / "iiif"
    server = start_server(sample_images, "--presentation", str(out), "--workers", "1", "--threads", "4")
    try:
        # The ids must name the running server, whose port is known only now; it reads the folder per request.
        build(demo_content, sample_images, out, server.base_url)
        yield server
    finally:
        stop_server(server)


def test_every_id_resolves_on_the_running_server(served) -> None:
    session = requests.Session()
    top = session.get(f"{served.base_url}/iiif/presentation/collection.json", timeout=10).json()
    exhibition = session.get(top["items"][0]["id"], timeout=10).json()
    manifests = [session.get(item["id"], timeout=10) for item in exhibition["items"]]
    assert [response.status_code for response in manifests] == [200] * len(exhibition["items"]) and len(manifests) >= 4
    checked = 0
    for manifest in (response.json() for response in manifests):
        assert manifest["partOf"][0]["id"] == top["items"][0]["id"]
        for canvas in manifest["items"]:
            body = canvas["items"][0]["items"][0]["body"]
            v3, v2 = body["service"]
            info = session.get(f"{v3['id']}/info.json", timeout=10).json()
            assert (info["id"], info["width"], info["height"]) == (v3["id"], canvas["width"], canvas["height"])
            info2 = session.get(f"{v2['@id']}/info.json", timeout=10).json()
            assert (info2["@id"], info2["width"]) == (v2["@id"], canvas["width"])
            thumbnail = canvas["thumbnail"][0]
            response = session.get(thumbnail["id"], timeout=10)
            assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
            assert Image.open(io.BytesIO(response.content)).size == (thumbnail["width"], thumbnail["height"])
            checked += 1
    assert checked >= 8  # decree (4 pages), letter (2), photograph, map


def test_image_identifiers_with_slashes_are_encoded_once(served) -> None:
    manifest = requests.get(f"{served.base_url}/iiif/presentation/manifests/map-hanoi-1873.json", timeout=10).json()
    service = manifest["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]
    assert service == f"{served.base_url}/iiif/3/{quote('maps/hanoi-1873', safe='')}"
    assert service.endswith("/iiif/3/maps%2Fhanoi-1873")
