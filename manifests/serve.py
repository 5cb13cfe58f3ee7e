"""What ``iiif-archive build`` writes, as static files: /iiif/presentation/ (manifests, collections,
descriptions, annotation pages and page texts as JSON-LD, curators' ALTO files as XML) and
/iiif/discovery/ (the Change Discovery stream)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

import cachetools
from flask import Blueprint, Response, redirect, request
from werkzeug.security import safe_join

from iiif_server.errors import BadRequest, NotFound
from iiif_server.web.responses import public_base_url
from manifests.build import description_path, manifest_path
from manifests.content_search import (
    SEARCH_CONTEXT,
    UNSUPPORTED_PARAMETERS,
    PageBeyondResults,
    SearchedManifest,
    SearchRequest,
    annotation_page,
    term_page,
)
from manifests.describe import MEDIA_TYPE as DESCRIPTION_MEDIA_TYPE
from manifests.discovery import FOLDER as STREAM_FOLDER
from manifests.discovery import MEDIA_TYPE as STREAM_MEDIA_TYPE
from manifests.search_index import INDEX_FILE, SearchIndex
from manifests.search_query import QueryError, parse_query

# Presentation 3.0 §6.1: the media type with the context as profile.
PRESENTATION_MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
TOP_COLLECTION = "collection.json"
# Rebuilds change files in place of the old ones: clients may keep them but must revalidate (ETag).
CACHE_CONTROL = "public, no-cache"
DESCRIPTIONS_FOLDER = description_path("").split("/")[0]
# A curator's XML is shown as data, never run: XML can carry XHTML script elements.
XML_SECURITY_POLICY = "default-src 'none'; sandbox"
MEDIA_TYPES = {".json": PRESENTATION_MEDIA_TYPE, ".xml": "application/xml"}
SEARCH_MEDIA_TYPE = f'application/ld+json;profile="{SEARCH_CONTEXT}"'
# Document ids as curators may write them (manifests/schemas/common.schema.json).
DOCUMENT_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


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
        suffix = name[name.rfind("."):] if "." in name else ""
        if name.split("/")[0] == DESCRIPTIONS_FOLDER:
            media_type = DESCRIPTION_MEDIA_TYPE if suffix == ".json" else None
        else:
            media_type = MEDIA_TYPES.get(suffix)
        return static_file(root, name, media_type, f"no manifest or collection at /iiif/presentation/{name}")

    # The index is opened per request: a build swaps the folder, and the next search reads the new one.
    index = SearchIndex(root / INDEX_FILE)
    searchable = SearchableManifests(root)

    @blueprint.route("/search/<document_id>", methods=["GET", "HEAD", "OPTIONS"])
    def search(document_id: str) -> Response:
        """IIIF Content Search 2.0 within one document (README "Search")."""
        if request.method == "OPTIONS":
            return Response(status=204)
        manifest = searchable.get(document_id)
        try:
            query = parse_query(request.args.get("q", ""))
        except QueryError as error:
            raise BadRequest(str(error)) from None
        page = _positive_integer("page", 1)
        search_request = SearchRequest(
            service_url=f"{public_base_url()}/iiif/presentation/search/{document_id}", q=request.args["q"],
            motivation=request.args.get("motivation"), ignored=_ignored_parameters())
        try:
            answer = annotation_page(search_request, manifest, index.search_document(document_id, query), page)
        except PageBeyondResults as error:
            raise NotFound(str(error)) from None
        return _json(answer)

    @blueprint.route("/autocomplete/<document_id>", methods=["GET", "HEAD", "OPTIONS"])
    def autocomplete(document_id: str) -> Response:
        """Content Search 2.0 §5: words of the document that begin with ``q``."""
        if request.method == "OPTIONS":
            return Response(status=204)
        searchable.get(document_id)
        typed = request.args.get("q", "")
        if not typed.strip():
            raise BadRequest("q is empty: give the first letters of a word")
        suggestions = index.suggest(document_id, typed, minimum=_positive_integer("min", 1))
        url = f"{public_base_url()}/iiif/presentation/autocomplete/{document_id}?{request.query_string.decode()}"
        return _json(term_page(url, suggestions, _ignored_parameters()))

    return blueprint


def discovery_blueprint(root: Path) -> Blueprint:
    """The Change Discovery 1.0 stream the build writes to ``root/discovery``."""
    blueprint = Blueprint("discovery", __name__)
    folder = root.resolve() / STREAM_FOLDER

    @blueprint.route("/<name>", methods=["GET", "HEAD", "OPTIONS"])
    def page(name: str) -> Response:
        media_type = STREAM_MEDIA_TYPE if name.endswith(".json") else None
        return static_file(folder, name, media_type, f"no activity page at /iiif/discovery/{name}")

    return blueprint


def static_file(root: Path, name: str, media_type: str | None, not_found: str) -> Response:
    """A file below ``root`` served as ``media_type`` (None: not one that is served) with its ETag and
    Last-Modified, or NotFound (nothing outside ``root``, no hidden file)."""
    if request.method == "OPTIONS":
        return Response(status=204)
    hidden = any(part.startswith(".") for part in name.split("/"))
    joined = None if hidden or media_type is None else safe_join(str(root), name)
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
    if media_type == MEDIA_TYPES[".xml"]:
        response.headers["Content-Security-Policy"] = XML_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(hashlib.blake2b(data, digest_size=12).hexdigest())
    response.last_modified = datetime.fromtimestamp(target.stat().st_mtime, tz=timezone.utc)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response.make_conditional(request)


class SearchableManifests:
    """The published manifests of documents with text, as a search answer needs them: parsed once
    per version of the file (its size and modification time, one stat a query), not per query.
    Thread-safe."""

    def __init__(self, root: Path, kept: int = 256) -> None:
        self.root = root
        self._parsed: cachetools.LRUCache[str, tuple[tuple[int, int], SearchedManifest | None]] = \
            cachetools.LRUCache(kept)
        self._lock = threading.Lock()

    def get(self, document_id: str) -> SearchedManifest:
        """NotFound for an id with no published manifest, or one without text."""
        manifest_file = self.root / manifest_path(document_id)
        try:
            if not DOCUMENT_ID.match(document_id):
                raise FileNotFoundError
            status = manifest_file.stat()
            version = (status.st_mtime_ns, status.st_size)
            with self._lock:
                kept = self._parsed.get(document_id)
            if kept is not None and kept[0] == version:
                searched = kept[1]
            else:
                searched = _searched(json.loads(manifest_file.read_text(encoding="utf-8")))
                with self._lock:
                    self._parsed[document_id] = (version, searched)
        except (OSError, ValueError):
            raise NotFound(f"no document {document_id!r} is published") from None
        if searched is None:
            raise NotFound(f"document {document_id!r} has no text to search")
        return searched


def _searched(manifest: dict) -> SearchedManifest | None:
    if not any(service.get("type") == "SearchService2" for service in manifest.get("service", [])):
        return None
    return SearchedManifest(id=manifest["id"], label=manifest.get("label", {}),
                            canvas_ids=tuple(canvas["id"] for canvas in manifest["items"]))


def _positive_integer(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise BadRequest(f"{name} must be a whole number from 1, not {value[:40]!r}")
    return int(value)


def _ignored_parameters() -> tuple[str, ...]:
    return tuple(name for name in UNSUPPORTED_PARAMETERS if name in request.args)


def _json(answer: dict) -> Response:
    response = Response(json.dumps(answer, ensure_ascii=False), mimetype=SEARCH_MEDIA_TYPE)
    # A rebuild changes the answers: clients may keep one, but must ask again.
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
