"""``create_platform_app(settings)``: the Image API app with the presentation folder, the viewer and
the landing page on top. The one place where the three layers meet."""

from __future__ import annotations

from flask import Flask

from iiif_archive.landing import landing_blueprint
from iiif_archive.settings import PlatformSettings
from iiif_server import create_app
from manifests.build import ACCESS_RULES_PATH
from manifests.serve import presentation_blueprint
from viewer.blueprint import viewer_blueprint


def create_platform_app(settings: PlatformSettings | None = None, *, source: object | None = None) -> Flask:
    """The whole platform; ``source`` replaces the file-system source as in ``create_app``."""
    settings = settings or PlatformSettings()
    if settings.access_rules_file is None and settings.presentation_root is not None:
        # The build writes the documents' access rules beside the manifests; the image server reads them.
        built_rules = settings.presentation_root / ACCESS_RULES_PATH
        if built_rules.is_file():
            settings = settings.replace(access_rules_file=built_rules)
    app = create_app(settings, source=source)
    if settings.presentation_root is not None:
        app.register_blueprint(presentation_blueprint(settings.presentation_root), url_prefix="/iiif/presentation")
    app.register_blueprint(
        viewer_blueprint(settings.presentation_root, settings.content_root, settings.embed_frame_ancestors),
        url_prefix="/viewer",
    )
    app.register_blueprint(landing_blueprint(settings.image_root, settings.presentation_root, app.extensions["iiif"],
                                             settings.info_cache_ttl))
    return app
