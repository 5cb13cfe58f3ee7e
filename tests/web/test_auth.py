"""The Auth 2.0 services and the access cookie, through the Flask client (IIIF Authorization Flow API 2.0)."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest

from iiif_server import create_app
from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind, CredentialSigner
from iiif_server.auth.services import AUTH_CONTEXT
from iiif_server.auth.users import UsersFile
from iiif_server.auth.web import ACCESS_COOKIE
from iiif_server.settings import Settings

RESTRICTED_TILE = "/iiif/3/nested%2Fdeeper%2Fgrid-png/0,0,256,256/128,/0/default.png"
PUBLIC_TILE = "/iiif/3/grid-png/0,0,256,256/128,/0/default.png"


PORTAL = "http://127.0.0.2:8123"
RESTRICTED_INFO = "/iiif/3/nested%2Fdeeper%2Fgrid-png/info.json"


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "users.json"
    users = UsersFile(path)
    users.add("lan", "mật khẩu của Lan", ("archivists",))
    users.add("minh", "minh's password", ("visitors",))
    return path


@pytest.fixture()
def auth_app(image_root: Path, users_file: Path):
    return create_app(Settings(image_root=image_root, restricted_prefixes="nested:archivists", auth_secret="test key",
                               auth_users_file=users_file, auth_token_origins=PORTAL))


def log_in(client, user: str, password: str):
    form = client.get("/auth/2/login?origin=" + PORTAL)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True))[1]
    return client.post("/auth/2/login?origin=" + PORTAL, data={"csrf_token": csrf, "user": user, "password": password})


def token_message(client, origin: str = PORTAL, message_id: str = "m-1") -> tuple[dict, str, object]:
    page = client.get("/auth/2/token", query_string={"messageId": message_id, "origin": origin})
    body = page.get_data(as_text=True)
    message = json.loads(html.unescape(re.search(r'data-message="([^"]*)"', body)[1]))
    target = html.unescape(re.search(r'data-origin="([^"]*)"', body)[1])
    return message, target, page


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


def test_info_json_of_a_restricted_image_lists_the_probe_and_its_services(auth_app):
    """Auth 2.0 "Probe Service", "Access Service" (profile active), "Access Token Service", "Logout Service"."""
    info = auth_app.test_client().get(RESTRICTED_INFO).get_json()
    assert info["@context"] == [AUTH_CONTEXT, "http://iiif.io/api/image/3/context.json"]
    [probe] = info["service"]
    assert probe["type"] == "AuthProbeService2"
    assert probe["id"] == "http://localhost/auth/2/probe/nested%2Fdeeper%2Fgrid-png"
    [access] = probe["service"]
    assert (access["type"], access["profile"], access["id"]) == ("AuthAccessService2", "active", "http://localhost/auth/2/login")
    for field in ("label", "heading", "note", "confirmLabel"):
        assert set(access[field]) == {"vi", "en"}
    token, logout = access["service"]
    assert token == {"id": "http://localhost/auth/2/token", "type": "AuthAccessTokenService2"}
    assert (logout["type"], logout["id"], set(logout["label"])) == ("AuthLogoutService2", "http://localhost/auth/2/logout", {"vi", "en"})


def test_a_public_image_and_a_server_without_auth_list_no_auth_service(auth_app, image_root: Path):
    assert "service" not in auth_app.test_client().get("/iiif/3/grid-png/info.json").get_json()
    plain = create_app(Settings(image_root=image_root, restricted_prefixes="nested")).test_client()
    assert "service" not in plain.get(RESTRICTED_INFO).get_json()
    assert plain.get("/auth/2/logout").status_code == 404


def test_without_a_users_file_no_login_service_is_advertised(image_root: Path):
    """Auth 2.0 "Access Service": a client opens the active service's id; a server that cannot log anyone in
    lists no active service (its login page would answer 404) and, with no access service at all, no probe."""
    app = create_app(Settings(image_root=image_root, restricted_prefixes="nested", auth_secret="test key"))
    client = app.test_client()
    info = client.get(RESTRICTED_INFO).get_json()
    assert "service" not in info and info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert client.get("/auth/2/login").status_code == 404
    assert client.get(RESTRICTED_TILE).status_code == 403


def test_the_probe_answers_what_the_image_request_would_get(auth_app):
    """Auth 2.0 "Probe Service Response": AuthProbeResult2 with the status the access-controlled resource would
    have, and a heading and note when it is not 200; decided by the bearer token."""
    client = auth_app.test_client()
    probe = "/auth/2/probe/nested%2Fdeeper%2Fgrid-png"
    anonymous = client.get(probe)
    assert anonymous.status_code == 200 and anonymous.headers["Access-Control-Allow-Origin"] == "*"
    result = anonymous.get_json()
    assert (result["@context"], result["type"], result["status"]) == (AUTH_CONTEXT, "AuthProbeResult2", 403)
    assert result["id"] == "http://localhost" + probe
    assert set(result["heading"]) == set(result["note"]) == {"vi", "en"}
    visitor = issue(auth_app, CredentialKind.TOKEN, Reader("minh", frozenset({"visitors"})))
    assert client.get(probe, headers={"Authorization": f"Bearer {visitor}"}).get_json()["status"] == 403
    archivist = issue(auth_app, CredentialKind.TOKEN, Reader("lan", frozenset({"archivists"})))
    allowed = client.get(probe, headers={"Authorization": f"Bearer {archivist}"}).get_json()
    assert allowed["status"] == 200 and "heading" not in allowed
    cookie = issue(auth_app, CredentialKind.COOKIE, Reader("lan", frozenset({"archivists"})))
    assert client.get(probe, headers={"Authorization": f"Bearer {cookie}"}).get_json()["status"] == 403
    assert client.get("/auth/2/probe/grid-png").get_json()["status"] == 200
    assert client.get("/auth/2/probe/no-such-image").status_code == 404
    preflight = client.options(probe, headers={"Access-Control-Request-Headers": "Authorization"})
    assert preflight.status_code == 204 and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_login_sets_the_access_cookie_and_closes_its_window(auth_app):
    """Auth 2.0 "Access Service" (active): the user interacts with the server's own page, which sets the cookie."""
    client = auth_app.test_client()
    form = client.get("/auth/2/login?origin=" + PORTAL)
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and "Đăng nhập" in page and "Log in" in page
    assert "script-src 'self'" in form.headers["Content-Security-Policy"]
    wrong = log_in(client, "lan", "not her password")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE) is None
    signed_in = log_in(client, "lan", "mật khẩu của Lan")
    assert signed_in.status_code == 200 and "auth-close.js" in signed_in.get_data(as_text=True)
    header = signed_in.headers["Set-Cookie"]
    # Secure even on loopback http: browsers treat loopback as a secure context and keep it (Chromium, tested
    # in tests/viewer/test_auth_client.py), and only a Secure cookie may be SameSite=None.
    assert "HttpOnly" in header and "Secure" in header and "SameSite=None" in header
    assert client.get(RESTRICTED_TILE).status_code == 200
    assert "window.close()" in client.get("/auth/2/static/auth-close.js").get_data(as_text=True)


