"""Search across every published document: the results behind /viewer/search and /viewer/search.json.

Results are pages (canvases) that match, pages with an exact-diacritic match first, grouped by
document on each results page. Each match shows a thumbnail of its region (an Image API region
request of the canvas's image service) and links to the viewer opened at that region (a content
state), so the page is usable with no JavaScript at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from manifests.model import Region
from manifests.search_index import INDEX_FILE, SearchIndex
from manifests.search_query import Match, parse_query
from viewer.deeplink import ContentState, RegionImage, encode_content_state, region_image
from viewer.published import PublishedCanvas, PublishedFolder, PublishedManifest

PAGES_PER_RESULTS_PAGE = 20
MATCHES_SHOWN_PER_PAGE = 5
THUMBNAIL_EDGE = 200


@dataclass(frozen=True)
class FoundMatch:
    """A match: its words in context, their box, and the region its thumbnail and link show."""

    prefix: str
    exact: str
    suffix: str
    box: Region
    region: Region
    thumbnail: RegionImage
    viewer_link: str


@dataclass(frozen=True)
class FoundPage:
    number: int
    canvas_id: str
    matches: tuple[FoundMatch, ...]
    more: int  # matches on the page beyond those shown


@dataclass(frozen=True)
class FoundDocument:
    id: str
    manifest_url: str
    label: dict[str, list[str]]
    pages: tuple[FoundPage, ...]

    def title(self, language: str) -> str:
        """The label in ``language``, else in its first language, else the document id."""
        values = self.label.get(language) or next(iter(self.label.values()), None) or [self.id]
        return " ".join(values)


@dataclass(frozen=True)
class ArchiveSearch:
    """One results page of a search; ``results_page`` counts from 1."""

    q: str
    documents: tuple[FoundDocument, ...]
    total_pages: int
    results_page: int

    @property
    def results_pages(self) -> int:
        return max(1, -(-self.total_pages // PAGES_PER_RESULTS_PAGE))


class ResultsPageBeyond(LookupError):
    pass


def search_archive(published: PublishedFolder, q: str, results_page: int, embed_path: str) -> ArchiveSearch:
    """Raises QueryError for a query that cannot be searched, ResultsPageBeyond past the last page.
    ``embed_path``: the viewer page the links open."""
    query = parse_query(q)
    index = SearchIndex(published.root / INDEX_FILE)
    if not index.exists():
        return ArchiveSearch(q, (), 0, 1)
    found = index.search_archive(query, (results_page - 1) * PAGES_PER_RESULTS_PAGE, PAGES_PER_RESULTS_PAGE)
    search = ArchiveSearch(q, (), found.total_pages, results_page)
    if results_page > search.results_pages:
        raise ResultsPageBeyond(f"page {results_page} is beyond the last page of results ({search.results_pages})")
    documents: dict[str, tuple[PublishedManifest, list[FoundPage]]] = {}
    for page in found.pages:
        if page.document not in documents:
            manifest = published.manifest_of_document(page.document)
            if manifest is None:  # indexed but not published: nothing to link to
                continue
            documents[page.document] = (manifest, [])
        manifest, pages = documents[page.document]
        if page.page > len(manifest.canvases):
            continue
        canvas = manifest.canvases[page.page - 1]
        matches = page.matches()
        shown = tuple(_found_match(match, manifest, canvas, embed_path) for match in matches[:MATCHES_SHOWN_PER_PAGE])
        pages.append(FoundPage(page.page, canvas.id, shown, len(matches) - len(shown)))
    return ArchiveSearch(q, tuple(FoundDocument(document, manifest.url, manifest.label, tuple(pages))
                                  for document, (manifest, pages) in documents.items()),
                         found.total_pages, results_page)


def _found_match(match: Match, manifest: PublishedManifest, canvas: PublishedCanvas, embed_path: str) -> FoundMatch:
    boxes = [part.box for part in match.parts]
    left, top = min(box.x for box in boxes), min(box.y for box in boxes)
    right = max(box.x + box.width for box in boxes)
    bottom = max(box.y + box.height for box in boxes)
    # The words with a margin of one line height, so the thumbnail shows them in their line.
    margin = max(box.height for box in boxes)
    x, y = max(0, left - margin), max(0, top - margin)
    region = Region(x, y, min(right + margin, canvas.width) - x, min(bottom + margin, canvas.height) - y)
    state = encode_content_state(ContentState(manifest.url, canvas.id, region))
    return FoundMatch(match.prefix, match.exact, match.suffix, Region(left, top, right - left, bottom - top), region,
                      region_image(canvas.service_id, region, canvas.size, canvas.image_size, THUMBNAIL_EDGE),
                      f"{embed_path}?{urlencode({'iiif-content': state})}")


def results_url(path: str, q: str, results_page: int, language: str | None = None) -> str:
    parameters = {"q": q}
    if results_page > 1:
        parameters["page"] = str(results_page)
    if language == "en":
        parameters["lang"] = "en"
    return f"{path}?{urlencode(parameters)}"


def results_json(search: ArchiveSearch, api_path: str) -> dict:
    """The JSON API's answer (README "Search")."""
    answer: dict = {
        "q": search.q,
        "totalPages": search.total_pages,
        "page": search.results_page,
        "pageCount": search.results_pages,
        "documents": [{
            "id": document.id,
            "manifest": document.manifest_url,
            "label": document.label,
            "pages": [{
                "page": page.number,
                "canvas": page.canvas_id,
                "more": page.more,
                "matches": [{"prefix": match.prefix, "exact": match.exact, "suffix": match.suffix,
                             "xywh": match.box.xywh, "thumbnail": match.thumbnail.url, "viewer": match.viewer_link}
                            for match in page.matches],
            } for page in document.pages],
        } for document in search.documents],
    }
    if search.results_page < search.results_pages:
        answer["next"] = results_url(api_path, search.q, search.results_page + 1)
    if search.results_page > 1:
        answer["prev"] = results_url(api_path, search.q, search.results_page - 1)
    return answer
