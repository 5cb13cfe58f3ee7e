"""/iiif/presentation/: the manifests and collections written by ``iiif-archive build``, as static JSON-LD."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, redirect, request, send_from_directory
from werkzeug.security import safe_join

from iiif_server.errors import NotFound

# Presentation 3.0 §6.1: the media type with the context as profile.
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
TOP_COLLECTION = "collection.json"
# Rebuilds change files in place of the old ones: clients may keep them but must revalidate (ETag).
CACHE_CONTROL = "public, no-cache"


def presentation_blueprint(root: Path) -> Blueprint:
    blueprint = Blueprint("presentation", __name__)
    # Flask would resolve a relative folder against the package, not the working directory.
    root = root.resolve()

    @blueprint.route("/", methods=["GET", "HEAD"])
    def top_collection() -> Response:
        return redirect(f"{request.script_root}{request.path}{TOP_COLLECTION}", code=302)

    @blueprint.route("/<path:name>", methods=["GET", "HEAD", "OPTIONS"])
    def resource(name: str) -> Response:
        if request.method == "OPTIONS":
            return Response(status=204)
        hidden = any(part.startswith(".") for part in name.split("/"))
        path = None if hidden or not name.endswith(".json") else safe_join(str(root), name)
        if path is None or not Path(path).is_file():
            raise NotFound(f"no manifest or collection at /iiif/presentation/{name}")
        response = send_from_directory(root, name, mimetype=PRESENTATION_MEDIA_TYPE, conditional=True, etag=True)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response

    return blueprint
