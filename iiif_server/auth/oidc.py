"""Login with the agency's OpenID Connect provider (authorization code flow, authlib's Flask client).

authlib keeps the request's ``state`` and ``nonce`` in Flask's signed session cookie between the
redirect to the provider and the callback, checks both there, and verifies the ID token with the
provider's published keys. That cookie is limited to /auth/2/oidc/ (the session holds nothing else
and no other page reads it), so it never reaches image requests and their caches."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask

from iiif_server.access.base import Reader
from iiif_server.settings import Settings, SettingsError

OIDC_CLIENT = "agency"
OIDC_PATH = "/auth/2/oidc/"
# Seconds the server waits for the provider (discovery, keys, code exchange) before answering 503.
PROVIDER_TIMEOUT = 10


def register_oidc(app: Flask, settings: Settings) -> None:
    """Registers the agency's provider on ``app`` when ``auth_oidc_issuer`` is set: its authlib client is
    ``app.extensions["iiif.oidc"]``."""
    if not settings.auth_oidc_issuer:
        return
    if not settings.auth_oidc_client_id:
        raise SettingsError("auth_oidc_issuer needs auth_oidc_client_id")
    if "openid" not in settings.auth_oidc_scope.split():
        raise SettingsError(f"auth_oidc_scope {settings.auth_oidc_scope!r} must include 'openid'")
    app.secret_key = settings.auth_secret  # signs the session; its own salt keeps it apart from credentials
    # Lax: the browser sends it on the provider's redirect back, a top-level navigation.
    app.config.update(SESSION_COOKIE_NAME="iiif_oidc_login", SESSION_COOKIE_PATH=OIDC_PATH,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"))
    app.extensions["iiif.oidc"] = OAuth(app).register(
        OIDC_CLIENT, client_id=settings.auth_oidc_client_id, client_secret=settings.auth_oidc_client_secret or None,
        server_metadata_url=settings.auth_oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.auth_oidc_scope, "timeout": PROVIDER_TIMEOUT},
    )


def reader_from_claims(claims: dict, groups_claim: str) -> Reader | None:
    """The reader an ID token's verified claims name: ``sub``, and the groups claim when it is a list."""
    user = claims.get("sub")
    if not isinstance(user, str) or not user:
        return None
    groups = claims.get(groups_claim, [])
    if not isinstance(groups, list):
        groups = []
    return Reader(user, frozenset(group for group in groups if isinstance(group, str)))
