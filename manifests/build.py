"""PURE: Content + image sizes -> iiif-prezi3 Manifests and Collections (IIIF Presentation 3.0).

Every id is explicit and derived from the base URL (never prezi3's auto ids); every label is a
``vi``/``en`` language map. Nothing here reads a file or the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from iiif_prezi3 import (
    Annotation,
    AnnotationBody,
    AnnotationPage,
    Canvas,
    CanvasRef,
    Class,
    Collection,
    CollectionRef,
    Homepage,
    KeyValueString,
    Manifest,
    ManifestRef,
    Provider,
    Range,
    ServiceV2,
    ServiceV3,
)

from iiif_server.access.base import AccessLevel
from iiif_server.auth.services import AUTH_CONTEXT, image_auth_services
from manifests.images import ImageSize
from manifests.model import Content, Document, Exhibition, Section, Text, ThematicSection

PRESENTATION_PREFIX = "/iiif/presentation"
IMAGE_SERVICE_2_PROFILE = "http://iiif.io/api/image/2/level2.json"
THUMBNAIL_BOX = 400
ATTRIBUTION_LABEL = Text(vi="Ghi công", en="Attribution")
LOGO_FORMATS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
                ".gif": "image/gif", ".webp": "image/webp"}


@dataclass(frozen=True)
class Urls:
    """Where everything lives, below one public base URL (no trailing slash)."""

    base_url: str

    def manifest(self, document_id: str) -> str:
        return f"{self.base_url}{PRESENTATION_PREFIX}/{manifest_path(document_id)}"

    def collection(self, collection_id: str) -> str:
        return f"{self.base_url}{PRESENTATION_PREFIX}/{collection_path(collection_id)}"

    def top_collection(self) -> str:
        return f"{self.base_url}{PRESENTATION_PREFIX}/{TOP_COLLECTION_PATH}"

    def image_service(self, identifier: str, version: int) -> str:
        return f"{self.base_url}/iiif/{version}/{quote(identifier, safe='')}"

    def canvas(self, document_id: str, page_index: int) -> str:
        return f"{self.manifest(document_id).removesuffix('.json')}/canvas/p{page_index + 1}"


TOP_COLLECTION_PATH = "collection.json"
# The access rules of the documents, for the image server (setting access_rules_file; the platform
# finds it in the presentation folder). Hidden, so the presentation server never hands it out.
ACCESS_RULES_PATH = ".access-rules.json"


def manifest_path(document_id: str) -> str:
    """The file (below the output folder and /iiif/presentation/) of a document's manifest."""
    return f"manifests/{document_id}.json"


def collection_path(collection_id: str) -> str:
    return f"collections/{collection_id}.json"


@dataclass(frozen=True)
class ParentCollection:
    """A collection a manifest belongs to, for its ``partOf``."""

    id: str
    label: Text


def thumbnail_size(size: ImageSize, box: int = THUMBNAIL_BOX) -> tuple[int, int]:
    """Fit ``size`` inside a box x box square without upscaling (the server refuses to upscale)."""
    scale = min(1.0, box / size.width, box / size.height)
    return max(1, round(size.width * scale)), max(1, round(size.height * scale))


def restricted_images(documents: Iterable[Document]) -> frozenset[str]:
    """The page images of documents whose ``access:`` keeps them from some readers."""
    return frozenset(page.image for document in documents
                     if document.access is not None and document.access.level is not AccessLevel.PUBLIC
                     for page in document.pages)


def image_services(identifier: str, urls: Urls, restricted: frozenset[str] = frozenset()) -> list[object]:
    """The Image API 3.0 service, then the 2.1 one for older clients (Presentation 3.0 §3.3.3); for a
    restricted image also its Auth 2.0 probe service with the access services, as its info.json has
    them (Auth 2.0 "Declaring Services": the probe "MAY additionally be declared in the Manifest")."""
    services: list[object] = [
        ServiceV3(id=urls.image_service(identifier, 3), type="ImageService3", profile="level2"),
        ServiceV2(id=urls.image_service(identifier, 2), type="ImageService2", profile=IMAGE_SERVICE_2_PROFILE),
    ]
    if identifier in restricted:
        services += image_auth_services(urls.base_url, identifier)
    return services


