"""Operational endpoints: /health (the process answers), /health/ready (it can serve images) and
/metrics (Prometheus text format), plus the request timing behind the metrics."""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request

from iiif_server.metrics import EXTENSION_KEY, ServerMetrics, classify_endpoint
from iiif_server.settings import ObjectStoreRoot
from iiif_server.web.responses import one_line

NO_STORE = {"Cache-Control": "no-store"}


def register_operations(app: Flask, metrics: ServerMetrics) -> None:
    """Give ``app`` its metrics and the operational endpoints; every request is timed from here on."""
    app.extensions[EXTENSION_KEY] = metrics
    app.register_blueprint(operations_blueprint())


def operations_blueprint() -> Blueprint:
    blueprint = Blueprint("operations", __name__)

    @blueprint.before_app_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @blueprint.after_app_request
    def _record(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            current_app.extensions[EXTENSION_KEY].observe_response(
                classify_endpoint(request.path), response.status_code, time.perf_counter() - started,
                response.calculate_content_length() or 0,
            )
        return response

    @blueprint.get("/health")
    def health() -> Response:
        return Response("ok\n", mimetype="text/plain", headers=NO_STORE)

    @blueprint.get("/health/ready")
    def ready() -> Response:
        root = current_app.config["IIIF_SETTINGS"].image_root
        if isinstance(root, ObjectStoreRoot):
            problem = current_app.extensions["iiif"].source.problem()
        else:
            problem = _image_root_problem(root)
        if problem:
            return one_line(503, f"not ready: image root {root} {problem}")
        return Response("ready\n", mimetype="text/plain", headers=NO_STORE)

    @blueprint.get("/metrics")
    def metrics() -> Response:
        body, media_type = current_app.extensions[EXTENSION_KEY].exposition()
        return Response(body, content_type=media_type, headers=NO_STORE)

    return blueprint


def _image_root_problem(root: os.PathLike) -> str | None:
    """Why masters under ``root`` cannot be read, or None. Lists the folder: a hung or unmounted
    network share fails here rather than on the first image request."""
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "is not a folder"
    except PermissionError:
        return "is not readable"
    except OSError as error:
        return f"cannot be listed ({error.strerror})"
    return None
