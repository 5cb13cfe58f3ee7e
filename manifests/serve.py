"""The build's output as static JSON-LD: /iiif/presentation/ (manifests, collections, descriptions) and
/iiif/discovery/ (the Change Discovery stream)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, Response, redirect, request
from werkzeug.security import safe_join

from iiif_server.errors import NotFound
from manifests.build import description_path
from manifests.describe import MEDIA_TYPE as DESCRIPTION_MEDIA_TYPE
from manifests.discovery import FOLDER as STREAM_FOLDER
from manifests.discovery import MEDIA_TYPE as STREAM_MEDIA_TYPE

# Presentation 3.0 §6.1: the media type with the context as profile.
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
TOP_COLLECTION = "collection.json"
# Rebuilds change files in place of the old ones: clients may keep them but must revalidate (ETag).
CACHE_CONTROL = "public, no-cache"
DESCRIPTIONS_FOLDER = description_path("").split("/")[0]


def presentation_blueprint(root: Path) -> Blueprint:
    blueprint = Blueprint("presentation", __name__)
    # Flask would resolve a relative folder against the package, not the working directory.
    root = root.resolve()

    @blueprint.route("/", methods=["GET", "HEAD"])
    def top_collection() -> Response:
        return redirect(f"{request.script_root}{request.path}{TOP_COLLECTION}", code=302)

    @blueprint.route("/<path:name>", methods=["GET", "HEAD", "OPTIONS"])
    def resource(name: str) -> Response:
        if name.split("/")[0] == STREAM_FOLDER:  # served at /iiif/discovery/ only
            raise NotFound(f"no manifest or collection at /iiif/presentation/{name}")
        media_type = DESCRIPTION_MEDIA_TYPE if name.split("/")[0] == DESCRIPTIONS_FOLDER else PRESENTATION_MEDIA_TYPE
        return json_file(root, name, media_type, f"no manifest or collection at /iiif/presentation/{name}")

    return blueprint


def discovery_blueprint(root: Path) -> Blueprint:
    """The Change Discovery 1.0 stream the build writes to ``root/discovery``."""
    blueprint = Blueprint("discovery", __name__)
    folder = root.resolve() / STREAM_FOLDER

    @blueprint.route("/<name>", methods=["GET", "HEAD", "OPTIONS"])
    def page(name: str) -> Response:
        return json_file(folder, name, STREAM_MEDIA_TYPE, f"no activity page at /iiif/discovery/{name}")

    return blueprint


def json_file(root: Path, name: str, media_type: str, not_found: str) -> Response:
    """A JSON file below ``root`` with its ETag and Last-Modified, or NotFound (nothing outside ``root``)."""
    if request.method == "OPTIONS":
        return Response(status=204)
    hidden = any(part.startswith(".") for part in name.split("/"))
    joined = None if hidden or not name.endswith(".json") else safe_join(str(root), name)
    target = Path(joined) if joined else None
    # safe_join refuses "..", but a symbolic link inside the folder could still point out of it.
    try:
        if target is None or not target.is_file() or not target.resolve().is_relative_to(root.resolve()):
            raise NotFound(not_found)
        # These files are small: read whole, so no file handle outlives the request.
        data = target.read_bytes()
    except OSError:  # a name the file system refuses (too long), or a file that went away
        raise NotFound(not_found) from None
    response = Response(data, mimetype=media_type)
    response.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
    response.last_modified = datetime.fromtimestamp(target.stat().st_mtime, tz=timezone.utc)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)
