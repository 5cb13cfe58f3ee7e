"""Response conventions shared by every endpoint: CORS, caching validators, Link headers, errors."""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import datetime, timezone

from flask import Flask, Request, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, is_resource_modified, quote_etag

from iiif_server.errors import IIIFError, MasterUnreadable, Unavailable

log = logging.getLogger("iiif_server")


# What every answer carries for browsers on other origins (IIIF viewers run anywhere).
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Link, ETag, Last-Modified, Content-Length, Retry-After"),
)


def public_base_url() -> str:
    """The configured public base (``base_url``), else the URL this request came to."""
    return base_url_of(current_app.config["IIIF_SETTINGS"].base_url, request.environ)


def base_url_of(configured: str, environ: dict) -> str:
    """``configured`` when set, else the URL root of the request ``environ`` describes."""
    if configured:
        return configured
    return _request_base_url(environ["wsgi.url_scheme"], environ.get("HTTP_HOST"), environ.get("SERVER_NAME", ""),
                             environ.get("SERVER_PORT", ""), environ.get("SCRIPT_NAME", ""))


@functools.lru_cache(maxsize=64)
def _request_base_url(scheme: str, host: str | None, server_name: str, server_port: str, script_name: str) -> str:
    """werkzeug's URL root for these parts, computed once: every image answer names its service by it,
    and building it (IRI conversion, host checks) cost about a tenth of a tile's time in Flask. The
    hosts are those trusted_hosts lets in (security.check_host), so the cache stays small."""
    environ = {"wsgi.url_scheme": scheme, "SERVER_NAME": server_name, "SERVER_PORT": server_port,
               "SCRIPT_NAME": script_name, "PATH_INFO": "/", "REQUEST_METHOD": "GET"}
    if host is not None:
        environ["HTTP_HOST"] = host
    return Request(environ).url_root.rstrip("/")


def strong_etag(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


def last_modified_of(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns // 1_000_000_000, tz=timezone.utc)


def not_modified(etag: str, last_modified: datetime, environ: dict) -> bool:
    """The request's If-None-Match / If-Modified-Since say the client's copy is current (RFC 9110
    §13.2.2 order). Takes the WSGI environ, not Flask's request, so any thread can ask."""
    if "HTTP_IF_NONE_MATCH" not in environ and "HTTP_IF_MODIFIED_SINCE" not in environ:
        return False  # no validator: nothing the client holds (the common case, answered without parsing)
    return not is_resource_modified(environ, etag=etag, last_modified=last_modified)


def cacheable(response: Response, etag: str, last_modified: datetime) -> Response:
    response.headers.update(validator_headers(etag, last_modified, current_app.config["IIIF_SETTINGS"].cache_control))
    return response


def validator_headers(etag: str, last_modified: datetime, cache_control: str) -> dict[str, str]:
    """What lets caches keep an answer and clients revalidate it."""
    return {"ETag": quote_etag(etag), "Last-Modified": http_date(last_modified), "Cache-Control": cache_control}


def restricted(response: Response) -> Response:
    """An answer an access rule limits: one reader's, kept by no cache, not even the browser's (a
    reading-room terminal's next reader must not find it), and never replayed (the view does not mark it)."""
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Cookie")
    return response


def not_modified_response(etag: str, last_modified: datetime, extra_headers: dict[str, str]) -> Response:
    response = Response(status=304, headers=extra_headers)
    return cacheable(response, etag, last_modified)


def add_cors(response: Response) -> Response:
    response.headers.update(CORS_HEADERS)
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, If-None-Match, If-Modified-Since, Range"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def one_line(status: int, reason: str) -> Response:
    return Response(reason + "\n", status=status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def register_response_conventions(app: Flask) -> None:
    app.after_request(add_cors)

    @app.errorhandler(IIIFError)
    def _iiif_error(error: IIIFError) -> Response:
        return error_response(error, request.method, request.path)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return one_line(error.code or 500, f"{error.code} {error.name}")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        return unexpected_error_response(request.method, request.path)


def error_response(error: IIIFError, method: str, path: str) -> Response:
    """The one-line answer to a request the data path refused or could not serve."""
    if isinstance(error, MasterUnreadable):
        log.error("%s %s: %s (%s)", method, path, error.reason, error.detail or "no detail")
    response = one_line(error.status, error.reason)
    if isinstance(error, Unavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def unexpected_error_response(method: str, path: str) -> Response:
    """The answer to a request that failed in a way no error class describes (logged with its traceback)."""
    log.exception("%s %s failed", method, path)
    return one_line(500, "internal error; the server log has the details")
