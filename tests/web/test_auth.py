"""The Auth 2.0 services and the access cookie, through the Flask client (IIIF Authorization Flow API 2.0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iiif_server import create_app
from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings

RESTRICTED_TILE = "/iiif/3/nested%2Fdeeper%2Fgrid-png/0,0,256,256/128,/0/default.png"
PUBLIC_TILE = "/iiif/3/grid-png/0,0,256,256/128,/0/default.png"


@pytest.fixture()
def auth_app(image_root: Path):
    return create_app(Settings(image_root=image_root, restricted_prefixes="nested:archivists", auth_secret="test key"))


def issue(app, kind: CredentialKind, reader: Reader) -> str:
    return app.extensions["iiif.credentials"].issue(kind, reader)[0]


def test_image_requests_are_decided_by_the_access_cookie(auth_app):
    client = auth_app.test_client()
    assert client.get(RESTRICTED_TILE).status_code == 403
    client.set_cookie(ACCESS_COOKIE, issue(auth_app, CredentialKind.COOKIE, Reader("minh", frozenset({"visitors"}))))
    assert client.get(RESTRICTED_TILE).status_code == 403
    client.set_cookie(ACCESS_COOKIE, issue(auth_app, CredentialKind.TOKEN, Reader("lan", frozenset({"archivists"}))))
    assert client.get(RESTRICTED_TILE).status_code == 403  # a token is not a cookie
    client.set_cookie(ACCESS_COOKIE, issue(auth_app, CredentialKind.COOKIE, Reader("lan", frozenset({"archivists"}))))
    allowed = client.get(RESTRICTED_TILE)
    assert allowed.status_code == 200 and allowed.mimetype == "image/png"
    assert allowed.headers["Cache-Control"] == "private, no-store"
    assert "Cookie" in allowed.headers["Vary"]


def test_a_restricted_tile_is_never_served_from_a_cache_to_an_anonymous_request(auth_app):
    reader_client, anonymous = auth_app.test_client(), auth_app.test_client()
    reader_client.set_cookie(ACCESS_COOKIE, issue(auth_app, CredentialKind.COOKIE, Reader("lan", frozenset({"archivists"}))))
    for _ in range(3):
        assert reader_client.get(RESTRICTED_TILE).status_code == 200
        assert anonymous.get(RESTRICTED_TILE).status_code == 403
    assert anonymous.get(PUBLIC_TILE).headers["Cache-Control"].startswith("public")
