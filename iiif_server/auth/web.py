"""The Auth 2.0 web services, and who a request comes from: the reader its access cookie or the
portal's session cookie (image requests) or its bearer token (probe) names, and its client address.
Every login, token, logout and request about a restricted image is audited here."""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer
from joserfc.errors import JoseError

from iiif_server.access.base import AccessDecision, AccessRequest, Reader, is_restricted
from iiif_server.auth.audit import AuditAction, AuditEvent, AuditLog, AuditOutcome
from iiif_server.auth.credentials import CredentialKind, CredentialSigner, Grant
from iiif_server.auth.external import PortalSessions
from iiif_server.auth.services import (
    LOGIN_CONFIRM, LOGIN_LABEL, LOGIN_NOTE, LOGOUT_LABEL, access_token_error, access_token_message, probe_result,
    probe_url, substitute_resources,
)
from iiif_server.auth.oidc import reader_from_claims
from iiif_server.auth.throttle import LoginThrottle
from iiif_server.auth.users import UsersFile
from iiif_server.errors import BadRequest, NotFound, Unavailable
from iiif_server.web.clients import in_networks, resolve_client_address
from iiif_server.web.responses import public_base_url
from iiif_server.web.security import LOCAL_HOSTS, content_security_policy, host_name

ACCESS_COOKIE = "iiif_access"
# The login form's CSRF nonce (double submit: the form carries it signed, this cookie plain).
LOGIN_FORM_COOKIE = "iiif_login_form"


def credential_signer() -> CredentialSigner | None:
    """None when no ``auth_secret`` is set: then no credential is ever valid."""
    return current_app.extensions.get("iiif.credentials")


def _reader(kind: CredentialKind, value: str | None) -> Reader | None:
    signer = credential_signer()
    grant = signer.read(kind, value) if signer is not None and value else None
    return grant.reader if grant is not None else None


def cookie_reader() -> Reader | None:
    """The reader the access cookie names, else the one the portal's session cookie names (external)."""
    if "HTTP_COOKIE" not in request.environ:  # most image requests: no cookie to parse
        return None
    reader = _reader(CredentialKind.COOKIE, request.cookies.get(ACCESS_COOKIE))
    if reader is None:
        portal = portal_grant()
        reader = portal.reader if portal is not None else None
    return reader


def portal_grant() -> Grant | None:
    """What the portal's single sign-on session cookie grants, when ``auth_external_cookie`` is set."""
    sessions: PortalSessions | None = current_app.extensions.get("iiif.portal_sessions")
    value = request.cookies.get(sessions.cookie_name) if sessions is not None else None
    return sessions.read(value) if value else None


def portal_session_expired() -> bool:
    sessions: PortalSessions | None = current_app.extensions.get("iiif.portal_sessions")
    value = request.cookies.get(sessions.cookie_name) if sessions is not None else None
    return sessions.is_expired(value) if value else False


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def token_reader() -> Reader | None:
    return _reader(CredentialKind.TOKEN, bearer_token())


def client_address() -> str:
    """The address the request comes from (through a trusted proxy: the client the proxy names)."""
    return resolve_client_address(request.remote_addr or "", ",".join(request.headers.getlist("X-Forwarded-For")),
                                  current_app.extensions["iiif.trusted_proxies"])


def record_audit(action: AuditAction, outcome: AuditOutcome, user: str = "", identifier: str = "",
                 region: str = "", size: str = "", detail: str = "") -> None:
    """Appends an event to the audit log, when one is configured (``audit_log``)."""
    audit_log: AuditLog | None = current_app.extensions.get("iiif.audit")
    if audit_log is not None:
        audit_log.record(AuditEvent(datetime.now(timezone.utc), action, outcome, client_address(), user,
                                    identifier, region, size, detail))


def audit_restricted_request(action: AuditAction, identifier: str, reader: Reader | None,
                             region: str = "", size: str = "") -> None:
    """Audits a request about ``identifier`` when an access rule restricts it, with the access decision."""
    access = current_app.extensions["iiif"].access
    if is_restricted(access.rule_for(identifier)):
        allowed = access.decide(AccessRequest(identifier, reader)) is AccessDecision.ALLOW
        record_audit(action, AuditOutcome.ALLOWED if allowed else AuditOutcome.REFUSED,
                     reader.user if reader else "", identifier, region, size)


