"""Signed, expiring credentials naming a reader: the access cookie (decides image requests) and the
access token (decides the probe). Each kind has its own salt, so one is never accepted as the other."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from iiif_server.access.base import Reader


class CredentialKind(enum.Enum):
    COOKIE = "iiif-access-cookie"
    TOKEN = "iiif-access-token"


@dataclass(frozen=True)
class Grant:
    """What a valid credential says: who, with which groups (the aspects granted), until when."""

    reader: Reader
    expires_at: int  # Unix seconds


class CredentialSigner:
    """Issues and reads credentials; thread-safe (no state beyond the key). ``clock`` gives Unix seconds."""

    def __init__(self, secret: str, lifetime_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._serializers = {kind: URLSafeSerializer(secret, salt=kind.value) for kind in CredentialKind}
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def issue(self, kind: CredentialKind, reader: Reader, not_after: int | None = None) -> tuple[str, Grant]:
        """A credential for ``reader`` that lasts the lifetime, or until ``not_after`` if that comes first."""
        expires_at = int(self._clock()) + self.lifetime_seconds
        grant = Grant(reader, expires_at if not_after is None else min(expires_at, not_after))
        payload = {"user": reader.user, "groups": sorted(reader.groups), "exp": grant.expires_at}
        return self._serializers[kind].dumps(payload), grant

    def read(self, kind: CredentialKind, value: str) -> Grant | None:
        """The grant ``value`` carries; None when it is forged, of the other kind, malformed or expired."""
        try:
            payload = self._serializers[kind].loads(value)
        except BadSignature:
            return None
        try:
            grant = Grant(Reader(str(payload["user"]), frozenset(map(str, payload["groups"]))), int(payload["exp"]))
        except (KeyError, TypeError, ValueError):
            return None
        return grant if grant.expires_at > self._clock() else None

    def is_expired(self, kind: CredentialKind, value: str) -> bool:
        """``value`` is a genuine credential of this kind whose time has passed."""
        try:
            payload = self._serializers[kind].loads(value)
        except BadSignature:
            return False
        return isinstance(payload, dict) and isinstance(payload.get("exp"), int) and payload["exp"] <= self._clock()

    def seconds_left(self, grant: Grant) -> int:
        return max(0, grant.expires_at - int(self._clock()))
