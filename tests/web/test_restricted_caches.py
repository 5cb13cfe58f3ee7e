"""Caches never leak a restricted image (issue 14 point 6), with real processes: a gunicorn server with
its response replay and memory and disk derivative caches, and Debian's nginx with the shared cache
``iiif-archive deploy nginx`` configures in front of it."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_server import create_app
from iiif_server.access.rules import RULES_FILE_CHECK_SECONDS
from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind, CredentialSigner
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings
from tests.conftest import RunningServer, free_port, start_server, stop_server
from tests.web.test_fleet import start_nginx, stop_nginx
from tests.web.test_replay import replays

SECRET = "cache test key"
RESTRICTED_TILES = [f"/iiif/3/grid-tiff/{x},0,256,256/128,/0/default.jpg" for x in (0, 256, 512)]


@dataclass(frozen=True)
class ProxiedServer:
    server: RunningServer
    nginx_url: str
    derivative_dir: Path

    def get(self, path: str, via_nginx: bool = True, **headers: str) -> requests.Response:
        base = self.nginx_url if via_nginx else self.server.base_url
        return requests.get(base + path, headers={"Host": self.nginx_url.removeprefix("http://"), **headers}, timeout=30)


@pytest.fixture(scope="module")
def proxied(image_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedServer]:
    work = tmp_path_factory.mktemp("restricted-caches")
    nginx_port = free_port()
    nginx_url = f"http://127.0.0.1:{nginx_port}"
    env = {"IIIF_RESTRICTED_PREFIXES": "grid-tiff", "IIIF_AUTH_SECRET": SECRET, "IIIF_RESTRICTED_SUBSTITUTE": "max:400",
           "IIIF_CACHE_CONTROL": "public, max-age=86400, s-maxage=600",
           "IIIF_DERIVATIVE_CACHE_DIR": str(work / "derivatives")}
    server = start_server(image_root, "--workers", "1", "--threads", "2", "--base-url", nginx_url, env=env)
    run_dir, config = work / "nginx", work / "nginx.conf"
    try:
        result = CliRunner().invoke(main, [
            "deploy", "nginx", "--listen", f"127.0.0.1:{nginx_port}", "--cache-dir", str(work / "cache"),
            "--cache-size", "16m", "--run-dir", str(run_dir), "--user", getpass.getuser(), "--out", str(config),
            "--upstream", f"127.0.0.1:{server.port}"])
        assert result.exit_code == 0, result.output
        nginx = start_nginx(config, run_dir, nginx_port)
    except BaseException:
        stop_server(server)
        raise
    yield ProxiedServer(server, nginx_url, work / "derivatives")
    stop_nginx(nginx)
    stop_server(server)


def reader_cookie() -> str:
    value, _ = CredentialSigner(SECRET, 3600).issue(CredentialKind.COOKIE, Reader("lan", frozenset({"archivists"})))
    return f"{ACCESS_COOKIE}={value}"


def test_a_restricted_tile_is_never_answered_from_a_cache_to_an_anonymous_request(proxied: ProxiedServer) -> None:
    """The reader's answers are private and no-store: nginx passes them by (BYPASS), the server's replay and
    derivative caches keep none of them, so the anonymous repeats of the same URLs are refused every time."""
    for _ in range(3):
        for tile in RESTRICTED_TILES:
            allowed = proxied.get(tile, Cookie=reader_cookie())
            assert (allowed.status_code, allowed.headers["X-Cache-Status"]) == (200, "BYPASS")
            assert allowed.headers["Cache-Control"] == "private, no-store" and "Cookie" in allowed.headers["Vary"]
            for via_nginx in (True, False):  # through the shared cache, and straight to the server's replay
                refused = proxied.get(tile, via_nginx)
                assert refused.status_code == 403, refused.text
                assert refused.headers.get("X-Cache-Status", "MISS") == "MISS"
    assert list(proxied.derivative_dir.rglob("*.bin")) == []  # the disk derivative cache kept nothing


def test_the_substitute_is_shared_and_its_etag_is_not_the_full_images(proxied: ProxiedServer) -> None:
    substitute_tile = "/iiif/substitute/3/grid-tiff/0,0,200,200/max/0/default.jpg"
    first, again = proxied.get(substitute_tile), proxied.get(substitute_tile)
    assert (first.status_code, first.headers["X-Cache-Status"]) == (200, "MISS")
    assert (again.headers["X-Cache-Status"], again.content) == ("HIT", first.content)  # public: shared caches welcome
    assert first.headers["Cache-Control"].startswith("public")
    full = proxied.get("/iiif/3/grid-tiff/0,0,200,200/max/0/default.jpg", Cookie=reader_cookie())
    assert full.status_code == 200 and full.headers["ETag"] != first.headers["ETag"]
    assert len(list(proxied.derivative_dir.rglob("*.bin"))) == 1  # the substitute's render only


def test_the_replay_never_replays_an_image_restricted_since_it_kept_the_answer(image_root: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": []}')
    app = create_app(Settings(image_root=image_root, access_rules_file=rules, auth_secret=SECRET))
    client, tile = app.test_client(), "/iiif/3/grid-png/0,0,256,256/128,/0/default.jpg"
    assert [client.get(tile).status_code for _ in range(2)] == [200, 200]
    assert replays(client) == 1  # the public tile was kept and replayed
    restricted = tmp_path / "restricted.json"
    restricted.write_text('{"rules": [{"prefix": "grid-png", "level": "restricted"}]}')
    restricted.replace(rules)  # as a rebuild does
    deadline = time.monotonic() + 10 * RULES_FILE_CHECK_SECONDS
    while client.get(tile).status_code != 403:
        assert time.monotonic() < deadline, "the replay kept answering the restricted tile"
        time.sleep(0.2)
    replayed = replays(client)  # the repeats before the rules were looked at again were still replayed
    assert client.get(tile).status_code == 403 and replays(client) == replayed