def auth_blueprint() -> Blueprint:
    """The probe, access (active: a login page and the OIDC login; kiosk), token and logout services under /auth/2/."""
    blueprint = Blueprint("auth", __name__, template_folder="templates", static_folder="static",
                          static_url_path="/static")

    @blueprint.route("/probe/<path:identifier>", methods=["GET", "OPTIONS"])
    def probe(identifier: str) -> Response:
        if request.method == "OPTIONS":
            return Response(status=204)
        pipeline = current_app.extensions["iiif"]
        pipeline.locate(identifier)  # 404 for an unknown identifier
        reader = token_reader()
        allowed = pipeline.access.decide(AccessRequest(identifier, reader)) is AccessDecision.ALLOW
        substitute = pipeline.substitute_for(identifier)
        offered = substitute_resources(public_base_url(), identifier, substitute) if substitute is not None else None
        audit_restricted_request(AuditAction.PROBE, identifier, reader)
        result = probe_result(probe_url(public_base_url(), identifier), 200 if allowed else 403, reader is not None,
                              offered)
        response = jsonify(result)
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        users_file = current_app.config["IIIF_SETTINGS"].auth_users_file
        oidc = current_app.extensions.get("iiif.oidc")
        if users_file is None and (oidc is None or request.method == "POST"):
            raise NotFound("no users file is configured (auth_users_file)")
        nonce = request.cookies.get(LOGIN_FORM_COOKIE) or secrets.token_urlsafe(16)
        form_signer = URLSafeSerializer(current_app.config["IIIF_SETTINGS"].auth_secret, salt="iiif-login-form")
        failed, retry_after = False, 0
        if request.method == "POST":
            try:
                form_nonce = form_signer.loads(request.form.get("csrf_token", ""))
            except BadSignature:
                form_nonce = None
            if form_nonce is None or not hmac.compare_digest(str(form_nonce), nonce):
                raise BadRequest("the login form is stale or was not sent by this server's login page; reload it")
            user, client = request.form.get("user", ""), client_address()
            throttle: LoginThrottle = current_app.extensions["iiif.login_throttle"]
            retry_after = throttle.retry_after(client, user)
            if retry_after:
                record_audit(AuditAction.LOGIN, AuditOutcome.REFUSED, user, detail="throttled")
            else:
                reader = UsersFile(users_file).verify(user, request.form.get("password", ""))
                if reader is not None:
                    return _signed_in(reader, "password")
                throttle.record_failure(client, user)
                record_audit(AuditAction.LOGIN, AuditOutcome.REFUSED, user, detail="password")
                failed = True
        page = render_template("auth_login.html", csrf_token=form_signer.dumps(nonce), failed=failed,
                               retry_after=retry_after, label=LOGIN_LABEL, note=LOGIN_NOTE, confirm=LOGIN_CONFIRM,
                               password_form=users_file is not None, oidc=oidc is not None)
        status = 429 if retry_after else 401 if failed else 200
        response = Response(page, status=status, mimetype="text/html")
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(LOGIN_FORM_COOKIE, nonce, httponly=True, samesite="Strict", path=request.path,
                            secure=not _is_loopback_http())
        return response

    @blueprint.route("/kiosk")
    def kiosk() -> Response:
        """Auth 2.0 "Kiosk Interaction Pattern": opened without interaction; a reading-room terminal gets
        the access cookie, any other client a page that closes itself, as the signed-in page does."""
        address = client_address()
        if in_networks(address, current_app.extensions["iiif.kiosk_networks"]):
            groups = current_app.config["IIIF_SETTINGS"].auth_kiosk_groups.split(",")
            reader = Reader(f"kiosk@{address}", frozenset(group.strip() for group in groups if group.strip()))
            return _signed_in(reader, "kiosk")
        record_audit(AuditAction.LOGIN, AuditOutcome.REFUSED, detail="kiosk")
        response = Response(render_template("auth_kiosk_refused.html"), status=403, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.route("/oidc/login")
    def oidc_login() -> Response:
        """Sends the login window to the agency's provider, with a fresh state and nonce."""
        try:
            return _oidc().authorize_redirect(public_base_url() + "/auth/2/oidc/callback")
        except requests.RequestException:
            raise Unavailable("the agency's login provider does not answer; try again later", retry_after=30) from None

    @blueprint.route("/oidc/callback")
    def oidc_callback() -> Response:
        """The provider sends the login window back here: the state must be the one this browser was
        given, the ID token signed by the provider, for this client, with the nonce sent."""
        try:
            token = _oidc().authorize_access_token()
        except requests.RequestException:
            raise Unavailable("the agency's login provider does not answer; try again later", retry_after=30) from None
        except (OAuthError, JoseError) as error:
            record_audit(AuditAction.LOGIN, AuditOutcome.REFUSED, detail="oidc")
            code = getattr(error, "error", "") or type(error).__name__
            raise BadRequest(f"the login with the agency's account did not complete ({code}); log in again") from None
        claims = token.get("userinfo")
        groups_claim = current_app.config["IIIF_SETTINGS"].auth_oidc_groups_claim
        reader = reader_from_claims(dict(claims), groups_claim) if claims else None
        if reader is None:
            record_audit(AuditAction.LOGIN, AuditOutcome.REFUSED, detail="oidc")
            raise BadRequest("the agency's provider named no user (an ID token with sub is needed); log in again")
        return _signed_in(reader, "oidc")

    @blueprint.route("/token")
    def token() -> Response:
        message_id = request.args.get("messageId", "")
        origin = request.args.get("origin", "")
        if not message_id:
            raise BadRequest("the token service needs a messageId")
        if not is_web_origin(origin):
            raise BadRequest("the token service needs an http(s) origin")
        signer = credential_signer()
        assert signer is not None  # the blueprint is registered only with auth_secret set
        cookie = request.cookies.get(ACCESS_COOKIE)
        grant = signer.read(CredentialKind.COOKIE, cookie) if cookie else None
        via = ""
        if grant is None:
            grant, via = portal_grant(), "external"
        if origin not in _token_origins():
            message = access_token_error("invalidOrigin", message_id)
        elif grant is not None:
            # A token never outlives the session it comes from.
            token_value, token_grant = signer.issue(CredentialKind.TOKEN, grant.reader, not_after=grant.expires_at)
            message = access_token_message(token_value, signer.seconds_left(token_grant), message_id)
        elif (cookie and signer.is_expired(CredentialKind.COOKIE, cookie)) or portal_session_expired():
            message = access_token_error("expiredAspect", message_id)
        else:
            message = access_token_error("missingAspect", message_id)
        issued = message["type"] == "AuthAccessToken2"
        record_audit(AuditAction.TOKEN, AuditOutcome.ALLOWED if issued else AuditOutcome.REFUSED,
                     grant.reader.user if grant else "", detail=via if issued else str(message["profile"]))
        page = render_template("auth_token.html", message=json.dumps(message), origin=origin)
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        # Viewers on any page frame the token service; the message goes to the named origin only.
        response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors="*")
        return response

    @blueprint.route("/logout")
    def logout() -> Response:
        reader = cookie_reader()
        record_audit(AuditAction.LOGOUT, AuditOutcome.ALLOWED, reader.user if reader else "")
        page = render_template("auth_logout.html", label=LOGOUT_LABEL)
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.delete_cookie(ACCESS_COOKIE, path="/", secure=True, httponly=True, samesite="None")
        return response

    return blueprint


