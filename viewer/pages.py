"""The viewer's HTML pages, rendered with Jinja for the server and for the static export alike."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from manifests.build import collection_path
from manifests.load import CheckedFiles, ContentError, content_paths, load_content
from manifests.model import Content, Exhibition, Text
from manifests.watch import Watch, Watched
from viewer.deeplink import (
    ContentState, DeepLinkError, Region, RegionImage, decode_content_state, is_web_url, parse_xywh, region_image,
)
from viewer.published import PublishedFolder, PublishedManifest
from viewer.search import ArchiveSearch

NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# The only npm files the pages load, by the name they are served under (/viewer/vendor/<name>/).
VENDOR_FILES = {
    "openseadragon": "openseadragon/build/openseadragon",
    "mirador": "mirador/dist",
    "axe-core": "axe-core",
}
LANGUAGES = ("vi", "en")
UI = {
    "vi": {
        "viewer": "Trình xem tài liệu",
        "needs_javascript": "Trình xem cần JavaScript; ảnh trên là vùng được chia sẻ.",
        "switch_language": "English",
        "other_language": "en",
        "guide_title": "Nhúng trình xem tài liệu lưu trữ",
        "guide_intro": "Biên tập viên có thể nhúng tài liệu vào bài viết bằng một dòng iframe hoặc bằng thẻ <iiif-viewer>.",
        "iframe_heading": "Nhúng bằng iframe",
        "element_heading": "Nhúng bằng thẻ <iiif-viewer>",
        "element_attributes": "Thuộc tính: manifest, canvas, region (x,y,w,h), content (trạng thái nội dung IIIF), lang (vi hoặc en).",
        "no_manifests": "Chưa có manifest nào được xuất bản.",
        "open_in_mirador": "Mở trong Mirador",
        "exhibitions": "Triển lãm",
        "no_exhibitions": "Chưa có triển lãm nào.",
        "previous": "Trước",
        "next": "Tiếp",
        "previous_step": "Bước trước",
        "next_step": "Bước tiếp theo",
        "search_title": "Tìm trong tài liệu lưu trữ",
        "search_label": "Từ hoặc cụm từ (dùng ngoặc kép cho cụm từ; có dấu hoặc không dấu)",
        "search_button": "Tìm",
        "search_found": "trang khớp",
        "search_none": "Không tìm thấy trang nào.",
        "search_unavailable": "Chưa có tài liệu nào có văn bản để tìm.",
        "search_page": "Trang",
        "search_more": "kết quả khác trên trang này",
        "search_open": "Mở trong trình xem",
        "search_results_page": "Trang kết quả",
    },
    "en": {
        "viewer": "Document viewer",
        "needs_javascript": "The viewer needs JavaScript; the picture above is the shared region.",
        "switch_language": "Tiếng Việt",
        "other_language": "vi",
        "guide_title": "Embedding the archival document viewer",
        "guide_intro": "Editors embed a document in an article with a one-line iframe or with the <iiif-viewer> element.",
        "iframe_heading": "Embed with an iframe",
        "element_heading": "Embed with the <iiif-viewer> element",
        "element_attributes": "Attributes: manifest, canvas, region (x,y,w,h), content (IIIF content state), lang (vi or en).",
        "no_manifests": "No manifests are published yet.",
        "open_in_mirador": "Open in Mirador",
        "exhibitions": "Exhibitions",
        "no_exhibitions": "No exhibitions yet.",
        "previous": "Previous",
        "next": "Next",
        "previous_step": "Previous step",
        "next_step": "Next step",
        "search_title": "Search the archive",
        "search_label": "Words or a phrase (in double quotes; with or without diacritics)",
        "search_button": "Search",
        "search_found": "matching pages",
        "search_none": "No page matches.",
        "search_unavailable": "No document has text to search yet.",
        "search_page": "Page",
        "search_more": "more matches on this page",
        "search_open": "Open in the viewer",
        "search_results_page": "Results page",
    },
}
OG_IMAGE_EDGE = 1200
STEP_IMAGE_EDGE = 900


@dataclass(frozen=True)
class PageLinks:
    """Where a page finds the others: absolute paths on the server, sibling files in an export.

    Patterns hold ``{lang}`` (empty for Vietnamese, the default, else ``english_marker``) and ``{id}``.
    """

    static: str
    vendor: str
    embed: str
    mirador: str
    guide_pattern: str
    exhibitions_pattern: str
    exhibition_pattern: str
    english_marker: str

    def _marker(self, language: str) -> str:
        return self.english_marker if language == "en" else ""

    def guide(self, language: str) -> str:
        return self.guide_pattern.format(lang=self._marker(language))

    def exhibitions(self, language: str) -> str:
        return self.exhibitions_pattern.format(lang=self._marker(language))

    def exhibition(self, exhibition_id: str, language: str) -> str:
        return self.exhibition_pattern.format(id=exhibition_id, lang=self._marker(language))


@dataclass(frozen=True)
class ExhibitionStep:
    number: int
    caption: Text
    narrative: Text | None
    manifest_url: str
    canvas_id: str
    region: Region | None
    image: RegionImage


@dataclass(frozen=True)
class ExhibitionPage:
    id: str
    title: Text
    introduction: Text
    steps: tuple[ExhibitionStep, ...]


@dataclass(frozen=True)
class ExhibitionSummary:
    id: str
    title: Text
    introduction: Text
    cover_url: str | None


class PageNotFound(LookupError):
    """No such page, or a page whose parts are not built; the message says which, on one line."""

    def __str__(self) -> str:
        return str(self.args[0])


def normalise_language(value: str | None) -> str:
    return value if value in LANGUAGES else "vi"


def requested_view(args: Mapping[str, str]) -> ContentState | None:
    """The view a URL asks for: ``iiif-content`` first, else ``manifest`` (+ ``canvas``, ``xywh``)."""
    content = args.get("iiif-content")
    if content:
        view = decode_content_state(content)
    else:
        manifest = args.get("manifest")
        if not manifest:
            return None
        xywh = args.get("xywh")
        view = ContentState(manifest, args.get("canvas") or None, parse_xywh(xywh) if xywh else None)
    if not is_web_url(view.manifest):
        raise DeepLinkError("the manifest must be an http(s) URL")
    return view


class Site:
    """What the pages show: the built manifests and, for exhibitions, the curators' content folder."""

    def __init__(self, presentation_root: Path | None, content_root: Path | None) -> None:
        self.published = PublishedFolder(presentation_root) if presentation_root else None
        self.content_root = content_root
        # Loaded on the first exhibition request and again only after a curator file changed; then
        # only the changed files are read and checked again.
        self._checked_files = CheckedFiles()
        self._content = Watched(self._load_content, kept_errors=(ContentError,))

    def _load_content(self, watch: Watch) -> Content:
        assert self.content_root is not None
        for path in content_paths(self.content_root):
            watch(path)
        return load_content(self.content_root, self._checked_files)

    def manifest(self, url: str) -> PublishedManifest | None:
        return self.published.manifest_by_url(url) if self.published else None

    def example_manifest_url(self) -> str | None:
        """A manifest for the embedding guide's live examples: the first by file name."""
        if not self.published:
            return None
        for path in sorted((self.published.root / "manifests").glob("*.json")):
            found = self.published.manifest_of_document(path.stem)
            if found:
                return found.url
        return None

    def _exhibitions(self) -> tuple[list[Exhibition], list[str]]:
        if not self.content_root or not self.published:
            return [], []
        content = self._content.get()
        return list(content.exhibitions), list(content.top.exhibition_ids)

    def exhibition_summaries(self) -> list[ExhibitionSummary]:
        exhibitions, listed = self._exhibitions()
        by_id = {exhibition.id: exhibition for exhibition in exhibitions}
        summaries = []
        for exhibition_id in listed:
            exhibition = by_id[exhibition_id]
            collection = self.published.json(collection_path(exhibition_id)) or {}
            thumbnails = collection.get("thumbnail") or [{}]
            summaries.append(ExhibitionSummary(exhibition.id, exhibition.title, exhibition.introduction,
                                               thumbnails[0].get("id")))
        return summaries

    def exhibition(self, exhibition_id: str) -> ExhibitionPage:
        exhibitions, _ = self._exhibitions()
        found = [item for item in exhibitions if item.id == exhibition_id]
        if not found:
            raise PageNotFound(f"no exhibition {exhibition_id!r}")
        exhibition = found[0]
        steps = []
        for number, item in enumerate(exhibition.items, start=1):
            manifest = self.published.manifest_of_document(item.document_id)
            if manifest is None:
                raise PageNotFound(f"exhibition {exhibition_id!r} step {number}: document {item.document_id!r} "
                                   "has no built manifest (run iiif-archive build)")
            canvas = manifest.canvases[min(item.page_index, len(manifest.canvases) - 1)]
            image = region_image(canvas.service_id, item.region, canvas.size, canvas.image_size, STEP_IMAGE_EDGE)
            steps.append(ExhibitionStep(number, item.caption, item.narrative, manifest.url, canvas.id, item.region, image))
        return ExhibitionPage(exhibition.id, exhibition.title, exhibition.introduction, tuple(steps))