def test_the_access_cookie_is_secure_and_same_site_none_over_https(auth_app):
    client = auth_app.test_client()
    client.environ_base["HTTP_HOST"] = "localhost"
    form = client.get("/auth/2/login", base_url="https://localhost")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True))[1]
    signed_in = client.post("/auth/2/login", base_url="https://localhost",
                            data={"csrf_token": csrf, "user": "lan", "password": "mật khẩu của Lan"})
    header = signed_in.headers["Set-Cookie"]
    assert "Secure" in header and "SameSite=None" in header and "HttpOnly" in header


def test_login_refuses_a_form_it_did_not_make(auth_app):
    client = auth_app.test_client()
    forged = client.post("/auth/2/login", data={"csrf_token": "forged", "user": "lan", "password": "mật khẩu của Lan"})
    assert forged.status_code == 400 and "login form" in forged.get_data(as_text=True)
    other = auth_app.test_client()
    other.get("/auth/2/login")
    csrf_of_other = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/auth/2/login").get_data(as_text=True))[1]
    client.get("/auth/2/login")  # this client's own nonce cookie
    assert client.post("/auth/2/login", data={"csrf_token": csrf_of_other, "user": "lan",
                                              "password": "mật khẩu của Lan"}).status_code == 400
    assert client.get_cookie(ACCESS_COOKIE) is None


