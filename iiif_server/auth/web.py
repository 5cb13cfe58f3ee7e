"""Who a request comes from: the reader its access cookie (image requests) or bearer token (probe) names."""

from __future__ import annotations

from flask import current_app, request

from iiif_server.access.base import Reader
from iiif_server.auth.credentials import CredentialKind, CredentialSigner

ACCESS_COOKIE = "iiif_access"


def credential_signer() -> CredentialSigner | None:
    """None when no ``auth_secret`` is set: then no credential is ever valid."""
    return current_app.extensions.get("iiif.credentials")


def _reader(kind: CredentialKind, value: str | None) -> Reader | None:
    signer = credential_signer()
    grant = signer.read(kind, value) if signer is not None and value else None
    return grant.reader if grant is not None else None


def cookie_reader() -> Reader | None:
    return _reader(CredentialKind.COOKIE, request.cookies.get(ACCESS_COOKIE))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def token_reader() -> Reader | None:
    return _reader(CredentialKind.TOKEN, bearer_token())
