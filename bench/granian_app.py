"""The platform as a granian WSGI target (``granian --interface wsgi --factory bench.granian_app:create``),
for the HTTP server comparison of ``python -m bench.http_server``: settings from the ``IIIF_*``
environment, and the same per-worker warm-up as under gunicorn."""

from __future__ import annotations

import gc

from flask import Flask

from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings
from iiif_server.settings import load_settings
from iiif_server.wsgi import warm_up_data_path


def create() -> Flask:
    settings = load_settings(settings_class=PlatformSettings)
    warm_up_data_path(settings)
    app = create_platform_app(settings)
    app.test_client().get("/health")
    gc.collect()
    gc.freeze()
    return app