def test_the_token_service_posts_a_token_to_the_named_origin_only(auth_app):
    """Auth 2.0 "Access Token Service": a page posting AuthAccessToken2 (accessToken, expiresIn, the same messageId)."""
    client = auth_app.test_client()
    missing, target, _ = token_message(client)
    assert (missing["type"], missing["profile"], missing["messageId"], target) == (
        "AuthAccessTokenError2", "missingAspect", "m-1", PORTAL)
    log_in(client, "lan", "mật khẩu của Lan")
    message, target, page = token_message(client, message_id="viewer-42")
    assert target == PORTAL and page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    assert "auth-token.js" in page.get_data(as_text=True) and "<script>" not in page.get_data(as_text=True)
    assert (message["@context"], message["type"], message["messageId"]) == (AUTH_CONTEXT, "AuthAccessToken2", "viewer-42")
    assert 0 < message["expiresIn"] <= 3600
    probe = client.get("/auth/2/probe/nested%2Fdeeper%2Fgrid-png", headers={"Authorization": f"Bearer {message['accessToken']}"})
    assert probe.get_json()["status"] == 200
    script = client.get("/auth/2/static/auth-token.js").get_data(as_text=True)
    assert "postMessage(JSON.parse(body.dataset.message), body.dataset.origin)" in script


def test_a_token_for_a_foreign_origin_is_refused(auth_app):
    """Auth 2.0 "Access Token Error Format": profile invalidOrigin, and no token in the page."""
    client = auth_app.test_client()
    log_in(client, "lan", "mật khẩu của Lan")
    message, target, page = token_message(client, origin="http://127.0.0.3:9000")
    assert (message["type"], message["profile"], target) == ("AuthAccessTokenError2", "invalidOrigin", "http://127.0.0.3:9000")
    assert set(message["note"]) == {"vi", "en"} and "accessToken" not in page.get_data(as_text=True)
    own, _, _ = token_message(client, origin="http://localhost")
    assert own["type"] == "AuthAccessToken2"


@pytest.mark.parametrize(("query", "reason"), [
    ({"origin": PORTAL}, "needs a messageId"),
    ({"messageId": "1"}, "needs an http(s) origin"),
    ({"messageId": "1", "origin": "javascript:alert(1)"}, "needs an http(s) origin"),
    ({"messageId": "1", "origin": PORTAL + "/page"}, "needs an http(s) origin"),
])
def test_the_token_service_refuses_malformed_requests(auth_app, query, reason):
    answer = auth_app.test_client().get("/auth/2/token", query_string=query)
    assert answer.status_code == 400 and reason in answer.get_data(as_text=True)


def test_an_expired_cookie_gets_expired_aspect(image_root: Path, users_file: Path):
    app = create_app(Settings(image_root=image_root, restricted_prefixes="nested", auth_secret="test key",
                              auth_users_file=users_file))
    signer = app.extensions["iiif.credentials"]
    expired = CredentialSigner("test key", signer.lifetime_seconds, lambda: 1_000_000.0)
    client = app.test_client()
    client.set_cookie(ACCESS_COOKIE, expired.issue(CredentialKind.COOKIE, Reader("lan"))[0])
    message, _, _ = token_message(client, origin="http://localhost")
    assert message["profile"] == "expiredAspect"
    assert client.get(RESTRICTED_TILE).status_code == 403


def test_logout_ends_the_session(auth_app):
    """Auth 2.0 "Logout Service": opening it ends the access the cookie gave."""
    client = auth_app.test_client()
    log_in(client, "lan", "mật khẩu của Lan")
    assert client.get(RESTRICTED_TILE).status_code == 200
    page = client.get("/auth/2/logout")
    assert page.status_code == 200 and "Đã đăng xuất" in page.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE) is None
    assert client.get(RESTRICTED_TILE).status_code == 403


