"""Public image and info.json requests answered in front of Flask (iiif_server/web/direct.py): the
same status, headers and bytes as the Image API blueprint gives, and everything the module must not
answer handed on to Flask."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from iiif_server import create_app
from iiif_server.settings import Settings
from iiif_server.web.direct import DirectImageAnswers
from tests.web.test_ops import sample

TILE = "/iiif/3/grid-tiff/0,0,256,256/256,/0/default.jpg"


class CountingApp:
    """The Flask app behind the direct path, counting the requests handed to it."""

    def __init__(self, app) -> None:
        self.app = app
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture()
def direct(settings: Settings) -> DirectImageAnswers:
    """The app without response replay (direct.py is then the outermost middleware), Flask counted."""
    app = create_app(settings.replace(response_cache_bytes=0, restricted_prefixes="nested"))
    assert isinstance(app.wsgi_app, DirectImageAnswers)
    app.wsgi_app.app = CountingApp(app.wsgi_app.app)
    return app.wsgi_app


def answer(wsgi, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[str, list, bytes]:
    response = Client(wsgi, use_cookies=False).open(path, method=method, headers=headers or {})
    return response.status, sorted((name, value) for name, value in response.headers if name != "Date"), response.data


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/iiif/3/grid-tiff/info.json", {}),
    ("GET", "/iiif/3/grid-jp2/info.json", {"Accept": "application/ld+json"}),
    ("GET", "/iiif/2/grid-jpeg/info.json", {"Accept": "application/json;q=0.5, application/ld+json"}),
    ("HEAD", "/iiif/2/grid-png/info.json", {}),
    ("GET", "/iiif/3/nope/info.json", {}),  # 404
    ("GET", "/iiif/3/corrupt/info.json", {}),  # 500, its own
])
def test_info_json_is_answered_exactly_as_the_blueprint_does(direct, method, path, headers):
    flask_only = direct.app
    by_flask = answer(flask_only, method, path, headers)
    assert answer(direct, method, path, headers) == by_flask
    assert flask_only.calls == 1, "the direct path handed the request on"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", TILE),
    ("HEAD", TILE),
    ("GET", "/iiif/2/grid-tiff/256,256,256,256/256,/0/default.jpg"),
    ("GET", "/iiif/3/grid-tiff/full/max/0/default.jpg"),
    ("GET", "/iiif/3/grid-tiff/full/300,/90/gray.png"),
    ("GET", "/iiif/3/grid-jp2/0,0,512,512/256,/0/default.jpg"),
    ("GET", "/iiif/2/grid-jpeg/full/200,/0/bitonal.png"),
    ("GET", "/iiif/3/nope/0,0,256,256/256,/0/default.jpg"),  # 404
    ("GET", "/iiif/3/grid-tiff/full/6000,/0/default.jpg"),  # beyond max_width: 400
    ("GET", "/iiif/3/grid-tiff/full/^6000,/0/default.jpg"),  # beyond max_width: 400
    ("GET", "/iiif/3/corrupt/0,0,256,256/256,/0/default.jpg"),  # a damaged master: its own 500
    ("GET", "/iiif/3/not-an-image/full/max/0/default.jpg"),
])
def test_the_direct_path_answers_exactly_as_the_blueprint_does(direct, method, path):
    flask_only = direct.app
    by_flask = answer(flask_only, method, path)
    assert flask_only.calls == 1
    assert answer(direct, method, path) == by_flask
    assert flask_only.calls == 1, "the direct path handed the request on"


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/iiif/3/nested%2Fdeeper%2Fgrid-tiff/info.json", {}),  # restricted: Auth services, audited
    ("GET", "/iiif/3/grid-tiff/info.json", {"If-None-Match": '"x"'}),
    ("GET", "/iiif/substitute/3/nested%2Fdeeper%2Fgrid-tiff/info.json", {}),
    ("GET", "/iiif/3/grid-tiff", {}),  # base URI: a redirect
    ("OPTIONS", TILE, {}),
    ("POST", TILE, {}),
    ("GET", TILE + "?download=1", {}),
    ("GET", TILE, {"Cookie": "iiif-access=x"}),
    ("GET", TILE, {"Authorization": "Bearer x"}),
    ("GET", TILE, {"If-None-Match": '"x"'}),
    ("GET", TILE, {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}),
    ("GET", TILE, {"Host": "forged.example"}),  # Flask's host check refuses it
    ("GET", "/iiif/3/grid-tiff/bogus/256,/0/default.jpg", {}),  # Flask names the bad part
    ("GET", "/iiif/3/nested%2Fdeeper%2Fgrid-tiff/0,0,256,256/256,/0/default.jpg", {}),  # restricted: audited
    ("GET", "/iiif/3/", {}),
    ("GET", "/iiif/presentation/collection.json", {}),
])
def test_everything_else_goes_on_to_flask(direct, method, path, headers):
    answer(direct, method, path, headers)
    assert direct.app.calls == 1


def test_direct_answers_are_counted_and_replayable(settings: Settings):
    app = create_app(settings)  # with response replay in front of the direct path
    client = app.test_client()
    first = client.get(TILE)
    again = client.get(TILE)
    assert first.status_code == again.status_code == 200 and again.data == first.data
    metrics = client.get("/metrics").text
    assert sample(metrics, "iiif_requests_total", endpoint="tile", status="200") == 2
    assert sample(metrics, "iiif_replayed_responses_total") == 1
    assert sample(metrics, "iiif_passthrough_tiles_total") == 1


def test_an_unexpected_failure_is_a_logged_500_that_names_no_path(direct, monkeypatch, caplog):
    def broken(*_arguments, **_options):
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr(direct.pipeline, "answer", broken)
    status, headers, body = answer(direct, "GET", TILE)
    assert status == "500 INTERNAL SERVER ERROR"
    assert body == b"internal error; the server log has the details\n"
    assert ("Access-Control-Allow-Origin", "*") in headers and ("Cache-Control", "no-store") in headers
    assert "GET /iiif/3/grid-tiff/0,0,256,256/256,/0/default.jpg failed" in caplog.text
    assert direct.app.calls == 0


def test_the_path_is_decoded_as_flask_decodes_it(tmp_path: Path, settings: Settings):
    """A UTF-8 identifier reaches the data path as Flask's router would pass it."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "Sắc lệnh.tif").write_bytes((settings.image_root / "grid-tiff.tif").read_bytes())
    app = create_app(settings.replace(image_root=root, response_cache_bytes=0))
    direct = app.wsgi_app
    direct.app = CountingApp(direct.app)
    path = "/iiif/3/S%E1%BA%AFc%20l%E1%BB%87nh/0,0,256,256/256,/0/default.jpg"
    status, headers, _ = answer(direct, "GET", path)
    assert status == "200 OK" and direct.app.calls == 0
    assert ("Link", '<http://localhost/iiif/3/S%E1%BA%AFc%20l%E1%BB%87nh/0,0,256,256/max/0/default.jpg>;'
                    'rel="canonical", <http://iiif.io/api/image/3/level2.json>;rel="profile"') in headers
