"""PURE: a page's text -> its IIIF AnnotationPage: one ``supplementing`` annotation per line and per
word, each a ``TextualBody`` targeting the canvas region it covers (``canvas#xywh=``).

Lines and words are told apart with the IIIF Text Granularity extension's ``textGranularity``, which
Mirador and other viewers read to offer a selectable text layer. The page is written as a plain
JSON-LD dict: iiif-prezi3 drops properties its model does not know, such as extensions'.
"""

from __future__ import annotations

from manifests.model import Region
from manifests.pagetext import PageText

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
TEXT_GRANULARITY_CONTEXT = "http://iiif.io/api/extension/text-granularity/context.json"


def annotation_page_path(document_id: str, page_index: int) -> str:
    """The annotation page of a page's text, below the output folder and /iiif/presentation/."""
    return f"annotations/{document_id}/p{page_index + 1}.json"


def alto_path(document_id: str, page_index: int) -> str:
    """The published copy of a page's supplied ALTO file."""
    return f"alto/{document_id}/p{page_index + 1}.xml"


def build_text_annotation_page(page_text: PageText, page_id: str, canvas_id: str) -> dict:
    """The AnnotationPage ``page_id`` of the text of canvas ``canvas_id``: lines in reading order,
    each followed by its words."""
    base = page_id.removesuffix(".json")
    items = []
    for line_number, line in enumerate(page_text.lines, start=1):
        line_id = f"{base}/line/{line_number}"
        items.append(_annotation(line_id, line.text, line.box, "line", page_text.language, canvas_id))
        items += [_annotation(f"{line_id}/word/{word_number}", word.text, word.box, "word", page_text.language,
                              canvas_id)
                  for word_number, word in enumerate(line.words, start=1)]
    return {
        # The extension's context first: the Presentation context must be last (Presentation 3.0 §4.6).
        "@context": [TEXT_GRANULARITY_CONTEXT, PRESENTATION_CONTEXT],
        "id": page_id,
        "type": "AnnotationPage",
        "items": items,
    }


def _annotation(annotation_id: str, text: str, box: Region, granularity: str, language: str, canvas_id: str) -> dict:
    return {
        "id": annotation_id,
        "type": "Annotation",
        "motivation": "supplementing",
        "textGranularity": granularity,
        "body": {"type": "TextualBody", "value": text, "format": "text/plain", "language": language},
        "target": f"{canvas_id}#xywh={box.xywh}",
    }
