"""The Auth 2.0 web services, and who a request comes from: the reader its access cookie (image
requests) or bearer token (probe) names."""

from __future__ import annotations

import hmac
import json
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer

from iiif_server.access.base import AccessDecision, AccessRequest, Reader
from iiif_server.auth.credentials import CredentialKind, CredentialSigner
from iiif_server.auth.services import (
    LOGIN_CONFIRM, LOGIN_LABEL, LOGIN_NOTE, LOGOUT_LABEL, access_token_error, access_token_message, probe_result,
    probe_url, substitute_resources,
)
from iiif_server.auth.throttle import LoginThrottle
from iiif_server.auth.users import UsersFile
from iiif_server.errors import BadRequest, NotFound
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
    return _reader(CredentialKind.COOKIE, request.cookies.get(ACCESS_COOKIE))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def token_reader() -> Reader | None:
    return _reader(CredentialKind.TOKEN, bearer_token())


def auth_blueprint() -> Blueprint:
    """The probe, access (active: a login page), token and logout services under /auth/2/."""
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
        result = probe_result(probe_url(public_base_url(), identifier), 200 if allowed else 403, reader is not None, offered)
        response = jsonify(result)
        response.headers["Cache-Control"] = "no-store"
        return response

    @blueprint.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        users = _users()
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
            user, client = request.form.get("user", ""), request.remote_addr or ""
            throttle: LoginThrottle = current_app.extensions["iiif.login_throttle"]
            retry_after = throttle.retry_after(client, user)
            if not retry_after:
                reader = users.verify(user, request.form.get("password", ""))
                if reader is not None:
                    return _signed_in(reader)
                throttle.record_failure(client, user)
                failed = True
        page = render_template("auth_login.html", csrf_token=form_signer.dumps(nonce), failed=failed,
                               retry_after=retry_after, label=LOGIN_LABEL, note=LOGIN_NOTE, confirm=LOGIN_CONFIRM)
        status = 429 if retry_after else 401 if failed else 200
        response = Response(page, status=status, mimetype="text/html")
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(LOGIN_FORM_COOKIE, nonce, httponly=True, samesite="Strict", path=request.path,
                            secure=not _is_loopback_http())
        return response

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
        if origin not in _token_origins():
            message = access_token_error("invalidOrigin", message_id)
        elif grant is not None:
            token_value, token_grant = signer.issue(CredentialKind.TOKEN, grant.reader)
            message = access_token_message(token_value, signer.seconds_left(token_grant), message_id)
        elif cookie and signer.is_expired(CredentialKind.COOKIE, cookie):
            message = access_token_error("expiredAspect", message_id)
        else:
            message = access_token_error("missingAspect", message_id)
        page = render_template("auth_token.html", message=json.dumps(message), origin=origin)
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        # Viewers on any page frame the token service; the message goes to the named origin only.
        response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors="*")
        return response

    @blueprint.route("/logout")
    def logout() -> Response:
        page = render_template("auth_logout.html", label=LOGOUT_LABEL)
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.delete_cookie(ACCESS_COOKIE, path="/", secure=True, httponly=True, samesite="None")
        return response

    return blueprint


def _users() -> UsersFile:
    path = current_app.config["IIIF_SETTINGS"].auth_users_file
    if path is None:
        raise NotFound("no users file is configured (auth_users_file)")
    return UsersFile(path)


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


def _signed_in(reader: Reader) -> Response:
    signer = credential_signer()
    assert signer is not None
    value, grant = signer.issue(CredentialKind.COOKIE, reader)
    response = Response(render_template("auth_signed_in.html", user=reader.user), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # SameSite=None lets a portal on another site embed the viewer; browsers accept it only with Secure,
    # which they also accept from plain http to a loopback address (a potentially trustworthy origin:
    # Chromium keeps it and sends it to a frame under 127.0.0.2, tests/viewer/test_auth_client.py).
    response.set_cookie(ACCESS_COOKIE, value, max_age=signer.seconds_left(grant), path="/", httponly=True,
                        secure=True, samesite="None")
    return response
