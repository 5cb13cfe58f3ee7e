"""PURE: IIIF Content Search 2.0 (https://iiif.io/api/search/2.0/): the services a manifest declares,
the AnnotationPage of a search's matches and the TermPage of its autocomplete.

Every match is word-level (OCR, ALTO and hOCR give each word its box), so, as §4.3.1 "Match
Context" describes for that case, each match is an annotation in ``items`` whose body is the
matched words and whose target is their region of the canvas, and a ``contextualizing``
annotation in ``annotations`` gives the words before and after it in a TextQuoteSelector. A match
across a line break has one annotation per line, and its one contextualizing annotation targets
them all (§4.3.3 "Multi-Annotation Matches").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from manifests.search_index import PageMatches, Suggestion
from manifests.search_query import match_at

SEARCH_CONTEXT = "http://iiif.io/api/search/2/context.json"
SEARCH_PREFIX = "/iiif/presentation/search"
AUTOCOMPLETE_PREFIX = "/iiif/presentation/autocomplete"
# The motivation of the annotations in ``items``: text that belongs to the canvas (Presentation 3.0).
MATCH_MOTIVATION = "supplementing"
# Parameters of §4.1.1 this service does not implement: named in ``ignored`` (§4.2.4).
UNSUPPORTED_PARAMETERS = ("date", "user")
MATCHES_PER_PAGE = 100


def search_services(base_url: str, document_id: str) -> list[dict]:
    """The ``service`` entry of a manifest with text (§3 "Declaring Services")."""
    return [{
        "id": f"{base_url}{SEARCH_PREFIX}/{document_id}",
        "type": "SearchService2",
        "service": [{"id": f"{base_url}{AUTOCOMPLETE_PREFIX}/{document_id}", "type": "AutoCompleteService2"}],
    }]


@dataclass(frozen=True)
class SearchedManifest:
    """What an answer names of the manifest searched: its id, label and canvas ids in page order."""

    id: str
    label: dict[str, list[str]]
    canvas_ids: tuple[str, ...]


@dataclass(frozen=True)
class SearchRequest:
    """The service URL and the query parameters an answer's links repeat."""

    service_url: str
    q: str
    motivation: str | None = None
    ignored: tuple[str, ...] = ()

    def url(self, page: int | None = None) -> str:
        parameters = {"q": self.q}
        if self.motivation is not None:
            parameters["motivation"] = self.motivation
        if page is not None:
            parameters["page"] = str(page)
        return f"{self.service_url}?{urlencode(parameters)}"

    @property
    def wants_matches(self) -> bool:
        """§4.1.1 motivation: a match is returned only if its motivation is among those asked for."""
        return self.motivation is None or MATCH_MOTIVATION in self.motivation.split()


class PageBeyondResults(LookupError):
    pass


def annotation_page(request: SearchRequest, manifest: SearchedManifest, pages: Sequence[PageMatches],
                    page: int = 1) -> dict:
    """The answer of §4.2: one AnnotationPage, paged (§4.2.2) when the matches do not fit one."""
    flat = [(found, span) for found in pages for span in found.spans] if request.wants_matches else []
    last_page = max(1, -(-len(flat) // MATCHES_PER_PAGE))
    if page > last_page:
        raise PageBeyondResults(f"page {page} is beyond the last page of this search ({last_page})")
    start = (page - 1) * MATCHES_PER_PAGE
    items, contexts = [], []
    for found, span in flat[start:start + MATCHES_PER_PAGE]:
        match = match_at(found.words, span)
        canvas = manifest.canvas_ids[found.page - 1]
        match_id = f"{canvas}/match/{match.position}-{match.last}"
        part_ids = [match_id if len(match.parts) == 1 else f"{match_id}/{n}" for n in range(1, len(match.parts) + 1)]
        for part_id, part in zip(part_ids, match.parts, strict=True):
            items.append({
                "id": part_id,
                "type": "Annotation",
                "motivation": MATCH_MOTIVATION,
                "body": {"type": "TextualBody", "value": part.text, "format": "text/plain"},
                # §4.2.3: the containing manifest, for clients that search before loading it.
                "target": {"id": f"{canvas}#xywh={part.box.xywh}",
                           "partOf": {"id": manifest.id, "type": "Manifest", "label": manifest.label}},
            })
        selector = {"type": "TextQuoteSelector", "exact": match.exact}
        if match.prefix:
            selector["prefix"] = match.prefix
        if match.suffix:
            selector["suffix"] = match.suffix
        targets = [{"type": "SpecificResource", "source": part_id, "selector": [selector]} for part_id in part_ids]
        contexts.append({"id": f"{match_id}/context", "type": "Annotation", "motivation": "contextualizing",
                         "target": targets[0] if len(targets) == 1 else targets})
    answer: dict = {"@context": SEARCH_CONTEXT, "id": request.url(page if last_page > 1 else None),
                    "type": "AnnotationPage"}
    if request.ignored:
        answer["ignored"] = list(request.ignored)
    if last_page > 1:
        answer["partOf"] = {"id": request.url(), "type": "AnnotationCollection", "total": len(flat),
                            "first": {"id": request.url(1), "type": "AnnotationPage"},
                            "last": {"id": request.url(last_page), "type": "AnnotationPage"}}
        if page < last_page:
            answer["next"] = {"id": request.url(page + 1), "type": "AnnotationPage"}
        if page > 1:
            answer["prev"] = {"id": request.url(page - 1), "type": "AnnotationPage"}
        answer["startIndex"] = start
    answer["items"] = items
    if contexts:
        answer["annotations"] = [{"type": "AnnotationPage", "items": contexts}]
    return answer


def term_page(url: str, suggestions: Sequence[Suggestion], ignored: Sequence[str] = ()) -> dict:
    """The autocomplete answer of §5.2/§5.3: terms with how often they occur."""
    answer: dict = {"@context": SEARCH_CONTEXT, "id": url, "type": "TermPage"}
    if ignored:
        answer["ignored"] = list(ignored)
    answer["items"] = [{"value": suggestion.value, "total": suggestion.total} for suggestion in suggestions]
    return answer
