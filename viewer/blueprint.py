"""The viewer under /viewer/: embed page, Mirador page, exhibition pages and the npm front-end files.

Every page also works as a static file (``iiif-archive viewer-export``): the browser reads its
parameters itself, and the server only adds what needs it (``og:image``, steps that read without
JavaScript). Page rendering lives in ``viewer.pages`` so the export and the server share it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_from_directory

from iiif_server.errors import BadRequest, IIIFError, NotFound
from iiif_server.settings import SettingsError
from iiif_server.web.responses import public_base_url
from iiif_server.web.security import content_security_policy
from manifests.load import ContentError, Problem
from manifests.search_query import QueryError
from viewer import pages
from viewer.deeplink import DeepLinkError
from viewer.pages import VENDOR_FILES, PageLinks, PageNotFound
from viewer.search import ArchiveSearch, ResultsPageBeyond, results_json, results_url, search_archive

log = logging.getLogger(__name__)

# OpenSeadragon 6 writes one fixed rule into a <style> element of the page (it hides the focus ring
# on touch screens); its hash admits exactly that element. A new OpenSeadragon that changes the rule
# fails the policy test in tests/viewer/test_content_security_policy.py.
OPENSEADRAGON_MOBILE_CSS = (
    "@media (hover: none) {    .openseadragon-canvas:focus {        outline: none !important;    }}"
)
OPENSEADRAGON_STYLE_HASHES = (base64.b64encode(hashlib.sha256(OPENSEADRAGON_MOBILE_CSS.encode()).digest()).decode(),)

SEARCH_PATH = "/viewer/search"
SEARCH_API_PATH = "/viewer/search.json"
# The viewer runs the IIIF Auth 2.0 flow with any image server: it frames that server's token service.
VIEWER_FRAME_SOURCES = "'self' https: http:"

SERVER_LINKS = PageLinks(
    static="/viewer/static",
    vendor="/viewer/vendor",
    embed="/viewer/embed",
    mirador="/viewer/mirador",
    guide_pattern="/viewer/{lang}",
    exhibitions_pattern="/viewer/exhibitions/{lang}",
    exhibition_pattern="/viewer/exhibitions/{id}{lang}",
    english_marker="?lang=en",
)


def viewer_blueprint(presentation_root: Path | None, content_root: Path | None,
                     embed_frame_ancestors: str) -> Blueprint:
    """``embed_frame_ancestors``: the CSP source list of origins that may frame the embed page."""
    blueprint = Blueprint("viewer", __name__, static_folder="static", static_url_path="/static")
    site = pages.Site(presentation_root, content_root)
    try:
        embed_policy = content_security_policy(frame_ancestors=embed_frame_ancestors,
                                               style_hashes=OPENSEADRAGON_STYLE_HASHES,
                                               frame_sources=VIEWER_FRAME_SOURCES)
    except ValueError as error:
        raise SettingsError(f"embed_frame_ancestors: {error}") from None
    # Mirador's Material UI writes its styles into <style> elements.
    mirador_policy = content_security_policy(inline_styles=True)
    viewer_policy = content_security_policy(style_hashes=OPENSEADRAGON_STYLE_HASHES, frame_sources=VIEWER_FRAME_SOURCES)

    def language() -> str:
        return pages.normalise_language(request.args.get("lang"))

    def html(text: str, policy: str | None = None) -> Response:
        """A page; without ``policy`` it gets the default Content-Security-Policy of every HTML answer."""
        response = Response(text, mimetype="text/html")
        if policy:
            response.headers["Content-Security-Policy"] = policy
        return response

    @blueprint.get("/")
    def embedding_guide() -> Response:
        public_url = public_base_url()
        return html(pages.render_guide(site, SERVER_LINKS, language(), public_url), viewer_policy)

    @blueprint.get("/embed")
    def embed() -> Response:
        try:
            view = pages.requested_view(request.args)
        except DeepLinkError as error:
            raise BadRequest(str(error)) from None
        return html(pages.render_embed(site, SERVER_LINKS, language(), view, request.url), embed_policy)

    @blueprint.get("/mirador")
    def mirador() -> Response:
        return html(pages.render_mirador(SERVER_LINKS, language()), mirador_policy)

    @blueprint.get("/exhibitions/")
    def exhibition_index() -> Response:
        try:
            return html(pages.render_exhibition_index(site, SERVER_LINKS, language()))
        except ContentError as error:
            raise _content_problem(error, content_root) from None

    @blueprint.get("/exhibitions/<exhibition_id>")
    def exhibition(exhibition_id: str) -> Response:
        try:
            return html(pages.render_exhibition(site, SERVER_LINKS, language(), exhibition_id), viewer_policy)
        except PageNotFound as error:
            raise NotFound(str(error)) from None
        except ContentError as error:
            raise _content_problem(error, content_root) from None

    def searched() -> ArchiveSearch | None:
        """The search the request asks for; None when no document has text (or nothing is published)."""
        if site.published is None:
            return None
        results_page = request.args.get("page", "1")
        if not results_page.isdigit() or int(results_page) < 1:
            raise BadRequest(f"page must be a whole number from 1, not {results_page[:40]!r}")
        try:
            return search_archive(site.published, request.args.get("q", ""), int(results_page), SERVER_LINKS.embed)
        except ResultsPageBeyond as error:
            raise NotFound(str(error)) from None

    @blueprint.get("/search")
    def search_page() -> Response:
        """Search across every published document, a plain GET form (README "Search")."""
        q = request.args.get("q", "")
        search, error = None, None
        if q:
            try:
                search = searched()
            except QueryError as bad:
                error = str(bad)
        available = site.published is not None and site.published.searchable()
        text = pages.render_search(SERVER_LINKS, language(), SEARCH_PATH, q, search, error, available,
                                   lambda page, lang: results_url(SEARCH_PATH, q, page, lang))
        response = html(text)
        response.status_code = 400 if error else 200
        return response

    @blueprint.get("/search.json")
    def search_api() -> Response:
        """The search page's results as JSON (README "Search")."""
        try:
            search = searched()
        except QueryError as error:
            raise BadRequest(str(error)) from None
        if search is None:
            raise NotFound("no document has text to search")
        return jsonify(results_json(search, SEARCH_API_PATH))

    @blueprint.get("/vendor/<package>/<path:name>")
    def vendor(package: str, name: str) -> Response:
        if package not in VENDOR_FILES:
            abort(404)
        folder = pages.NODE_MODULES / VENDOR_FILES[package]
        if not folder.is_dir():
            raise NotFound(f"{package} is not installed: run npm ci in viewer/ (bash scripts/test.sh does)")
        return send_from_directory(folder, name, max_age=current_app.get_send_file_max_age(name))

    return blueprint


def _content_problem(error: ContentError, content_root: Path | None) -> IIIFError:
    """Curators' files that no longer load: the first problem, with file and line, and how many more.
    The file is named inside the content folder: where the server keeps it is for the log only."""
    log.error("the content folder has problems:\n%s", error)
    more = len(error.problems) - 1
    first = _within_content(error.problems[0], content_root)
    return IIIFError(f"the content folder has problems: {first}" + (f" (and {more} more)" if more else ""))


def _within_content(problem: Problem, content_root: Path | None) -> str:
    file = problem.origin.file
    shown = file.relative_to(content_root) if content_root and file.is_relative_to(content_root) else Path(file.name)
    where = f"{shown.as_posix()}:{problem.origin.line}"
    return f"{where}: {problem.field}: {problem.message}" if problem.field else f"{where}: {problem.message}"