def thumbnail(identifier: str, size: ImageSize, urls: Urls, restricted: frozenset[str] = frozenset()) -> AnnotationBody:
    width, height = thumbnail_size(size)
    return AnnotationBody(
        id=f"{urls.image_service(identifier, 3)}/full/{width},{height}/0/default.jpg",
        type="Image", format="image/jpeg", width=width, height=height,
        service=image_services(identifier, urls, restricted),
    )


def declare_auth_context(manifest: Manifest, restricted: frozenset[str]) -> None:
    """The Auth 2.0 context before the Presentation one when the manifest lists a probe service
    (Auth 2.0 "Declaring Services"; Presentation 3.0 "Linked Data Context and Extensions")."""
    if restricted:
        manifest.add_context(AUTH_CONTEXT)


def required_statement(attribution: Text) -> KeyValueString:
    return KeyValueString(label=ATTRIBUTION_LABEL.language_map(), value=attribution.language_map())


def build_manifest(
    document: Document, sizes: Mapping[str, ImageSize], urls: Urls, part_of: tuple[ParentCollection, ...] = ()
) -> Manifest:
    manifest_id = urls.manifest(document.id)
    restricted = restricted_images((document,))
    canvases = [_canvas(document, index, sizes, urls, restricted) for index in range(len(document.pages))]
    first_image = document.pages[0].image
    manifest = Manifest(
        id=manifest_id,
        label=document.label.language_map(),
        summary=document.summary.language_map(),
        metadata=[KeyValueString(label=e.label.language_map(), value=e.value.language_map()) for e in document.metadata],
        requiredStatement=required_statement(document.attribution),
        rights=document.rights,
        provider=[_provider(document)],
        thumbnail=[thumbnail(first_image, sizes[first_image], urls, restricted)],
        viewingDirection=document.viewing_direction.value,
        items=canvases,
    )
    declare_auth_context(manifest, restricted)
    if document.behavior:
        manifest.behavior = [behavior.value for behavior in document.behavior]
    if document.nav_date:
        manifest.navDate = document.nav_date
    if document.homepage:
        manifest.homepage = [Homepage(id=document.homepage, type="Text", label=document.label.language_map(),
                                      format="text/html")]
    if part_of:
        manifest.partOf = [Class(id=parent.id, type="Collection", label=parent.label.language_map())
                           for parent in part_of]
    if document.start_page is not None:
        manifest.start = CanvasRef(id=urls.canvas(document.id, document.start_page), type="Canvas")
    if document.contents:
        manifest.structures = [
            _range(section, document, (number,), urls) for number, section in enumerate(document.contents, start=1)
        ]
    return manifest


def page_label(document: Document, page_index: int) -> Text:
    label = document.pages[page_index].label
    return label or Text(vi=f"Trang {page_index + 1}", en=f"Page {page_index + 1}")


def _canvas(
    document: Document, index: int, sizes: Mapping[str, ImageSize], urls: Urls, restricted: frozenset[str]
) -> Canvas:
    page = document.pages[index]
    size = sizes[page.image]
    canvas_id = urls.canvas(document.id, index)
    image = AnnotationBody(
        id=f"{urls.image_service(page.image, 3)}/full/max/0/default.jpg",
        type="Image", format="image/jpeg", width=size.width, height=size.height,
        service=image_services(page.image, urls, restricted),
    )
    painting = Annotation(id=f"{canvas_id}/page/image", type="Annotation", motivation="painting",
                          body=image, target=canvas_id)
    return Canvas(
        id=canvas_id,
        label=page_label(document, index).language_map(),
        width=size.width,
        height=size.height,
        thumbnail=[thumbnail(page.image, size, urls, restricted)],
        items=[AnnotationPage(id=f"{canvas_id}/page", type="AnnotationPage", items=[painting])],
    )


