"""Replay of stored Image API responses, in front of the Flask app.

A deep-zoom audience asks for the same info.json and tiles again and again; Flask's request
context, routing and response objects then cost several times what the answer does. Responses a
view marks as replayable (anyone may be given them, and they follow from the request line, the
Host and Accept headers and the master alone) are kept whole; a repeat of the request is answered
from the store after one check that the master's fingerprint still matches, without entering
Flask. Requests with credentials or validators (Authorization, Cookie, If-None-Match, If-Modified-Since),
or a query string, always go to the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from iiif_server.access.base import AccessPolicy, is_restricted
from iiif_server.caches.base import ResponseCache
from iiif_server.caches.responses import StoredResponse
from iiif_server.errors import IIIFError
from iiif_server.metrics import IMAGE_API_PREFIXES, ServerMetrics, classify_endpoint
from iiif_server.sources.base import ImageSource, Master

# Set by a view on request.environ: the Master its response was made from, when that response may be replayed.
REPLAYABLE_ENVIRON_KEY = "iiif.replayable"
BYPASS_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")

StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


def is_plain_image_api_request(environ: dict) -> bool:
    """A GET or HEAD under /iiif/2/ or /iiif/3/ with no query string, credentials or validators: its
    answer follows from the request line, Host and Accept alone (replay here, web/direct.py)."""
    return (
        environ["REQUEST_METHOD"] in ("GET", "HEAD")
        and not environ.get("QUERY_STRING")
        and environ.get("PATH_INFO", "").startswith(IMAGE_API_PREFIXES)
        and not any(header in environ for header in BYPASS_HEADERS)
    )


def replay_key(environ: dict) -> str | None:
    """What a stored response is found by (scheme, host, path), or None when it must not be replayed."""
    if not is_plain_image_api_request(environ):
        return None
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{environ.get('SCRIPT_NAME', '')}{environ['PATH_INFO']}"


class ResponseReplay:
    def __init__(
        self, app: WSGIApp, cache: ResponseCache, source: ImageSource, metrics: ServerMetrics, access: AccessPolicy
    ) -> None:
        self.app = app
        self.cache = cache
        self.source = source
        self.metrics = metrics
        self.access = access

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        key = replay_key(environ)
        if key is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        stored = self.cache.get(key)
        if stored is not None and self._current(stored, environ):
            body = b"" if environ["REQUEST_METHOD"] == "HEAD" else stored.body
            start_response(stored.status, list(stored.headers))
            self.metrics.observe_replay(stored.endpoint, time.perf_counter() - started, len(body))
            return [body]
        return self._run_and_keep(key, environ, start_response)

    def _current(self, stored: StoredResponse, environ: dict) -> bool:
        if stored.negotiated_accept is not None and environ.get("HTTP_ACCEPT", "") != stored.negotiated_accept:
            return False
        if is_restricted(self.access.rule_for(stored.identifier)):
            return False  # restricted since it was kept (the rules file was rebuilt): the app decides
        try:
            return self.source.locate(stored.identifier).fingerprint == stored.fingerprint
        except (IIIFError, OSError):
            return False  # gone or unreadable: the app gives the proper answer

    def _run_and_keep(self, key: str, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        answer: list = []

        def keep_status(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            answer[:] = [status, headers]
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, keep_status)
        master: Master | None = environ.get(REPLAYABLE_ENVIRON_KEY)
        if master is None or environ["REQUEST_METHOD"] != "GET" or not answer or not answer[0].startswith("200 "):
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers = answer
        varies_on_accept = any(name.lower() == "vary" and "accept" in value.lower() for name, value in headers)
        self.cache.put(key, StoredResponse(
            status, tuple(headers), body, master.identifier, master.fingerprint,
            environ.get("HTTP_ACCEPT", "") if varies_on_accept else None, classify_endpoint(environ["PATH_INFO"]),
        ))
        return [body]
