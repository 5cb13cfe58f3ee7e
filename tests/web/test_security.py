"""Host names, credentials and the headers every response carries (iiif_server/web/security.py)."""

from __future__ import annotations

import pytest
import requests

from iiif_server import create_app
from iiif_server.settings import Settings
from iiif_server.web.security import (
    LOCAL_HOSTS, content_security_policy, host_name, is_trusted_host, parse_trusted_hosts, private_cache_control,
    with_bound_host,
)
from tests.conftest import RunningServer
from tests.web.test_replay import replays

INFO = "/iiif/3/grid-tiff/info.json"
TILE = "/iiif/3/grid-tiff/0,0,256,256/256,256/0/default.jpg"


@pytest.mark.parametrize(("header", "name"), [
    ("archive.example", "archive.example"),
    ("Archive.Example:8080", "archive.example"),
    ("archive.example.", "archive.example"),
    ("127.0.0.1:8000", "127.0.0.1"),
    ("[::1]:8000", "::1"),
    ("[::1]", "::1"),
    ("evil.example/path", None),
    ("evil example", None),
    ("", None),
    ("user@evil.example", None),
], ids=["RFC 9110 7.2 name", "port and case", "trailing dot", "IPv4 and port", "IPv6 and port", "IPv6", "a path",
        "a space", "empty", "userinfo"])
def test_host_name_of_a_host_header(header: str, name: str | None) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(("header", "setting", "trusted"), [
    ("localhost:8000", "", True),
    ("127.0.0.1:8000", "", True),
    ("[::1]:8000", "", True),
    ("evil.example", "", False),
    ("iiif.archives.example", "iiif.archives.example", True),
    ("IIIF.archives.example:443", "iiif.archives.example", True),
    ("tiles.archives.example", ".archives.example", True),
    ("archives.example.evil.example", ".archives.example", False),
    ("evilarchives.example", ".archives.example", False),
    ("10.0.0.5:8000", "iiif.archives.example, 10.0.0.5", True),
], ids=["loopback name", "loopback IPv4", "loopback IPv6", "another host", "a listed host", "case and port",
        "a listed domain's subdomain", "the domain inside another", "a name ending like it", "the second entry"])
def test_which_hosts_are_trusted(header: str, setting: str, trusted: bool) -> None:
    assert is_trusted_host(header, parse_trusted_hosts(setting)) is trusted


@pytest.mark.parametrize(("setting", "bound", "expected"), [
    ("", "127.0.0.1", "127.0.0.1"),
    ("", "0.0.0.0", ""),
    ("", "::", ""),
    ("archives.example", "10.0.0.5", "archives.example,10.0.0.5"),
], ids=["the bound address", "every IPv4 interface", "every IPv6 interface", "added to the listed hosts"])
def test_serve_trusts_the_address_it_binds_to(setting: str, bound: str, expected: str) -> None:
    assert with_bound_host(setting, bound) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("public, max-age=86400", "private, max-age=86400"),
    ("max-age=60", "private, max-age=60"),
    ("Public,max-age=60", "private, max-age=60"),
    ("private, max-age=60", "private, max-age=60"),
    ("no-store", "no-store"),
], ids=["RFC 9111 5.2.2.9 public becomes private", "no scope given", "any case", "already private", "not stored"])
def test_answers_to_credentialed_requests_are_private(value: str, expected: str) -> None:
    assert private_cache_control(value) == expected


@pytest.mark.parametrize("ancestors", ["*; script-src *", "https://a.example, https://b.example", "", "a\nb"],
                         ids=["another directive", "a comma", "empty", "a new line"])
def test_frame_ancestors_must_be_one_source_list(ancestors: str) -> None:
    with pytest.raises(ValueError, match="frame ancestors"):
        content_security_policy(frame_ancestors=ancestors)


def test_a_foreign_host_is_refused_while_ids_come_from_the_request(client) -> None:
    response = client.get(INFO, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.text == "host 'evil.example' is not one this server answers to (see trusted_hosts)\n"
    assert "public" not in response.headers["Cache-Control"]
    assert client.get(TILE, headers={"Host": "evil.example"}).status_code == 400
    local = client.get(INFO, headers={"Host": "localhost:5000"})
    assert local.get_json()["id"] == "http://localhost:5000/iiif/3/grid-tiff"


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics"])
def test_probes_by_address_reach_the_operations_endpoints(client, path: str) -> None:
    assert client.get(path, headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_trusted_hosts_name_the_hosts_ids_may_be_built_from(settings: Settings) -> None:
    client = create_app(settings.replace(trusted_hosts=".archives.example")).test_client()
    info = client.get(INFO, base_url="https://iiif.archives.example").get_json()
    assert info["id"] == "https://iiif.archives.example/iiif/3/grid-tiff"
    assert client.get(INFO, base_url="https://evil.example").status_code == 400


def test_with_a_base_url_the_host_header_changes_nothing(settings: Settings) -> None:
    client = create_app(settings.replace(base_url="https://iiif.archives.example")).test_client()
    response = client.get(INFO, headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert response.get_json()["id"] == "https://iiif.archives.example/iiif/3/grid-tiff"
    assert "evil.example" not in response.text


@pytest.mark.parametrize("credential", ["Authorization", "Cookie"])
@pytest.mark.parametrize("path", [INFO, TILE], ids=["info.json", "image"])
def test_answers_to_credentialed_requests_are_never_public(client, credential: str, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.headers["Cache-Control"] == "public, max-age=86400"
    headers = {"Authorization": "Bearer secret-token"} if credential == "Authorization" else {}
    if credential == "Cookie":
        client.set_cookie("session", "abc")  # the test client writes the Cookie header from its jar
    for _ in range(2):  # the second would be a replay if credentials did not keep the request in the app
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, max-age=86400"
    assert replays(client) == 0
    revalidated = client.get(path, headers={**headers, "If-None-Match": anonymous.headers["ETag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers["Cache-Control"] == "private, max-age=86400"


@pytest.mark.parametrize("path", [INFO, TILE, INFO, "/iiif/3/no-such/info.json",
                                  "/iiif/3/grid-tiff/full/9x/0/default.jpg", "/iiif/3/grid-tiff", "/health",
                                  "/metrics", "/nothing-here"])
def test_every_response_says_nosniff_and_its_referrer_policy(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_replayed_response_keeps_the_security_headers(client) -> None:
    first, again = client.get(TILE), client.get(TILE)
    assert replays(client) == 1
    assert again.headers["X-Content-Type-Options"] == first.headers["X-Content-Type-Options"] == "nosniff"


def test_a_forged_host_over_real_http_gets_400_and_never_reaches_a_cache(gunicorn_server: RunningServer) -> None:
    url = f"{gunicorn_server.base_url}{INFO}"
    for _ in range(2):
        forged = requests.get(url, headers={"Host": "evil.example"}, timeout=30)
        assert forged.status_code == 400
        assert "public" not in forged.headers["Cache-Control"]
    local = requests.get(url, headers={"Host": f"localhost:{gunicorn_server.port}"}, timeout=30)
    assert local.json()["id"] == f"http://localhost:{gunicorn_server.port}/iiif/3/grid-tiff"
    assert requests.get(url, timeout=30).json()["id"] == f"{gunicorn_server.base_url}/iiif/3/grid-tiff"


def test_loopback_names_are_always_trusted() -> None:
    assert set(LOCAL_HOSTS) <= set(parse_trusted_hosts("archives.example"))