def test_failed_logins_are_limited_per_client_and_per_user(image_root: Path, users_file: Path):
    app = create_app(Settings(image_root=image_root, restricted_prefixes="nested", auth_secret="test key",
                              auth_users_file=users_file, auth_login_failures=2))
    client = app.test_client()
    assert [log_in(client, "lan", "guess").status_code for _ in range(2)] == [401, 401]
    refused = log_in(client, "lan", "mật khẩu của Lan")  # even the right password waits
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert client.get_cookie(ACCESS_COOKIE) is None
    from_elsewhere = app.test_client()
    from_elsewhere.environ_base["REMOTE_ADDR"] = "127.0.0.9"
    assert log_in(from_elsewhere, "lan", "mật khẩu của Lan").status_code == 429  # the name is protected too
    assert log_in(from_elsewhere, "minh", "minh's password").status_code == 200


def kiosk_app(image_root: Path, users_file: Path, tmp_path: Path, **settings: object):
    return create_app(Settings(image_root=image_root, restricted_prefixes="nested:archivists", auth_secret="test key",
                               auth_users_file=users_file, audit_log=tmp_path / "audit.jsonl", **settings))


def test_a_kiosk_address_sees_everything_without_a_login(image_root: Path, users_file: Path, tmp_path: Path):
    """Auth 2.0 "Kiosk Interaction Pattern": the client opens the access service without interaction; a
    reading-room terminal gets the access cookie, then a token as after an active login."""
    app = kiosk_app(image_root, users_file, tmp_path, auth_kiosk_networks="127.0.0.0/8",
                    auth_kiosk_groups="archivists, reading-room")
    client = app.test_client()
    [probe] = client.get(RESTRICTED_INFO).get_json()["service"]
    kiosk, active = probe["service"]  # clients try kiosk before active (Auth 2.0 "Interaction Patterns")
    assert (kiosk["type"], kiosk["profile"], kiosk["id"]) == ("AuthAccessService2", "kiosk", "http://localhost/auth/2/kiosk")
    assert set(kiosk["label"]) == {"vi", "en"} and active["profile"] == "active"
    assert [service["type"] for service in kiosk["service"]] == ["AuthAccessTokenService2", "AuthLogoutService2"]
    assert client.get(RESTRICTED_TILE).status_code == 403
    opened = client.get("/auth/2/kiosk?origin=http://localhost")
    assert opened.status_code == 200 and "auth-close.js" in opened.get_data(as_text=True)
    assert client.get(RESTRICTED_TILE).status_code == 200
    message, _, _ = token_message(client, origin="http://localhost")
    assert message["type"] == "AuthAccessToken2"
    probe_result = client.get("/auth/2/probe/nested%2Fdeeper%2Fgrid-png",
                              headers={"Authorization": f"Bearer {message['accessToken']}"}).get_json()
    assert probe_result["status"] == 200
    [login] = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()
               if '"login"' in line]
    assert (login["user"], login["outcome"], login["detail"], login["client"]) == (
        "kiosk@127.0.0.1", "allowed", "kiosk", "127.0.0.1")


def test_outside_the_kiosk_ranges_the_kiosk_service_refuses(image_root: Path, users_file: Path, tmp_path: Path):
    unconfigured = kiosk_app(image_root, users_file, tmp_path).test_client()
    [probe] = unconfigured.get(RESTRICTED_INFO).get_json()["service"]
    assert [service["profile"] for service in probe["service"]] == ["active"]
    refused = unconfigured.get("/auth/2/kiosk?origin=http://localhost")
    assert refused.status_code == 403 and "auth-close.js" in refused.get_data(as_text=True)
    assert unconfigured.get_cookie(ACCESS_COOKIE) is None
    assert unconfigured.get(RESTRICTED_TILE).status_code == 403
    elsewhere = kiosk_app(image_root, users_file, tmp_path, auth_kiosk_networks="10.20.0.0/24").test_client()
    assert elsewhere.get("/auth/2/kiosk").status_code == 403
    # The header is believed only from a trusted proxy.
    assert elsewhere.get("/auth/2/kiosk", headers={"X-Forwarded-For": "10.20.0.5"}).status_code == 403
    assert elsewhere.get_cookie(ACCESS_COOKIE) is None