@functools.cache
def _environment() -> Environment:
    """Built once: templates compile on first use and the environment is safe to share across threads."""
    environment = Environment(loader=PackageLoader("viewer", "templates"), autoescape=select_autoescape(),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["in_language"] = lambda text, language: getattr(text, language) if text else ""
    return environment


def _render(template: str, links: PageLinks, language: str, **values: object) -> str:
    return _environment().get_template(template).render(links=links, lang=language, ui=UI[language], **values)


def _other(language: str) -> str:
    return "en" if language == "vi" else "vi"


def render_embed(site: Site, links: PageLinks, language: str, view: ContentState | None, page_url: str) -> str:
    preview = None
    if view is not None:
        manifest = site.manifest(view.manifest)
        if manifest is not None:
            canvas = manifest.canvas(view.canvas)
            preview = {
                "image": region_image(canvas.service_id, view.region, canvas.size, canvas.image_size,
                                      OG_IMAGE_EDGE),
                "title": " ".join(manifest.label.get(language) or next(iter(manifest.label.values()), [])),
                "description": " ".join((manifest.required_statement or {}).get(language, [])),
            }
    return _render("embed.html", links, language, preview=preview, page_url=page_url)


def render_mirador(links: PageLinks, language: str) -> str:
    return _render("mirador.html", links, language)


def render_guide(site: Site, links: PageLinks, language: str, origin: str) -> str:
    return _render("guide.html", links, language, origin=origin, example=site.example_manifest_url(),
                   switch_url=links.guide(_other(language)))


def render_search(links: PageLinks, language: str, search_path: str, q: str, search: ArchiveSearch | None,
                  error: str | None, available: bool, page_url: Callable[[int, str], str]) -> str:
    """``page_url(results_page, language)``: the address of another page of these results."""
    return _render("search.html", links, language, search_path=search_path, q=q, search=search, error=error,
                   available=available, page_url=page_url, switch_url=page_url(search.results_page if search else 1, _other(language)))


def render_exhibition_index(site: Site, links: PageLinks, language: str) -> str:
    return _render("exhibitions.html", links, language, exhibitions=site.exhibition_summaries(),
                   switch_url=links.exhibitions(_other(language)))


def render_exhibition(site: Site, links: PageLinks, language: str, exhibition_id: str) -> str:
    return _render("exhibition.html", links, language, exhibition=site.exhibition(exhibition_id),
                   switch_url=links.exhibition(exhibition_id, _other(language)))
