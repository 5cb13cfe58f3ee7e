"""The landing page at ``/``: every master under the image root with its size, its info.json in both
API versions and a thumbnail, then the built manifests and collections with links into the viewer.

What the page lists is computed once and kept until a folder below the image root or the built
folder, or a listed master, changes (``manifests.watch``): a request then costs at most one ``stat``
per folder and listed master, at most every RECHECK_SECONDS, never a walk, a manifest parse or a
header read. A bucket's masters are shown a page at a time (``/?after=KEY`` follows), each page listed
again once it is ``info_cache_ttl`` seconds old: no request lists a bucket whole.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import cachetools.func
from flask import Blueprint, render_template, request

from iiif_server.errors import BadRequest
from iiif_server.identifiers import MASTER_SUFFIXES, identifier_for_path
from iiif_server.pipeline import ImagePipeline
from iiif_server.settings import ImageRoot, ObjectStoreRoot
from iiif_server.web.responses import public_base_url
from manifests.build import PRESENTATION_PREFIX, thumbnail_size
from manifests.images import ImageSize
from manifests.watch import Watch, Watched, list_files

THUMBNAIL_BOX = 200


@dataclass(frozen=True)
class ListedImage:
    """One master as the page shows it; ``problem`` is set instead of a size when it cannot be read."""

    identifier: str
    width: int | None = None
    height: int | None = None
    kind: str | None = None
    restricted: bool = False
    problem: str | None = None

    @property
    def escaped(self) -> str:
        """The identifier as one URL path segment (``maps%2Fhanoi-1873``)."""
        return quote(self.identifier, safe="")

    @property
    def thumbnail_size(self) -> tuple[int, int] | None:
        """A ``w,h`` that never asks the server to upscale (it would refuse a small master)."""
        if self.width is None or self.height is None:
            return None
        return thumbnail_size(ImageSize(self.width, self.height), THUMBNAIL_BOX)


@dataclass(frozen=True)
class ListedDocument:
    """A built manifest or collection below the presentation root."""

    path: str
    type: str
    label: str

    @property
    def url_path(self) -> str:
        return f"{PRESENTATION_PREFIX}/{quote(self.path)}"


def find_masters(root: Path, watch: Watch) -> dict[str, list[Path]]:
    """The master files below ``root`` by identifier, sorted by identifier (a stem with two suffixes is
    one identifier: the resolver picks the file); hidden files and folders are not served."""
    masters: dict[str, list[Path]] = {}
    for path in list_files(root, MASTER_SUFFIXES, watch):
        masters.setdefault(identifier_for_path(root, path), []).append(path)
    return dict(sorted(masters.items()))


def describe_master(pipeline: ImagePipeline, identifier: str) -> ListedImage | None:
    """What the pipeline knows about one master; None for a file the server would not serve at all."""
    described = pipeline.describe(identifier)
    if described is None:
        return None
    kind = described.kind.value if described.kind is not None else None
    return ListedImage(identifier, described.width, described.height, kind, described.restricted, described.problem)


def find_published_documents(presentation_root: Path, watch: Watch) -> list[ListedDocument]:
    """Every manifest and collection (``*.json`` with a Presentation ``type``) below the built folder.

    Only its folders are watched, not each file: ``iiif-archive build`` replaces the whole folder.
    """
    documents = []
    for path in list_files(presentation_root, (".json",), watch):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(document, dict) or document.get("type") not in ("Manifest", "Collection"):
            continue
        documents.append(ListedDocument(path.relative_to(presentation_root).as_posix(), document["type"],
                                        _label_text(document.get("label"))))
    return documents


def _label_text(label: object) -> str:
    """Vietnamese and English labels side by side, as the rest of the page is written."""
    if not isinstance(label, dict):
        return ""
    parts = []
    for language in ("vi", "en", *sorted(set(label) - {"vi", "en"})):
        values = label.get(language)
        if isinstance(values, list) and values and " · ".join(map(str, values)) not in parts:
            parts.append(" · ".join(map(str, values)))
    return " / ".join(parts)


LANDING_MAX_IMAGES = 500


@dataclass(frozen=True)
class Listing:
    """What the page shows, apart from its URLs: the first masters, how many more (a folder) or
    where the next page starts (a bucket), the built documents."""

    images: tuple[ListedImage, ...]
    unlisted: int
    documents: tuple[ListedDocument, ...]
    next_page_after: str | None = None


def list_archive(image_root: ImageRoot, presentation_root: Path | None, pipeline: ImagePipeline,
                 watch: Watch, after: str = "") -> Listing:
    """A folder's masters are listed whole (watched: a request costs a few stats); a bucket's a
    page at a time, from the key ``after``: listing a bucket costs a LIST per 1000 keys."""
    next_page_after = None
    if isinstance(image_root, ObjectStoreRoot):
        identifiers, next_page_after = pipeline.source.identifiers_page(after, LANDING_MAX_IMAGES)
        masters: dict[str, list[Path]] = {identifier: [] for identifier in identifiers}
    else:
        masters = find_masters(image_root, watch)
    listed = list(masters)[:LANDING_MAX_IMAGES]
    images = []
    # Each listed master costs a header read when its info is not cached: list a page's worth.
    for identifier in listed:
        for path in masters[identifier]:
            watch(path)  # a master rewritten in place changes its size, not its folder
        if (image := describe_master(pipeline, identifier)) is not None:
            images.append(image)
    documents = find_published_documents(presentation_root, watch) if presentation_root else []
    return Listing(tuple(images), len(masters) - len(listed), tuple(documents), next_page_after)


# The listing watches a stat per folder and listed master (600 for 10,000 masters in 100 folders):
# checked at most this often, a busy page costs no system call per request.
RECHECK_SECONDS = 2.0
# Without a configured base_url the Host header picks it: keep the page for a few, not for any.
RENDERED_BASE_URLS = 4
# Pages of a bucket's listing kept (each for info_cache_ttl): the first few are the ones visited.
BUCKET_PAGES_KEPT = 16
# S3 keys are at most 1024 bytes of UTF-8.
MAX_KEY_LENGTH = 1024


class LandingPage:
    """A listing and its HTML, rendered once per public base URL (500 cards take longer to render
    than everything else a request does)."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.html = functools.lru_cache(maxsize=RENDERED_BASE_URLS)(self._render)

    def _render(self, base_url: str) -> str:
        return render_template(
            "landing.html",
            images=self.listing.images,
            unlisted=self.listing.unlisted,
            next_page=("/?" + urlencode({"after": self.listing.next_page_after})
                       if self.listing.next_page_after is not None else None),
            documents=self.listing.documents,
            base_url=base_url,
            viewer_link=lambda document: "/viewer/embed?" + urlencode({"manifest": base_url + document.url_path}),
        )


