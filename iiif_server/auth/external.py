"""The portal's own single sign-on session (Auth 2.0 "External Interaction Pattern"): a cookie
holding a JWT the portal signs, with a shared secret (HS256) or its private key (the server holds
the public key). Its claims name the reader: ``sub`` the user, a list claim the groups, ``exp`` when
the session ends. Thread-safe: verification keeps no state."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, OctKey, import_key

from iiif_server.access.base import Reader
from iiif_server.auth.credentials import Grant
from iiif_server.settings import Settings, SettingsError

# The signature algorithms accepted for each kind of key: never "none", never HS* with a public key.
_ALGORITHMS = {
    "oct": ["HS256", "HS384", "HS512"],
    "RSA": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    "EC": ["ES256", "ES384", "ES512"],
    "OKP": ["EdDSA"],
}


class PortalSessions:
    def __init__(self, cookie_name: str, key: Key, groups_claim: str, clock: Callable[[], float] = time.time) -> None:
        self.cookie_name = cookie_name
        self._key = key
        self._algorithms = _ALGORITHMS[key.key_type]
        self._groups_claim = groups_claim
        self._clock = clock

    def read(self, value: str) -> Grant | None:
        """The grant a session cookie carries; None when it is forged, malformed, expired or names no user."""
        try:
            token = jwt.decode(value, self._key, algorithms=self._algorithms)
            jwt.JWTClaimsRegistry(now=int(self._clock()), exp={"essential": True},
                                  sub={"essential": True}).validate(token.claims)
        except (JoseError, ValueError, TypeError):
            return None
        groups = token.claims.get(self._groups_claim, [])
        if not isinstance(groups, list):
            groups = []
        user, expires_at = token.claims["sub"], token.claims["exp"]
        if not isinstance(user, str) or not user or not isinstance(expires_at, int):
            return None
        return Grant(Reader(user, frozenset(group for group in groups if isinstance(group, str))), expires_at)


    def is_expired(self, value: str) -> bool:
        """``value`` is a genuine session whose ``exp`` has passed (the token service says expiredAspect)."""
        try:
            token = jwt.decode(value, self._key, algorithms=self._algorithms)
        except (JoseError, ValueError, TypeError):
            return False
        expires_at = token.claims.get("exp")
        return isinstance(expires_at, int) and expires_at <= self._clock()


def portal_sessions(settings: Settings) -> PortalSessions | None:
    """The verifier the settings describe; None when ``auth_external_cookie`` is empty."""
    if not settings.auth_external_cookie:
        return None
    secret, key_file = settings.auth_external_secret, settings.auth_external_public_key_file
    if bool(secret) == (key_file is not None):
        raise SettingsError("auth_external_cookie needs one of auth_external_secret and auth_external_public_key_file")
    if secret:
        key: Key = OctKey.import_key(secret)
    else:
        key = _public_key(key_file)
    return PortalSessions(settings.auth_external_cookie, key, settings.auth_external_groups_claim)


def _public_key(path: Path) -> Key:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise SettingsError(f"auth_external_public_key_file {path}: {error.strerror}") from None
    for key_type in ("RSA", "EC", "OKP"):
        try:
            key = import_key(pem, key_type)
        except (JoseError, ValueError, TypeError):
            continue
        if key.is_private:
            raise SettingsError(f"auth_external_public_key_file {path}: holds a private key; give the public one")
        return key
    raise SettingsError(f"auth_external_public_key_file {path}: not a PEM public key (RSA, EC or Ed25519)")