def _range(section: Section, document: Document, position: tuple[int, ...], urls: Urls) -> Range:
    range_id = f"{urls.manifest(document.id).removesuffix('.json')}/range/{'-'.join(map(str, position))}"
    items: list[CanvasRef | Range] = [
        CanvasRef(id=urls.canvas(document.id, index), type="Canvas") for index in section.page_indexes
    ]
    items += [_range(child, document, position + (number,), urls)
              for number, child in enumerate(section.sections, start=1)]
    return Range(id=range_id, type="Range", label=section.label.language_map(), items=items)


def _provider(document: Document) -> Provider:
    provider = document.provider
    result = Provider(
        id=provider.id,
        type="Agent",
        label=provider.label.language_map(),
        homepage=[Homepage(id=provider.homepage, type="Text", label=provider.label.language_map(), format="text/html")],
    )
    if provider.logo:
        suffix = PurePosixPath(provider.logo.split("?")[0]).suffix.lower()
        logo = AnnotationBody(id=provider.logo, type="Image")
        if suffix in LOGO_FORMATS:
            logo.format = LOGO_FORMATS[suffix]
        result.logo = [logo]
    return result


def _manifest_reference(document: Document, sizes: Mapping[str, ImageSize], urls: Urls) -> ManifestRef:
    first_image = document.pages[0].image
    return ManifestRef(id=urls.manifest(document.id), type="Manifest", label=document.label.language_map(),
                       thumbnail=[thumbnail(first_image, sizes[first_image], urls)])


def build_exhibition_collection(
    exhibition: Exhibition, content: Content, sizes: Mapping[str, ImageSize], urls: Urls
) -> Collection:
    """An exhibition as a Collection of its documents' manifests, in the order they are first shown."""
    collection = Collection(
        id=urls.collection(exhibition.id),
        label=exhibition.title.language_map(),
        summary=exhibition.introduction.language_map(),
        thumbnail=[thumbnail(exhibition.cover.image, sizes[exhibition.cover.image], urls)],
        items=[_manifest_reference(content.document(d), sizes, urls) for d in exhibition.document_ids],
    )
    if exhibition.id in content.top.exhibition_ids:
        collection.partOf = [_top_reference(content, urls)]
    if exhibition.nav_date:
        collection.navDate = exhibition.nav_date
    return collection


def _top_reference(content: Content, urls: Urls) -> Class:
    return Class(id=urls.top_collection(), type="Collection", label=content.top.label.language_map())


def build_section_collection(
    section: ThematicSection, content: Content, sizes: Mapping[str, ImageSize], urls: Urls
) -> Collection:
    first_image = content.document(section.document_ids[0]).pages[0].image
    return Collection(
        id=urls.collection(section.id),
        label=section.label.language_map(),
        summary=section.summary.language_map(),
        thumbnail=[thumbnail(first_image, sizes[first_image], urls)],
        partOf=[_top_reference(content, urls)],
        items=[_manifest_reference(content.document(d), sizes, urls) for d in section.document_ids],
    )


def build_top_collection(content: Content, urls: Urls) -> Collection:
    items = [CollectionRef(id=urls.collection(e), type="Collection", label=content.exhibition(e).title.language_map())
             for e in content.top.exhibition_ids]
    items += [CollectionRef(id=urls.collection(s.id), type="Collection", label=s.label.language_map())
              for s in content.top.sections]
    return Collection(id=urls.top_collection(), label=content.top.label.language_map(),
                      summary=content.top.summary.language_map(), items=items)


