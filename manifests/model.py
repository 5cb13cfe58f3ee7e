"""What curators describe, as frozen values: documents, exhibitions and the top collection.

Loaded from ``content/`` by ``manifests.load``; turned into IIIF by ``manifests.build``; the viewer's
exhibition pages read ``Exhibition`` directly. Page numbers are 0-based indexes here; curators write
1-based page numbers and the loader converts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from iiif_server.access.base import AccessLevel

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Origin:
    """Where a value was written: file and 1-based line, so later checks can point curators at it."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Text:
    """The same text in Vietnamese and English (both required, NFC-normalised)."""

    vi: str
    en: str

    def language_map(self) -> dict[str, list[str]]:
        return {"vi": [self.vi], "en": [self.en]}


@dataclass(frozen=True)
class MetadataEntry:
    label: Text
    value: Text


@dataclass(frozen=True)
class Provider:
    """The agency that holds the documents (IIIF ``provider``)."""

    id: str  # a URI naming the agency, usually its homepage
    label: Text
    homepage: str
    logo: str | None = None


class Behavior(enum.Enum):
    PAGED = "paged"
    INDIVIDUALS = "individuals"
    CONTINUOUS = "continuous"
    UNORDERED = "unordered"


class ViewingDirection(enum.Enum):
    LEFT_TO_RIGHT = "left-to-right"
    RIGHT_TO_LEFT = "right-to-left"
    TOP_TO_BOTTOM = "top-to-bottom"
    BOTTOM_TO_TOP = "bottom-to-top"


@dataclass(frozen=True)
class Page:
    """One page of a document: the identifier of its master under the image root."""

    image: str
    label: Text | None
    origin: Origin = field(compare=False)


@dataclass(frozen=True)
class DocumentAccess:
    """Who may see a document's pages (its ``access:``): the level, and the groups of readers it admits
    (none: every signed-in reader for ``restricted``, the reading-room group for ``reading-room``)."""

    level: AccessLevel
    groups: tuple[str, ...] = ()
    origin: Origin = field(default=Origin(Path(), 1), compare=False)


@dataclass(frozen=True)
class Section:
    """An entry of a document's table of contents (an IIIF Range): its pages, then its sub-sections."""

    label: Text
    page_indexes: tuple[int, ...]
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Document:
    """One archival document: becomes one IIIF Manifest."""

    id: str
    label: Text
    summary: Text
    metadata: tuple[MetadataEntry, ...]
    rights: str
    attribution: Text
    provider: Provider
    pages: tuple[Page, ...]
    contents: tuple[Section, ...] = ()
    nav_date: str | None = None  # ISO 8601 date-time, e.g. 1945-09-02T00:00:00Z
    behavior: tuple[Behavior, ...] = ()
    viewing_direction: ViewingDirection = ViewingDirection.LEFT_TO_RIGHT
    start_page: int | None = None
    homepage: str | None = None
    # None: the document states no access, and its pages are as the server's own rules make them.
    access: DocumentAccess | None = None
    source: Path = field(default=Path(), compare=False)


@dataclass(frozen=True)
class Region:
    """A rectangle in full-resolution pixels of a page."""

    x: int
    y: int
    width: int
    height: int

    @property
    def xywh(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


@dataclass(frozen=True)
class ExhibitionItem:
    """One stop of an exhibition: a document, the page to show and optionally a region of it."""

    document_id: str
    page_index: int
    region: Region | None
    caption: Text
    narrative: Text | None
    origin: Origin = field(compare=False)


@dataclass(frozen=True)
class CoverImage:
    image: str
    origin: Origin = field(compare=False)


@dataclass(frozen=True)
class Exhibition:
    """An exhibition: becomes one IIIF Collection of its documents' manifests."""

    id: str
    title: Text
    introduction: Text
    cover: CoverImage
    items: tuple[ExhibitionItem, ...]
    nav_date: str | None = None
    source: Path = field(default=Path(), compare=False)

    @property
    def document_ids(self) -> tuple[str, ...]:
        """The documents shown, in the order they first appear, each once."""
        return tuple(dict.fromkeys(item.document_id for item in self.items))


@dataclass(frozen=True)
class ThematicSection:
    """A thematic grouping of documents on the portal: becomes one IIIF Collection."""

    id: str
    label: Text
    summary: Text
    document_ids: tuple[str, ...]


@dataclass(frozen=True)
class TopCollection:
    """The entry point: every exhibition, then every thematic section."""

    label: Text
    summary: Text
    exhibition_ids: tuple[str, ...]
    sections: tuple[ThematicSection, ...]


@dataclass(frozen=True)
class Content:
    """Everything under one ``content/`` folder, cross-checked (every reference resolves)."""

    documents: tuple[Document, ...]
    exhibitions: tuple[Exhibition, ...]
    top: TopCollection

    def document(self, document_id: str) -> Document:
        for document in self.documents:
            if document.id == document_id:
                return document
        raise KeyError(document_id)

    def exhibition(self, exhibition_id: str) -> Exhibition:
        for exhibition in self.exhibitions:
            if exhibition.id == exhibition_id:
                return exhibition
        raise KeyError(exhibition_id)
