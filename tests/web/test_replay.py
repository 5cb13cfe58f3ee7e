"""Response replay: a repeated Image API request is answered from the stored response, exactly as
the app answered it, and only while the master is unchanged and the request carries nothing that
could change the answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iiif_server import create_app
from iiif_server.settings import Settings
from iiif_server.sources.memory import MemorySource
from tests.grid import grid_image
from tests.web.test_ops import sample

INFO = "/iiif/3/grid-tiff/info.json"
TILE = "/iiif/3/grid-tiff/0,0,256,256/256,256/0/default.jpg"


def replays(client) -> float:
    return sample(client.get("/metrics").text, "iiif_replayed_responses_total")


@pytest.mark.parametrize("path", [INFO, TILE, "/iiif/2/grid-jp2/full/200,/0/gray.png"])
def test_a_repeated_request_gets_the_same_response_without_the_app(client, path):
    first = client.get(path)
    again = client.get(path)
    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    assert again.headers == first.headers  # CORS, ETag, Link, Cache-Control, Content-Type and length
    assert replays(client) == 1


def test_replays_are_counted_as_requests_of_their_endpoint(client):
    for _ in range(3):
        tile = client.get(TILE)
    text = client.get("/metrics").text
    assert sample(text, "iiif_requests_total", endpoint="tile", status="200") == 3
    assert sample(text, "iiif_response_bytes_total", endpoint="tile") == 3 * len(tile.data)
    assert sample(text, "iiif_request_duration_seconds_count", endpoint="tile") == 3


def test_head_is_replayed_without_a_body(client):
    body = client.get(TILE)
    head = client.head(TILE)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(body.data))
    assert replays(client) == 1


def test_a_rewritten_master_is_never_replayed() -> None:
    source = MemorySource()
    source.put("letters/one", grid_image(3, 2).pngsave_buffer(), ".png")
    client = create_app(Settings(), source=source).test_client()
    assert client.get("/iiif/3/letters%2Fone/info.json").get_json()["width"] == 300
    source.put("letters/one", grid_image(5, 2).pngsave_buffer(), ".png")
    assert client.get("/iiif/3/letters%2Fone/info.json").get_json()["width"] == 500
    assert replays(client) == 0


def test_a_removed_master_is_not_found_after_its_responses_were_kept(tmp_path: Path) -> None:
    grid_image(2, 2).tiffsave(str(tmp_path / "letter.tif"), tile=True, pyramid=True)
    client = create_app(Settings(image_root=tmp_path)).test_client()
    assert client.get("/iiif/3/letter/info.json").status_code == 200
    os.remove(tmp_path / "letter.tif")
    assert client.get("/iiif/3/letter/info.json").status_code == 404


@pytest.mark.parametrize("headers, query", [
    ({"Authorization": "Bearer token"}, ""),
    ({"If-Modified-Since": "Tue, 01 Jan 1980 00:00:00 GMT"}, ""),
    ({}, "?fresh=1"),
])
def test_requests_with_credentials_validators_or_a_query_go_to_the_app(client, headers, query):
    client.get(TILE)
    assert client.get(TILE + query, headers=headers).status_code == 200
    assert replays(client) == 0


def test_a_conditional_request_still_gets_304_from_the_app(client):
    etag = client.get(TILE).headers["ETag"]
    assert client.get(TILE, headers={"If-None-Match": etag}).status_code == 304
    assert replays(client) == 0


def test_info_json_is_replayed_only_to_the_same_accept_header(client):
    plain = client.get(INFO)
    linked_data = client.get(INFO, headers={"Accept": "application/ld+json"})
    assert plain.content_type == "application/json"
    assert linked_data.content_type.startswith("application/ld+json")
    assert client.get(INFO, headers={"Accept": "application/ld+json"}).content_type.startswith("application/ld+json")
    assert replays(client) == 1


def test_the_service_id_follows_the_host_of_each_request(settings: Settings):
    client = create_app(settings.replace(trusted_hosts="archive.example,portal.example")).test_client()
    here = client.get(INFO, base_url="http://archive.example").get_json()["id"]
    there = client.get(INFO, base_url="https://portal.example").get_json()["id"]
    assert here == "http://archive.example/iiif/3/grid-tiff"
    assert there == "https://portal.example/iiif/3/grid-tiff"


@pytest.mark.parametrize("path", ["/iiif/3/grid-tiff/0,0,0,0/max/0/default.jpg", "/iiif/3/no-such-image/info.json"])
def test_errors_are_never_replayed(client, path):
    first = client.get(path)
    assert client.get(path).status_code == first.status_code >= 400
    assert replays(client) == 0


def test_restricted_images_are_never_kept(image_root: Path) -> None:
    client = create_app(Settings(image_root=image_root, restricted_prefixes="nested")).test_client()
    path = "/iiif/3/nested%2Fdeeper%2Fgrid-png/full/max/0/default.png"
    assert [client.get(path).status_code for _ in range(2)] == [403, 403]
    assert replays(client) == 0


def test_a_budget_of_zero_turns_replay_off(settings: Settings) -> None:
    client = create_app(settings.replace(response_cache_bytes=0)).test_client()
    assert [client.get(TILE).status_code for _ in range(2)] == [200, 200]
    assert replays(client) == 0


def test_a_budget_smaller_than_a_response_keeps_nothing(settings: Settings) -> None:
    client = create_app(settings.replace(response_cache_bytes=2048)).test_client()
    assert [client.get(TILE).status_code for _ in range(2)] == [200, 200]
    assert replays(client) == 0
