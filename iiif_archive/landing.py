"""The landing page at ``/``: every master under the image root with its size, its info.json in both
API versions and a thumbnail, then the built manifests and collections with links into the viewer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, render_template, request

from iiif_server.access.base import AccessDecision, AccessRequest
from iiif_server.errors import IIIFError, NotFound
from iiif_server.identifiers import MASTER_SUFFIXES, identifier_for_path
from iiif_server.pipeline import ImagePipeline
from iiif_server.settings import ObjectStoreRoot
from manifests.build import PRESENTATION_PREFIX, thumbnail_size
from manifests.images import ImageSize

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


def find_master_identifiers(root: Path) -> list[str]:
    """Identifiers of the masters below ``root``, sorted; hidden files and folders are not served."""
    identifiers = set()
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in MASTER_SUFFIXES:
                identifiers.add(identifier_for_path(root, Path(folder) / name))
    return sorted(identifiers)


def describe_master(pipeline: ImagePipeline, identifier: str) -> ListedImage | None:
    """What the pipeline knows about one master; None for a file the server would not serve at all."""
    restricted = pipeline.access.decide(AccessRequest(identifier)) is AccessDecision.DENY
    try:
        _, info = pipeline.image_info(identifier)
    except NotFound:
        return None
    except IIIFError as error:
        return ListedImage(identifier, restricted=restricted, problem=error.reason)
    return ListedImage(identifier, info.width, info.height, info.kind.value, restricted)


def find_published_documents(presentation_root: Path) -> list[ListedDocument]:
    """Every manifest and collection (``*.json`` with a Presentation ``type``) below the built folder."""
    documents = []
    for path in sorted(presentation_root.rglob("*.json")):
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


def landing_blueprint(presentation_root: Path | None) -> Blueprint:
    blueprint = Blueprint("landing", __name__, template_folder="templates")

    @blueprint.get("/")
    def landing() -> str:
        settings = current_app.config["IIIF_SETTINGS"]
        pipeline: ImagePipeline = current_app.extensions["iiif"]
        if isinstance(settings.image_root, ObjectStoreRoot):
            identifiers = pipeline.source.identifiers()
        else:
            identifiers = find_master_identifiers(settings.image_root)
        # Each listed master costs a header read when its info is not cached: list a page's worth.
        images = [
            listed
            for identifier in identifiers[:LANDING_MAX_IMAGES]
            if (listed := describe_master(pipeline, identifier)) is not None
        ]
        documents = find_published_documents(presentation_root) if presentation_root else []
        base_url = settings.base_url or request.url_root.rstrip("/")
        return render_template(
            "landing.html",
            images=images,
            unlisted=max(0, len(identifiers) - LANDING_MAX_IMAGES),
            documents=documents,
            base_url=base_url,
            viewer_link=lambda document: "/viewer/embed?" + urlencode({"manifest": base_url + document.url_path}),
        )

    return blueprint
