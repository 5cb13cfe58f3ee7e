"""The portal's single sign-on session cookie: a JWT verified with a shared secret or a public key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from iiif_server.access.base import Reader
from iiif_server.auth.credentials import Grant
from iiif_server.auth.external import PortalSessions, portal_sessions
from iiif_server.settings import Settings, SettingsError

NOW = 1_800_000_000
SECRET = "the portal's shared secret, 32+ bytes long"
RSA = RSAKey.generate_key(2048)


def session(claims: dict, key=OctKey.import_key(SECRET), alg: str = "HS256") -> str:
    return jwt.encode({"alg": alg}, claims, key)


def verifier(**settings: object) -> PortalSessions:
    found = portal_sessions(Settings(auth_external_cookie="portal_session", **settings))
    assert found is not None
    return PortalSessions(found.cookie_name, found._key, found._groups_claim, clock=lambda: NOW)


def hmac_signed(claims: dict, secret: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    return signing_input + "." + part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


LAN = {"sub": "lan", "groups": ["archivists"], "exp": NOW + 60}


@pytest.mark.parametrize(("claims", "grant"), [
    pytest.param(LAN, Grant(Reader("lan", frozenset({"archivists"})), NOW + 60), id="valid"),
    pytest.param({**LAN, "groups": "archivists"}, Grant(Reader("lan"), NOW + 60), id="groups not a list: none"),
    pytest.param({**LAN, "groups": ["a", 7]}, Grant(Reader("lan", frozenset({"a"})), NOW + 60), id="non-string group dropped"),
    pytest.param({**LAN, "exp": NOW - 1}, None, id="RFC 7519 4.1.4 exp: expired"),
    pytest.param({"sub": "lan", "groups": []}, None, id="no exp: a session must end"),
    pytest.param({"groups": ["archivists"], "exp": NOW + 60}, None, id="RFC 7519 4.1.2 sub missing"),
    pytest.param({**LAN, "sub": ""}, None, id="empty sub"),
])
def test_claims_of_a_session_signed_with_the_shared_secret(claims: dict, grant: Grant | None):
    assert verifier(auth_external_secret=SECRET).read(session(claims)) == grant


def test_an_expired_session_is_told_apart_from_a_forged_one():
    sessions = verifier(auth_external_secret=SECRET)
    assert sessions.is_expired(session({**LAN, "exp": NOW - 1}))
    assert not sessions.is_expired(session(LAN))
    assert not sessions.is_expired(session({**LAN, "exp": NOW - 1}, OctKey.import_key("another secret of 32 bytes or more")))


def test_forged_or_malformed_sessions_are_refused():
    sessions = verifier(auth_external_secret=SECRET)
    assert sessions.read(session(LAN, OctKey.import_key("another secret of 32 bytes or more"))) is None
    assert sessions.read("not a jwt") is None
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJsYW4iLCJleHAiOjE4MDAwMDAwNjB9."  # RFC 7519 6.1, alg "none"
    assert sessions.read(unsigned) is None


def test_a_session_signed_with_the_portals_private_key(tmp_path: Path):
    public = tmp_path / "portal.pem"
    public.write_bytes(RSA.as_pem(private=False))
    sessions = verifier(auth_external_public_key_file=public)
    assert sessions.read(session(LAN, RSA, "RS256")) == Grant(Reader("lan", frozenset({"archivists"})), NOW + 60)
    # RFC 8725 3.1 (algorithm confusion): the public key used as an HMAC secret signs nothing acceptable.
    confused = hmac_signed(LAN, RSA.as_pem(private=False))  # joserfc itself refuses to make one
    assert verifier(auth_external_secret=SECRET).read(hmac_signed(LAN, SECRET.encode())) is not None  # well made
    assert sessions.read(confused) is None
    other = ECKey.generate_key("P-256")
    assert sessions.read(session(LAN, other, "ES256")) is None


def test_settings_errors(tmp_path: Path):
    assert portal_sessions(Settings()) is None
    with pytest.raises(SettingsError, match="needs one of auth_external_secret and auth_external_public_key_file"):
        portal_sessions(Settings(auth_external_cookie="portal_session"))
    private = tmp_path / "private.pem"
    private.write_bytes(RSA.as_pem(private=True))
    with pytest.raises(SettingsError, match="holds a private key"):
        portal_sessions(Settings(auth_external_cookie="s", auth_external_public_key_file=private))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(SettingsError, match="not a PEM public key"):
        portal_sessions(Settings(auth_external_cookie="s", auth_external_public_key_file=junk))
    with pytest.raises(SettingsError, match="missing.pem"):
        portal_sessions(Settings(auth_external_cookie="s", auth_external_public_key_file=tmp_path / "missing.pem"))
