"""The built Presentation folder as the viewer's server side reads it: manifests by URL or by document.

Reading the files directly (never over HTTP) lets a page name its canvases and image regions, for
``og:image`` previews and for exhibition steps that read without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.security import safe_join

from manifests.build import PRESENTATION_PREFIX, manifest_path
from manifests.search_index import INDEX_FILE


@dataclass(frozen=True)
class PublishedCanvas:
    """One canvas: its size and the Image API 3.0 service that paints it."""

    id: str
    width: int
    height: int
    service_id: str
    image_width: int
    image_height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def image_size(self) -> tuple[int, int]:
        return self.image_width, self.image_height


@dataclass(frozen=True)
class PublishedManifest:
    url: str
    label: dict[str, list[str]]
    required_statement: dict[str, list[str]] | None
    canvases: tuple[PublishedCanvas, ...]

    def canvas(self, canvas_id: str | None) -> PublishedCanvas:
        """The canvas with that id; the first one when none is named or the id is not here."""
        for canvas in self.canvases:
            if canvas.id == canvas_id:
                return canvas
        return self.canvases[0]


class PublishedFolder:
    """Read access to one built folder (``iiif-archive build --out``), served at /iiif/presentation/."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def manifest_by_url(self, url: str) -> PublishedManifest | None:
        """The published manifest whose id is ``url``; else None.

        A URL of another host with the same path is not this manifest: a page must never borrow a local
        document's title and image (og:title, og:image) for a manifest someone else serves.
        """
        path = urlsplit(url).path
        prefix = PRESENTATION_PREFIX + "/"
        if not path.startswith(prefix):
            return None
        found = self._read(path[len(prefix):])
        return found if found is not None and found.url == url else None

    def searchable(self) -> bool:
        """The build indexed some text (``manifests.search_index``)."""
        return (self.root / INDEX_FILE).is_file()

    def manifest_of_document(self, document_id: str) -> PublishedManifest | None:
        return self._read(manifest_path(document_id))

    def json(self, relative: str) -> dict | None:
        joined = safe_join(str(self.root), relative)
        if joined is None or not Path(joined).is_file():
            return None
        try:
            return json.loads(Path(joined).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _read(self, relative: str) -> PublishedManifest | None:
        document = self.json(relative)
        if not document or document.get("type") != "Manifest" or not document.get("items"):
            return None
        canvases = tuple(_canvas(canvas) for canvas in document["items"])
        return PublishedManifest(url=document["id"], label=document.get("label", {}),
                                 required_statement=(document.get("requiredStatement") or {}).get("value"),
                                 canvases=canvases)


def _canvas(canvas: dict) -> PublishedCanvas:
    body = canvas["items"][0]["items"][0]["body"]
    services = body.get("service", [])
    service = next((s for s in services if s.get("type") == "ImageService3"), services[0])
    return PublishedCanvas(
        id=canvas["id"], width=canvas["width"], height=canvas["height"],
        service_id=service.get("id", service.get("@id", "")).rstrip("/"),
        image_width=body.get("width", canvas["width"]), image_height=body.get("height", canvas["height"]),
    )
