"""Public image requests answered in front of Flask.

Most of what a deep-zoom audience asks for is info.json and tiles of images no rule restricts,
sent without credentials or validators: the answer follows from the path (and the Accept header)
alone. Flask's request context, routing, Response objects and hooks cost about as much Python time
as the data path of a stored tile does (README "Where a request's Python time goes"), so these requests are
answered here, by the functions the Image API blueprint calls (image_api.answer_image,
image_api.encode_info), with the headers Flask's hooks would add. Everything else goes on to Flask:
substitutes, base URIs, OPTIONS, query strings, requests with credentials or validators, Host names
that are not trusted, syntax errors, and restricted images (their info.json lists Auth services, and
their requests are audited).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from werkzeug.wrappers import Response

from iiif_server.access.base import AccessPolicy, is_restricted
from iiif_server.errors import IIIFError
from iiif_server.metrics import ServerMetrics, classify_endpoint
from iiif_server.pipeline import ImagePipeline
from iiif_server.request import ApiVersion, BaseUriRequest, ImageRequest, InfoRequest, parse_image_path
from iiif_server.settings import Settings
from iiif_server.web.image_api import answer_image, answer_public_info
from iiif_server.web.replay import REPLAYABLE_ENVIRON_KEY, StartResponse, WSGIApp, is_plain_image_api_request
from iiif_server.web.responses import CORS_HEADERS, base_url_of, error_response, unexpected_error_response
from iiif_server.web.security import BASELINE_HEADERS, is_trusted_host

_VERSIONS = {"/iiif/3/": ApiVersion.V3, "/iiif/2/": ApiVersion.V2}
_PREFIX_LENGTH = len("/iiif/3/")


class DirectImageAnswers:
    """WSGI middleware: answers public image requests itself and hands every other request to ``app``."""

    def __init__(self, app: WSGIApp, pipeline: ImagePipeline, metrics: ServerMetrics, settings: Settings,
                 trusted_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.pipeline = pipeline
        self.metrics = metrics
        self.base_url = settings.base_url
        self.cache_control = settings.cache_control
        self.trusted_hosts = trusted_hosts
        self.access: AccessPolicy = pipeline.access

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if not is_plain_image_api_request(environ):
            return self.app(environ, start_response)
        # The path as Flask routes it: WSGI carries it as latin-1, werkzeug decodes it as UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        request = self._public_image_request(path, environ.get("HTTP_HOST"))
        if request is None:
            return self.app(environ, start_response)
        return self._answer(request, environ["REQUEST_METHOD"], path, environ, start_response)

    def _public_image_request(self, path: str, host: str | None) -> ImageRequest | InfoRequest | None:
        """The image or info.json request ``path`` asks for when this module may answer it, else None."""
        version = _VERSIONS[path[:_PREFIX_LENGTH]]
        if len(path) == _PREFIX_LENGTH:
            return None
        if not self.base_url and host is not None and not is_trusted_host(host, self.trusted_hosts):
            return None  # Flask's check refuses it with its reason
        try:
            request = parse_image_path(path[_PREFIX_LENGTH:], version)
        except IIIFError:
            return None  # Flask answers it with the parser's reason
        if isinstance(request, BaseUriRequest) or is_restricted(self.access.rule_for(request.identifier)):
            return None
        return request

    def _answer(self, request: ImageRequest | InfoRequest, method: str, path: str, environ: dict,
                start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        base_url = base_url_of(self.base_url, environ)
        try:
            if isinstance(request, InfoRequest):
                master, data, headers = answer_public_info(self.pipeline, request, environ.get("HTTP_ACCEPT"),
                                                           base_url, self.cache_control)
            else:
                answer = answer_image(self.pipeline, request, None, environ, base_url, self.cache_control)
                # no validators were sent, so there is no 304
                master, data, headers = answer.prepared.master, answer.data or b"", answer.headers
        except IIIFError as error:
            return self._error(error_response(error, method, path), path, environ, start_response, started)
        except Exception:  # noqa: BLE001 - answered as Flask's handler answers it, with the traceback logged
            return self._error(unexpected_error_response(method, path), path, environ, start_response, started)
        environ[REPLAYABLE_ENVIRON_KEY] = master
        start_response("200 OK", [*headers.items(), ("Content-Length", str(len(data))), *CORS_HEADERS,
                                  *BASELINE_HEADERS])
        self.metrics.observe_response(classify_endpoint(path), 200, time.perf_counter() - started, len(data))
        return [b"" if method == "HEAD" else data]

    def _error(self, response: Response, path: str, environ: dict, start_response: StartResponse,
               started: float) -> Iterable[bytes]:
        response.headers.update(CORS_HEADERS)
        response.headers.update(BASELINE_HEADERS)
        self.metrics.observe_response(classify_endpoint(path), response.status_code,
                                      time.perf_counter() - started, response.calculate_content_length() or 0)
        return response(environ, start_response)
