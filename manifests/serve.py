"""/iiif/presentation/: what ``iiif-archive build`` writes, as static files: manifests, collections,
annotation pages and page texts as JSON-LD, curators' ALTO files as XML."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, Response, redirect, request
from werkzeug.security import safe_join

from iiif_server.errors import NotFound

# Presentation 3.0 §6.1: the media type with the context as profile.
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
TOP_COLLECTION = "collection.json"
# Rebuilds change files in place of the old ones: clients may keep them but must revalidate (ETag).
CACHE_CONTROL = "public, no-cache"
# A curator's XML is shown as data, never run: XML can carry XHTML script elements.
XML_SECURITY_POLICY = "default-src 'none'; sandbox"
MEDIA_TYPES = {".json": PRESENTATION_MEDIA_TYPE, ".xml": "application/xml"}


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
        suffix = name[name.rfind("."):] if "." in name else ""
        joined = None if hidden or suffix not in MEDIA_TYPES else safe_join(str(root), name)
        target = Path(joined) if joined else None
        # safe_join refuses "..", but a symbolic link inside the folder could still point out of it.
        try:
            if target is None or not target.is_file() or not target.resolve().is_relative_to(root.resolve()):
                raise NotFound(f"no manifest or collection at /iiif/presentation/{name}")
            # Manifests are small: read whole, so no file handle outlives the request.
            data = target.read_bytes()
        except OSError:  # a name the file system refuses (too long), or a file that went away
            raise NotFound(f"no manifest or collection at /iiif/presentation/{name}") from None
        response = Response(data, mimetype=MEDIA_TYPES[suffix])
        if suffix == ".xml":
            response.headers["Content-Security-Policy"] = XML_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
        response.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
        response.last_modified = datetime.fromtimestamp(target.stat().st_mtime, tz=timezone.utc)
        response.headers["Cache-Control"] = CACHE_CONTROL
        return response.make_conditional(request)

    return blueprint