def _oidc():  # noqa: ANN202 - authlib's FlaskOAuth2App
    client = current_app.extensions.get("iiif.oidc")
    if client is None:
        raise NotFound("no OpenID Connect provider is configured (auth_oidc_issuer)")
    return client


def _token_origins() -> frozenset[str]:
    """Origins the token service posts tokens to: this server's own and those of ``auth_token_origins``."""
    configured = current_app.config["IIIF_SETTINGS"].auth_token_origins
    own = urlsplit(public_base_url())
    return frozenset(o.strip().rstrip("/") for o in configured.split(",") if o.strip()) | {f"{own.scheme}://{own.netloc}"}


def is_web_origin(value: str) -> bool:
    """An origin as a browser states it: http(s)://host[:port], nothing after."""
    parts = urlsplit(value)
    return (parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.path and not parts.query
            and not parts.fragment and "@" not in parts.netloc)


def _is_loopback_http() -> bool:
    """Plain http to a loopback address: a browser would drop a ``Secure`` cookie there."""
    return request.scheme == "http" and host_name(request.host or "") in LOCAL_HOSTS


def _signed_in(reader: Reader, method: str) -> Response:
    """Sets the access cookie for ``reader``, who logged in by ``method`` (audited)."""
    signer = credential_signer()
    assert signer is not None
    record_audit(AuditAction.LOGIN, AuditOutcome.ALLOWED, reader.user, detail=method)
    value, grant = signer.issue(CredentialKind.COOKIE, reader)
    response = Response(render_template("auth_signed_in.html", user=reader.user), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # SameSite=None lets a portal on another site embed the viewer; browsers accept it only with Secure,
    # which they also accept from plain http to a loopback address (a potentially trustworthy origin:
    # Chromium keeps it and sends it to a frame under 127.0.0.2, tests/viewer/test_auth_client.py).
    response.set_cookie(ACCESS_COOKIE, value, max_age=signer.seconds_left(grant), path="/", httponly=True,
                        secure=True, samesite="None")
    return response
