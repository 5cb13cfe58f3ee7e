"""What every response owes browsers and shared caches: only trusted Host names when ids are built
from the request, credentials kept out of shared caches, ``nosniff``, a ``Referrer-Policy``, and a
``Content-Security-Policy`` on every HTML page.
"""

from __future__ import annotations

import re

from flask import Flask, Response, current_app, request

from iiif_server.errors import BadRequest

# Always trusted: a server answers to its own loopback names.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# Hosts that name every interface: binding to one says nothing about the names clients will use.
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")
REFERRER_POLICY = "strict-origin-when-cross-origin"
# What every answer carries: no content sniffing, and no full URLs leaked to other sites.
BASELINE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", REFERRER_POLICY))
OPERATIONS_BLUEPRINT = "operations"  # /health, /health/ready, /metrics (iiif_server/web/ops.py)
# A Host header: a DNS name or IPv4 address, or a bracketed IPv6 address, then an optional port.
_HOST_HEADER = re.compile(r"(?P<name>[a-z0-9._-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
# A CSP source list holds space-separated sources; ';' or ',' would start another directive or policy.
_SOURCE_LIST = re.compile(r"[^\s;,]+(?: [^\s;,]+)*")


def host_name(header: str) -> str | None:
    """The host a ``Host`` header names, lowercased, without port or IPv6 brackets; None if malformed."""
    match = _HOST_HEADER.fullmatch(header.strip().lower())
    if match is None:
        return None
    name = match["name"]
    return name[1:-1] if name.startswith("[") else name.rstrip(".")


def parse_trusted_hosts(setting: str) -> tuple[str, ...]:
    """The ``trusted_hosts`` setting as names to match; an entry starting with '.' admits subdomains."""
    entries = (entry.strip().lower().strip("[]") for entry in setting.split(","))
    return tuple(entry for entry in entries if entry) + LOCAL_HOSTS


def with_bound_host(trusted_hosts: str, bound_host: str) -> str:
    """``trusted_hosts`` plus the address the server listens on, unless that is every interface."""
    if bound_host.lower() in WILDCARD_HOSTS:
        return trusted_hosts
    return ",".join(entry for entry in (trusted_hosts, bound_host) if entry)


def is_trusted_host(header: str, trusted: tuple[str, ...]) -> bool:
    name = host_name(header)
    if name is None:
        return False
    return any(name == entry or (entry.startswith(".") and name.endswith(entry)) for entry in trusted)


def private_cache_control(value: str) -> str:
    """``value`` with ``public`` replaced by ``private``: an answer to a credentialed request is one reader's."""
    directives = [part.strip() for part in value.split(",") if part.strip()]
    kept = [part for part in directives if part.lower() != "public"]
    if not any(part.lower() in ("private", "no-store") for part in kept):
        kept.insert(0, "private")
    return ", ".join(kept)


def content_security_policy(frame_ancestors: str = "'self'", inline_styles: bool = False,
                            style_hashes: tuple[str, ...] = (), frame_sources: str = "'self'") -> str:
    """The policy of an HTML page: scripts and styles from this server only, no inline script, no plugins.

    Manifests, info.json and tiles may come from any IIIF server, so images and fetches may go to any
    http(s) URL. ``inline_styles`` is for Mirador, whose Material UI injects ``<style>`` elements.
    ``style_hashes`` admit the ``<style>`` elements of exactly these contents (base64 SHA-256), for a
    library that writes a fixed rule. ``frame_ancestors`` lists the origins that may frame the page
    (a CSP source list); ``frame_sources`` those the page may frame (a IIIF viewer frames the Auth 2.0
    token service of whichever server holds the image).
    """
    if not _SOURCE_LIST.fullmatch(frame_ancestors):
        raise ValueError(f"frame ancestors {frame_ancestors!r} are not a space-separated list of CSP sources")
    style_sources = " ".join(("'self'", *(f"'sha256-{digest}'" for digest in style_hashes),
                              *(("'unsafe-inline'",) if inline_styles else ())))
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        f"style-src {style_sources}",
        "img-src 'self' https: http:",
        "connect-src 'self' https: http:",
        "font-src 'self'",
        f"frame-src {frame_sources}",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
        f"frame-ancestors {frame_ancestors}",
    ))


DEFAULT_PAGE_POLICY = content_security_policy()


def _carries_credentials() -> bool:
    return "Authorization" in request.headers or "Cookie" in request.headers


def check_host() -> None:
    """Ids are built from the Host header when no ``base_url`` is set: refuse names this server is not."""
    settings = current_app.config["IIIF_SETTINGS"]
    header = request.headers.get("Host")
    # Health probes and metric scrapers reach a worker by its address; their answers name no URL.
    if settings.base_url or header is None or request.blueprint == OPERATIONS_BLUEPRINT:
        return
    if not is_trusted_host(header, current_app.extensions["iiif.trusted_hosts"]):
        shown = header if len(header) <= 80 else header[:80] + "…"
        raise BadRequest(f"host {shown!r} is not one this server answers to (see trusted_hosts)")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.update(BASELINE_HEADERS)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = DEFAULT_PAGE_POLICY
    if _carries_credentials() and "Cache-Control" in headers:
        headers["Cache-Control"] = private_cache_control(headers["Cache-Control"])
    return response


def register_security(app: Flask) -> None:
    app.extensions["iiif.trusted_hosts"] = parse_trusted_hosts(app.config["IIIF_SETTINGS"].trusted_hosts)
    app.before_request(check_host)
    app.after_request(add_security_headers)
