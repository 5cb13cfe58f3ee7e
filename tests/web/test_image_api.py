"""The Image API over HTTP through Flask's test client: headers, caching, redirects and every bad input."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import pyvips

from iiif_server import create_app
from iiif_server.settings import Settings
from iiif_server.sources.memory import MemorySource
from tests.grid import grid_image

V3_INFO = "/iiif/3/grid-tiff/info.json"
V3_TILE = "/iiif/3/grid-tiff/0,0,512,512/256,256/0/default.jpg"


@pytest.fixture()
def client(client_on_each_source):
    """The protocol tests run on the local folder and on the same masters in the bucket."""
    return client_on_each_source


def test_info_json_v3_describes_the_real_pyramid(client, image_root: Path) -> None:
    info = client.get(V3_INFO).get_json()
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == "http://localhost/iiif/3/grid-tiff"
    assert (info["type"], info["protocol"], info["profile"]) == ("ImageService3", "http://iiif.io/api/image", "level2")
    assert (info["width"], info["height"]) == (1600, 1200)
    assert info["tiles"] == [{"width": 256, "height": 256, "scaleFactors": [1, 2, 4, 8]}]
    pyramid = pyvips.Image.new_from_file(str(image_root / "grid-tiff.tif"))
    assert pyramid.get("n-pages") == 4
    assert info["sizes"] == [{"width": 200, "height": 150}, {"width": 400, "height": 300}, {"width": 800, "height": 600}]
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (5000, 5000, 16_000_000)
    assert info["preferredFormats"] == ["jpg"]
    # 3.0 §5.6: the extra* properties name only what goes beyond the "level2" profile (compliance §3, §4).
    assert info["extraFormats"] == ["webp", "tif", "gif", "jp2"]
    assert "extraQualities" not in info  # level 2 already requires default, color, gray and bitonal
    assert info["extraFeatures"] == [
        "canonicalLinkHeader", "mirroring", "profileLinkHeader", "rotationArbitrary", "sizeUpscaling",
    ]


def test_info_json_v2_has_the_21_shape(client) -> None:
    info = client.get("/iiif/2/grid-tiff/info.json").get_json()
    assert info["@context"] == "http://iiif.io/api/image/2/context.json"
    assert info["@id"] == "http://localhost/iiif/2/grid-tiff"
    assert info["protocol"] == "http://iiif.io/api/image"
    level, details = info["profile"]
    assert level == "http://iiif.io/api/image/2/level2.json"
    assert {"jpg", "png"} <= set(details["formats"])
    assert set(details["qualities"]) == {"default", "color", "gray", "bitonal"}
    assert "sizeAboveFull" in details["supports"]
    assert details["maxWidth"] == 5000


@pytest.mark.parametrize(
    ("identifier", "scale_factors"),
    [("grid-jp2", [1, 2, 4, 8]), ("grid-jpeg", [1, 2, 4]), ("grid-png", [1, 2, 4])],
    ids=["jpeg2000-resolution-levels", "flat-jpeg-virtual-tiles", "flat-png-virtual-tiles"],
)
def test_tiles_for_other_masters(client, identifier: str, scale_factors: list[int]) -> None:
    tiles = client.get(f"/iiif/3/{identifier}/info.json").get_json()["tiles"]
    assert tiles[0]["scaleFactors"] == scale_factors


def test_info_json_ld_media_type_when_asked(client) -> None:
    response = client.get(V3_INFO, headers={"Accept": "application/ld+json"})
    assert response.headers["Content-Type"] == 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    assert client.get(V3_INFO).headers["Content-Type"] == "application/json"
    assert "Accept" in client.get(V3_INFO).headers["Vary"]


@pytest.mark.parametrize(("accept", "linked_data"), [
    (None, False), ("*/*", False), ("image/webp,*/*;q=0.8", False), ("application/*", False),
    ("application/json", False), ("application/ld+json", True), ("APPLICATION/LD+JSON", True),
    ("application/json, application/ld+json;q=0.9", False), ("application/json;q=0.5, application/ld+json", True),
    # */* gives JSON-LD the quality JSON has lost by being named
    ("application/json;q=0.1, */*", True),
])
def test_info_media_type_follows_the_qualities_of_accept(client, accept: str | None, linked_data: bool) -> None:
    """RFC 9110 12.5.1: the most specific range gives a type its quality; a header naming neither JSON
    type is answered with plain JSON without being parsed, the others by their qualities."""
    response = client.get(V3_INFO, headers={"Accept": accept} if accept else {})
    assert response.headers["Content-Type"].startswith("application/ld+json" if linked_data else "application/json")


def test_public_base_url_is_used_in_ids_and_links(image_root: Path) -> None:
    client = create_app(Settings(image_root=image_root, base_url="https://iiif.archives.example")).test_client()
    assert client.get(V3_INFO).get_json()["id"] == "https://iiif.archives.example/iiif/3/grid-tiff"
    link = client.get(V3_TILE).headers["Link"]
    assert link.startswith("<https://iiif.archives.example/iiif/3/grid-tiff/0,0,512,512/256,256/0/default.jpg>")


def test_image_headers(client) -> None:
    response = client.get(V3_TILE)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert '<http://iiif.io/api/image/3/level2.json>;rel="profile"' in response.headers["Link"]
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["ETag"] and response.headers["Last-Modified"]


def test_cors_on_errors_and_preflight(client) -> None:
    assert client.get("/iiif/3/nope/info.json").headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(V3_TILE, headers={"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_base_uri_redirects_to_info_json(client) -> None:
    response = client.get("/iiif/3/nested%2Fdeeper%2Fgrid-tiff")
    assert response.status_code == 303
    assert response.headers["Location"] == "http://localhost/iiif/3/nested%2Fdeeper%2Fgrid-tiff/info.json"
    assert client.get("/iiif/2/grid-png").headers["Location"].endswith("/iiif/2/grid-png/info.json")


def test_encoded_slash_identifier_reaches_a_nested_master(client) -> None:
    info = client.get("/iiif/3/nested%2Fdeeper%2Fgrid-tiff/info.json").get_json()
    assert info["id"] == "http://localhost/iiif/3/nested%2Fdeeper%2Fgrid-tiff"
    assert (info["width"], info["height"]) == (400, 300)


def test_conditional_requests(client) -> None:
    first = client.get(V3_TILE)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(V3_TILE, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(V3_TILE, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(V3_TILE, headers={"If-None-Match": '"other"'}).status_code == 200
    info = client.get(V3_INFO)
    assert client.get(V3_INFO, headers={"If-None-Match": info.headers["ETag"]}).status_code == 304


def test_head_answers_headers_without_body(client) -> None:
    response = client.head(V3_TILE)
    assert response.status_code == 200 and response.data == b""
    assert int(response.headers["Content-Length"]) == len(client.get(V3_TILE).data)


def test_openseadragon_and_leaflet_edge_tile_forms_share_one_canonical_response(client) -> None:
    """The right-hand edge tile at scale 2: OSD asks w,h exactly, Leaflet-IIIF runs past the edge with w,."""
    osd = client.get("/iiif/3/grid-tiff/1536,0,64,512/32,256/0/default.jpg")
    leaflet = client.get("/iiif/2/grid-tiff/1536,0,512,512/32,/0/default.jpg")
    osd_v2 = client.get("/iiif/2/grid-tiff/1536,0,64,512/32,256/0/default.jpg")
    assert osd.status_code == leaflet.status_code == osd_v2.status_code == 200
    assert osd.headers["Link"].split(">")[0].endswith("/1536,0,64,512/32,256/0/default.jpg")
    assert leaflet.headers["Link"].split(">")[0] == osd_v2.headers["Link"].split(">")[0]
    assert leaflet.headers["ETag"] == osd_v2.headers["ETag"]
    assert leaflet.data == osd_v2.data


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/iiif/3/grid-tiff/fullish/max/0/default.jpg", 400, "region 'fullish'"),
        ("/iiif/3/grid-tiff/full/big/0/default.jpg", 400, "size 'big'"),
        ("/iiif/3/grid-tiff/full/max/9x/default.jpg", 400, "rotation '9x'"),
        ("/iiif/3/grid-tiff/full/max/400/default.jpg", 400, "more than 360"),
        ("/iiif/3/grid-tiff/full/max/0/sepia.jpg", 400, "quality 'sepia'"),
        ("/iiif/3/grid-tiff/full/max/0/default.bmp", 400, "format 'bmp'"),
        ("/iiif/3/grid-tiff/full/max/0/default.pdf", 501, "format 'pdf'"),
        ("/iiif/3/grid-tiff/full/full/0/default.jpg", 400, "replaced by 'max'"),
        ("/iiif/2/grid-tiff/full/^max/0/default.jpg", 400, "'^'"),
        ("/iiif/3/grid-tiff/5000,0,10,10/max/0/default.jpg", 400, "outside"),
        ("/iiif/3/grid-tiff/0,0,0,10/max/0/default.jpg", 400, "zero width"),
        ("/iiif/3/grid-tiff/full/2000,/0/default.jpg", 400, "needs '^'"),
        ("/iiif/3/grid-tiff/full/!3000,3000/0/default.jpg", 400, "needs '^'"),
        ("/iiif/3/grid-tiff/full/^6000,/0/default.jpg", 400, "maxWidth 5000"),
        ("/iiif/3/grid-tiff/0,0,100,1200/^,5001/0/default.jpg", 400, "maxHeight 5000"),
        ("/iiif/3/grid-tiff/full/^4800,4800/0/default.jpg", 400, "maxArea 16000000"),
        ("/iiif/2/grid-tiff/full/6000,/0/default.jpg", 400, "maxWidth 5000"),
        # Issue 10: 400-digit numbers answered 500 (OverflowError in the planner).
        ("/iiif/3/grid-tiff/full/" + "9" * 400 + ",/0/default.jpg", 400, "size"),
        ("/iiif/3/grid-tiff/pct:0,0," + "9" * 400 + ",10/max/0/default.jpg", 400, "region"),
        ("/iiif/2/grid-tiff/full/pct:" + "9" * 400 + "/0/default.jpg", 400, "size"),
        ("/iiif/2/grid-tiff/full/max/" + "9" * 400 + "/default.jpg", 400, "rotation"),
        ("/iiif/3/no-such-image/info.json", 404, "no image with identifier 'no-such-image'"),
        ("/iiif/3/" + "x" * 300 + "/info.json", 404, "no image"),  # ENAMETOOLONG was a 500
        ("/iiif/3/no-such-image/full/max/0/default.jpg", 404, "no image"),
        ("/iiif/3/no-such-image", 404, "no image"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else None,
)
def test_bad_requests_get_a_one_line_reason(client, path: str, status: int, reason: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert reason in text
    assert text.count("\n") == 1 and response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path",
    [
        "/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json",
        "/iiif/3/nested%2F..%2F..%2Fsecret/info.json",
        "/iiif/3/nested%2F.%2Fdeeper%2Fgrid-tiff/info.json",
        "/iiif/3/.hidden/info.json",
        "/iiif/3/grid%5C..%5Csecret/info.json",
        "/iiif/3/grid%00/info.json",
    ],
)
def test_path_tricks_are_refused(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "identifier" in response.get_data(as_text=True)


def test_double_encoded_and_symlinked_escapes_find_nothing(image_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    grid_image(2, 2).pngsave(str(outside / "secret.png"))
    (image_root / "escape.png").unlink(missing_ok=True)
    (image_root / "escape.png").symlink_to(outside / "secret.png")
    (image_root / "linked-dir").unlink(missing_ok=True)
    (image_root / "linked-dir").symlink_to(outside, target_is_directory=True)
    client = create_app(Settings(image_root=image_root)).test_client()
    try:
        assert client.get("/iiif/3/escape/info.json").status_code == 404
        assert client.get("/iiif/3/linked-dir%2Fsecret/info.json").status_code == 404
        assert client.get("/iiif/3/%252e%252e%252foutside%252fsecret/info.json").status_code == 404
        assert client.get("/iiif/3/%2Fetc%2Fpasswd/info.json").status_code == 404  # "//" matches no route
    finally:
        (image_root / "escape.png").unlink()
        (image_root / "linked-dir").unlink()


def test_a_symlink_inside_the_root_is_followed(image_root: Path) -> None:
    link = image_root / "alias.tif"
    link.unlink(missing_ok=True)
    link.symlink_to(image_root / "grid-tiff.tif")
    try:
        assert create_app(Settings(image_root=image_root)).test_client().get("/iiif/3/alias/info.json").status_code == 200
    finally:
        link.unlink()


@pytest.mark.parametrize("identifier", ["corrupt", "not-an-image"])
def test_a_corrupt_master_fails_only_its_own_requests(client, identifier: str, caplog) -> None:
    for path in (f"/iiif/3/{identifier}/info.json", f"/iiif/3/{identifier}/full/max/0/default.jpg"):
        response = client.get(path)
        assert response.status_code == 500
        assert identifier in response.get_data(as_text=True)
    assert client.get(V3_TILE).status_code == 200
    assert any(identifier in record.getMessage() for record in caplog.records)


def test_a_master_truncated_after_its_header_fails_alone(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    grid_image(8, 8).jpegsave(str(root / "cut.jpg"), Q=90)
    data = (root / "cut.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 3])
    grid_image(2, 2).pngsave(str(root / "fine.png"))
    client = create_app(Settings(image_root=root)).test_client()
    response = client.get("/iiif/3/cut/full/max/0/default.jpg")
    assert response.status_code in (200, 500)  # libjpeg may pad a truncated scan; it must never crash
    assert client.get("/iiif/3/fine/full/max/0/default.png").status_code == 200


def test_a_master_rewritten_on_disk_is_noticed(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    grid_image(4, 4).pngsave(str(root / "page.png"))
    client = create_app(Settings(image_root=root)).test_client()
    first = client.get("/iiif/3/page/info.json")
    tile = client.get("/iiif/3/page/full/max/0/default.png")
    assert first.get_json()["width"] == 400
    grid_image(6, 4).pngsave(str(root / "page.tmp.png"))
    later = time.time() + 5
    os.utime(root / "page.tmp.png", (later, later))
    shutil.move(root / "page.tmp.png", root / "page.png")
    assert client.get("/iiif/3/page/info.json").get_json()["width"] == 600
    changed = client.get("/iiif/3/page/full/max/0/default.png", headers={"If-None-Match": tile.headers["ETag"]})
    assert changed.status_code == 200
    assert pyvips.Image.new_from_buffer(changed.data, "").width == 600


def test_restricted_prefixes_refuse_images_but_not_info(image_root: Path) -> None:
    client = create_app(Settings(image_root=image_root, restricted_prefixes="nested")).test_client()
    assert client.get("/iiif/3/nested%2Fdeeper%2Fgrid-png/full/max/0/default.png").status_code == 403
    assert client.get("/iiif/3/nested%2Fdeeper%2Fgrid-png/info.json").status_code == 200
    assert client.get("/iiif/3/grid-png/full/max/0/default.png").status_code == 200


def test_memory_source_serves_the_same_api() -> None:
    source = MemorySource()
    source.put("letters/one", grid_image(3, 2).pngsave_buffer(), ".png")
    client = create_app(Settings(), source=source).test_client()
    assert client.get("/iiif/3/letters%2Fone/info.json").get_json()["width"] == 300
    image = pyvips.Image.new_from_buffer(client.get("/iiif/3/letters%2Fone/full/150,/0/default.png").data, "")
    assert (image.width, image.height) == (150, 100)