def test_behind_a_trusted_proxy_the_terminal_is_the_forwarded_client(image_root: Path, users_file: Path, tmp_path: Path):
    app = kiosk_app(image_root, users_file, tmp_path, auth_kiosk_networks="10.20.0.0/24", auth_kiosk_groups="archivists",
                    trusted_proxies="127.0.0.1")
    client = app.test_client()
    assert client.get("/auth/2/kiosk", headers={"X-Forwarded-For": "10.20.0.5"}).status_code == 200
    assert client.get(RESTRICTED_TILE, headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 200
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(event["action"], event["user"], event["client"]) for event in events] == [
        ("login", "kiosk@10.20.0.5", "10.20.0.5"), ("image", "kiosk@10.20.0.5", "198.51.100.4")]


PORTAL_SECRET = "the portal's shared secret, 32+ bytes long"


def test_the_portals_session_cookie_is_an_external_access_service(image_root: Path, users_file: Path, tmp_path: Path):
    """Auth 2.0 "External Interaction Pattern": no access service to open (no id), the token service directly;
    the portal's session cookie also decides image requests, as the access cookie does."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    app = kiosk_app(image_root, users_file, tmp_path, auth_external_cookie="portal_session",
                    auth_external_secret=PORTAL_SECRET, auth_token_origins=PORTAL)
    client = app.test_client()
    [probe] = client.get(RESTRICTED_INFO).get_json()["service"]
    external, active = probe["service"]  # external first (Auth 2.0 "Interaction Patterns")
    assert "id" not in external and (external["type"], external["profile"]) == ("AuthAccessService2", "external")
    assert set(external["label"]) == {"vi", "en"} and active["profile"] == "active"
    assert external["service"] == [{"id": "http://localhost/auth/2/token", "type": "AuthAccessTokenService2"}]
    missing, _, _ = token_message(client)
    assert missing["profile"] == "missingAspect"
    expires = int(time.time()) + 600
    session = jwt.encode({"alg": "HS256"}, {"sub": "lan", "groups": ["archivists"], "exp": expires},
                         OctKey.import_key(PORTAL_SECRET))
    client.set_cookie("portal_session", session)
    assert client.get(RESTRICTED_TILE).status_code == 200
    message, target, _ = token_message(client)
    assert message["type"] == "AuthAccessToken2" and target == PORTAL
    assert 0 < message["expiresIn"] <= 600  # never beyond the portal's session
    probe_result = client.get("/auth/2/probe/nested%2Fdeeper%2Fgrid-png",
                              headers={"Authorization": f"Bearer {message['accessToken']}"}).get_json()
    assert probe_result["status"] == 200
    client.set_cookie("portal_session", session[:-3] + "AAA")
    assert client.get(RESTRICTED_TILE).status_code == 403
    ended = jwt.encode({"alg": "HS256"}, {"sub": "lan", "groups": ["archivists"], "exp": int(time.time()) - 5},
                       OctKey.import_key(PORTAL_SECRET))
    client.set_cookie("portal_session", ended)
    assert client.get(RESTRICTED_TILE).status_code == 403
    assert token_message(client)[0]["profile"] == "expiredAspect"  # Auth 2.0 "Access Token Error Format"
    text = (tmp_path / "audit.jsonl").read_text()
    assert session not in text and message["accessToken"] not in text
    tokens = [json.loads(line) for line in text.splitlines() if '"token"' in line]
    assert [(e["outcome"], e["user"], e["detail"]) for e in tokens] == [
        ("refused", "", "missingAspect"), ("allowed", "lan", "external"), ("refused", "", "expiredAspect")]
