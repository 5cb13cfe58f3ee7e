"""Login with the agency's OpenID Connect provider: a real provider process (oidc-provider-mock) on a
loopback port, this server through the Flask client, the reader's browser played by both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from iiif_server import create_app
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings
from tests.conftest import free_port
from tests.web.test_auth import PORTAL, RESTRICTED_INFO, RESTRICTED_TILE, token_message

CLIENT_SECRET = "the archive's client secret at the provider"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The provider's issuer URL. It knows the reader lan, of the group archivists, and insists on a nonce."""
    port = free_port()
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
         "--require-nonce", "true", "--user-claims", json.dumps({"sub": "lan", "groups": ["archivists"]})],
        stdout=log, stderr=log, start_new_session=True)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(issuer + "/.well-known/openid-configuration", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the OIDC provider did not start") from None
                time.sleep(0.2)
        yield issuer
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


@pytest.fixture()
def oidc_app(image_root: Path, provider: str, tmp_path: Path):
    return create_app(Settings(
        image_root=image_root, restricted_prefixes="nested:archivists", auth_secret="test key", base_url="http://localhost",
        auth_token_origins=PORTAL, audit_log=tmp_path / "audit.jsonl", auth_oidc_issuer=provider,
        auth_oidc_client_id="iiif-archive", auth_oidc_client_secret=CLIENT_SECRET, auth_oidc_scope="openid profile"))


def start_login(client) -> str:
    """Opens the provider's login page as the login window would: the URL the server redirects to."""
    sent = client.get("/auth/2/oidc/login")
    assert sent.status_code == 302
    return sent.headers["Location"]


def sign_in_at_provider(authorize_url: str, subject: str = "lan", action: str = "allow") -> str:
    """The reader picks their account on the provider's page; the provider's redirect back, as a local path."""
    assert "sub" in requests.get(authorize_url, timeout=30).text  # the provider's own form
    answer = requests.post(authorize_url, data={"sub": subject, "action": action}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "localhost", "/auth/2/oidc/callback")
    return f"{back.path}?{back.query}"


def audit_lines(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def test_logging_in_with_the_agencys_account(oidc_app, provider: str, tmp_path: Path):
    """Auth 2.0 "Active Interaction Pattern": the login window offers the agency's account; after the
    provider's login the access cookie is set as after a password login, and the window closes itself."""
    client = oidc_app.test_client()
    [probe] = client.get(RESTRICTED_INFO).get_json()["service"]
    assert [service["profile"] for service in probe["service"]] == ["active"]  # OIDC alone makes it work
    page = client.get("/auth/2/login?origin=" + PORTAL).get_data(as_text=True)
    assert "Log in with the agency's account" in page and 'type="password"' not in page
    authorize_url = start_login(client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(provider)
    assert query["client_id"] == ["iiif-archive"] and query["scope"] == ["openid profile"]
    assert query["redirect_uri"] == ["http://localhost/auth/2/oidc/callback"] and query["nonce"] and query["state"]
    state_cookie = client.get_cookie("iiif_oidc_login", path="/auth/2/oidc/")
    assert state_cookie is not None and state_cookie.http_only
    signed_in = client.get(sign_in_at_provider(authorize_url))
    assert signed_in.status_code == 200 and "auth-close.js" in signed_in.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE).http_only
    assert client.get(RESTRICTED_TILE).status_code == 200
    message, _, _ = token_message(client)
    assert message["type"] == "AuthAccessToken2"
    logins = [line for line in audit_lines(tmp_path) if line["action"] == "login"]
    assert [(line["outcome"], line["user"], line["detail"]) for line in logins] == [("allowed", "lan", "oidc")]
    text = (tmp_path / "audit.jsonl").read_text()
    assert CLIENT_SECRET not in text and message["accessToken"] not in text and query["state"][0] not in text


def test_a_callback_with_another_state_is_refused(oidc_app, tmp_path: Path):
    """OpenID Connect Core 3.1.2.1 (state) and OAuth 2.0 (RFC 6749) 10.12 CSRF: a callback whose state this
    browser was not given sets no cookie, whether the browser has a login under way or none at all."""
    reader, attacker = oidc_app.test_client(), oidc_app.test_client()
    start_login(reader)
    attackers_callback = sign_in_at_provider(start_login(attacker))
    answer = reader.get(attackers_callback)  # a link the attacker sends: their code and state
    assert answer.status_code == 400 and "(mismatching_state)" in answer.get_data(as_text=True)
    assert reader.get_cookie(ACCESS_COOKIE) is None
    stranger = oidc_app.test_client()
    assert stranger.get(attackers_callback).status_code == 400 and stranger.get_cookie(ACCESS_COOKIE) is None
    path, query = attackers_callback.split("?")
    tampered = {**parse_qs(query), "state": ["forged"]}
    assert attacker.get(path, query_string=tampered).status_code == 400
    assert attacker.get_cookie(ACCESS_COOKIE) is None
    assert {(line["action"], line["outcome"], line["detail"]) for line in audit_lines(tmp_path)} == {
        ("login", "refused", "oidc")}


def test_an_id_token_for_another_login_is_refused_by_its_nonce(oidc_app):
    """OpenID Connect Core 3.1.3.7 (ID token validation, nonce): the code of one login, brought back with
    the state of another login in the same browser, yields an ID token whose nonce is not that login's."""
    client = oidc_app.test_client()
    first, second = start_login(client), start_login(client)
    first_back = sign_in_at_provider(first)
    path, query = first_back.split("?")
    second_state = parse_qs(urlsplit(second).query)["state"]
    answer = client.get(path, query_string={**parse_qs(query), "state": second_state})
    assert answer.status_code == 400 and "(invalid_claim)" in answer.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE) is None


def test_a_reader_who_declines_at_the_provider_gets_no_cookie(oidc_app):
    client = oidc_app.test_client()
    authorize_url = start_login(client)
    answer = requests.post(authorize_url, data={"action": "deny"}, allow_redirects=False, timeout=30)
    back = urlsplit(answer.headers["Location"])
    assert "error=access_denied" in back.query
    refused = client.get(f"{back.path}?{back.query}")
    assert refused.status_code == 400 and "access_denied" in refused.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE) is None


def test_an_unreachable_provider_answers_503(image_root: Path):
    app = create_app(Settings(image_root=image_root, auth_secret="test key", auth_oidc_issuer=f"http://127.0.0.1:{free_port()}",
                              auth_oidc_client_id="iiif-archive"))
    answer = app.test_client().get("/auth/2/oidc/login")
    assert answer.status_code == 503 and "does not answer" in answer.get_data(as_text=True)