def parent_collections(content: Content, urls: Urls) -> dict[str, tuple[ParentCollection, ...]]:
    """For each document id, the exhibitions (listed in the top collection) and sections it is in."""
    parents: dict[str, list[ParentCollection]] = {document.id: [] for document in content.documents}
    for exhibition_id in content.top.exhibition_ids:
        exhibition = content.exhibition(exhibition_id)
        for document_id in exhibition.document_ids:
            parents[document_id].append(ParentCollection(urls.collection(exhibition.id), exhibition.title))
    for section in content.top.sections:
        for document_id in section.document_ids:
            parents[document_id].append(ParentCollection(urls.collection(section.id), section.label))
    return {document_id: tuple(found) for document_id, found in parents.items()}


@dataclass(frozen=True)
class AccessRulesFile:
    """The rules file the image server reads (format: ``iiif_server.access.rules.parse_rules_file``):
    one rule per page image of each document that states an ``access:``."""

    rules: tuple[tuple[str, str, tuple[str, ...]], ...]  # (identifier, level, groups), sorted

    def json(self) -> str:
        return json.dumps({"rules": [{"prefix": identifier, "level": level, "groups": list(groups)}
                                     for identifier, level, groups in self.rules]})


def build_access_rules(content: Content) -> AccessRulesFile:
    rules = {(page.image, document.access.level.value, document.access.groups)
             for document in content.documents if document.access is not None for page in document.pages}
    return AccessRulesFile(tuple(sorted(rules)))


@dataclass(frozen=True)
class PlannedOutput:
    """One file of the build: where it goes, everything it is made from, and how to make it.

    ``inputs`` is the repr of the frozen values the resource is built from: equal inputs give an
    equal resource, which is what lets an incremental build reuse the previous file. ``presentation``:
    a IIIF Presentation resource, checked against its schema (else the access rules file).
    """

    path: str
    inputs: str
    make: Callable[[], Manifest | Collection | AccessRulesFile]
    presentation: bool = True


def plan_outputs(content: Content, sizes: Mapping[str, ImageSize], urls: Urls) -> tuple[PlannedOutput, ...]:
    """Every manifest and collection of the content, not yet built."""
    parents = parent_collections(content, urls)
    planned = []
    for document in content.documents:
        used = _sizes_of(sizes, [page.image for page in document.pages])
        planned.append(PlannedOutput(
            manifest_path(document.id),
            repr((document, used, parents[document.id], urls)),
            lambda document=document: build_manifest(document, sizes, urls, parents[document.id]),
        ))
    for exhibition in content.exhibitions:
        shown = [content.document(d) for d in exhibition.document_ids]
        used = _sizes_of(sizes, [exhibition.cover.image] + [document.pages[0].image for document in shown])
        planned.append(PlannedOutput(
            collection_path(exhibition.id),
            repr((exhibition, [(d.id, d.label) for d in shown], used, content.top, urls)),
            lambda exhibition=exhibition: build_exhibition_collection(exhibition, content, sizes, urls),
        ))
    for section in content.top.sections:
        shown = [content.document(d) for d in section.document_ids]
        used = _sizes_of(sizes, [document.pages[0].image for document in shown])
        planned.append(PlannedOutput(
            collection_path(section.id),
            repr((section, [(d.id, d.label) for d in shown], used, content.top.label, urls)),
            lambda section=section: build_section_collection(section, content, sizes, urls),
        ))
    titles = [(e, content.exhibition(e).title) for e in content.top.exhibition_ids]
    planned.append(PlannedOutput(TOP_COLLECTION_PATH, repr((content.top, titles, urls)),
                                 lambda: build_top_collection(content, urls)))
    rules = build_access_rules(content)
    planned.append(PlannedOutput(ACCESS_RULES_PATH, repr(rules), lambda: rules, presentation=False))
    return tuple(planned)


def _sizes_of(sizes: Mapping[str, ImageSize], identifiers: list[str]) -> tuple[tuple[str, ImageSize], ...]:
    return tuple((identifier, sizes[identifier]) for identifier in identifiers)
