"""IIIF Image API server for archives. ``create_app(settings)`` wires every part; nothing happens at import."""

from __future__ import annotations

from flask import Flask

from iiif_server.settings import Settings


def create_app(settings: Settings | None = None, *, source: object | None = None,
               heavy_pool: object | None = None) -> Flask:
    """Build the Flask app. ``source`` replaces the one the image root names (tests use MemorySource);
    ``heavy_pool`` (pipeline.HeavyPool) is the server's render processes for heavy requests, which
    then do not render in this process (``iiif_server.wsgi`` passes it)."""
    import pyvips

    from iiif_server.auth.audit import JsonLinesAuditLog
    from iiif_server.auth.credentials import CredentialSigner
    from iiif_server.auth.external import portal_sessions
    from iiif_server.auth.oidc import register_oidc
    from iiif_server.auth.services import SUBSTITUTE_PREFIX
    from iiif_server.auth.throttle import LoginThrottle
    from iiif_server.auth.web import auth_blueprint
    from iiif_server.caches.responses import MemoryResponseCache
    from iiif_server.loaders import allow_only_master_loaders
    from iiif_server.metrics import ServerMetrics
    from iiif_server.pipeline import build_pipeline
    from iiif_server.request import ApiVersion
    from iiif_server.settings import load_settings
    from iiif_server.sources import open_source
    from iiif_server.web.direct import DirectImageAnswers
    from iiif_server.web.image_api import image_api_blueprint
    from iiif_server.web.ops import register_operations
    from iiif_server.web.replay import ResponseReplay
    from iiif_server.web.responses import register_response_conventions
    from iiif_server.web.clients import parse_networks
    from iiif_server.web.security import register_security

    settings = settings or load_settings()
    # OpenedLevels keeps opened masters keyed by fingerprint; libvips' own operation cache would
    # key them by file name only and could serve a master that changed on disk.
    pyvips.cache_set_max(0)
    allow_only_master_loaders()
    app = Flask(__name__)
    # An empty path segment is part of a (bad) identifier, not something to redirect away.
    app.url_map.merge_slashes = False
    app.config["IIIF_SETTINGS"] = settings
    app.extensions["iiif.trusted_proxies"] = parse_networks(settings.trusted_proxies, "trusted_proxies")
    source = source or open_source(settings)
    metrics = ServerMetrics()
    app.extensions["iiif"] = build_pipeline(settings, source, metrics, heavy_pool)
    if settings.audit_log is not None:
        app.extensions["iiif.audit"] = JsonLinesAuditLog(settings.audit_log)
    if settings.auth_secret:
        app.extensions["iiif.credentials"] = CredentialSigner(settings.auth_secret, settings.auth_session_seconds)
        app.extensions["iiif.portal_sessions"] = portal_sessions(settings)
        register_oidc(app, settings)
        app.extensions["iiif.kiosk_networks"] = parse_networks(settings.auth_kiosk_networks, "auth_kiosk_networks")
        app.extensions["iiif.login_throttle"] = LoginThrottle(settings.auth_login_failures,
                                                              settings.auth_login_window_seconds)
        app.register_blueprint(auth_blueprint(), url_prefix="/auth/2")
    app.register_blueprint(image_api_blueprint(ApiVersion.V3), url_prefix="/iiif/3")
    app.register_blueprint(image_api_blueprint(ApiVersion.V2), url_prefix="/iiif/2")
    app.register_blueprint(image_api_blueprint(ApiVersion.V3, substitute=True), url_prefix=SUBSTITUTE_PREFIX)
    register_operations(app, metrics)
    register_response_conventions(app)
    register_security(app)
    app.wsgi_app = DirectImageAnswers(  # type: ignore[method-assign] - Flask's documented way to add middleware
        app.wsgi_app, app.extensions["iiif"], metrics, settings, app.extensions["iiif.trusted_hosts"],
    )
    if settings.response_cache_bytes:
        app.wsgi_app = ResponseReplay(  # type: ignore[method-assign] - Flask's documented way to add middleware
            app.wsgi_app, MemoryResponseCache(settings.response_cache_bytes), source, metrics, app.extensions["iiif"].access,
        )
    return app