def landing_blueprint(image_root: ImageRoot, presentation_root: Path | None, pipeline: ImagePipeline,
                      bucket_listing_ttl: float) -> Blueprint:
    """The page at ``/``; a bucket's listing is kept for ``bucket_listing_ttl`` seconds."""
    # Its stylesheet is a file: the pages' Content-Security-Policy allows no inline style.
    blueprint = Blueprint("landing", __name__, template_folder="templates", static_folder="static",
                          static_url_path="/landing/static")
    if isinstance(image_root, ObjectStoreRoot):
        # No stat tells that a bucket changed: a page is listed again once it is older than the time
        # a master replaced in the bucket takes to show anyway (info_cache_ttl).
        bucket_page = cachetools.func.ttl_cache(maxsize=BUCKET_PAGES_KEPT, ttl=bucket_listing_ttl)(
            lambda after: LandingPage(list_archive(image_root, presentation_root, pipeline, lambda path: None, after)))

        def page() -> LandingPage:
            after = request.args.get("after", "")
            if len(after) > MAX_KEY_LENGTH:
                raise BadRequest(f"after: a key of more than {MAX_KEY_LENGTH} characters")
            return bucket_page(after)
    else:
        page = Watched(lambda watch: LandingPage(list_archive(image_root, presentation_root, pipeline, watch)),
                       recheck_after=RECHECK_SECONDS).get

    @blueprint.get("/")
    def landing() -> str:
        return page().html(public_base_url())

    return blueprint
