"""The reader an OpenID Connect ID token names, and the OIDC settings' checks."""

from __future__ import annotations

import pytest
from flask import Flask

from iiif_server.access.base import Reader
from iiif_server.auth.oidc import reader_from_claims, register_oidc
from iiif_server.settings import Settings, SettingsError


@pytest.mark.parametrize(("claims", "reader"), [
    pytest.param({"sub": "lan", "groups": ["archivists", "lawyers"]}, Reader("lan", frozenset({"archivists", "lawyers"})),
                 id="OIDC Core 2 sub, and the groups claim"),
    pytest.param({"sub": "lan"}, Reader("lan"), id="no groups claim: no groups"),
    pytest.param({"sub": "lan", "groups": "archivists"}, Reader("lan"), id="a groups claim that is not a list"),
    pytest.param({"sub": "lan", "groups": ["a", {"b": 1}]}, Reader("lan", frozenset({"a"})), id="non-string groups dropped"),
    pytest.param({"groups": ["archivists"]}, None, id="OIDC Core 2 sub is required"),
    pytest.param({"sub": ""}, None, id="empty sub"),
])
def test_reader_from_claims(claims: dict, reader: Reader | None):
    assert reader_from_claims(claims, "groups") == reader


def test_another_groups_claim():
    assert reader_from_claims({"sub": "lan", "roles": ["a"]}, "roles") == Reader("lan", frozenset({"a"}))


@pytest.mark.parametrize(("settings", "message"), [
    (Settings(auth_secret="k", auth_oidc_issuer="https://login.example"), "needs auth_oidc_client_id"),
    (Settings(auth_secret="k", auth_oidc_issuer="https://login.example", auth_oidc_client_id="c", auth_oidc_scope="profile"),
     "must include 'openid'"),
])
def test_settings_errors(settings: Settings, message: str):
    with pytest.raises(SettingsError, match=message):
        register_oidc(Flask(__name__), settings)


def test_the_client_secret_is_never_shown():
    assert "s3cret" not in repr(Settings(auth_oidc_client_secret="s3cret", auth_external_secret="s3cret"))
