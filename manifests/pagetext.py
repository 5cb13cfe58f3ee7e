"""The words on a page, as frozen values: lines and words with their boxes in canvas coordinates.

One model whatever the text came from (a curator's ALTO or hOCR, or OCR), so the annotation pages,
the search index and the viewer's text layer all read the same thing. Text is NFC-normalised on
construction: Vietnamese has two encodings of most accented letters, and a search must not care
which one a vendor's software wrote. ``to_json``/``page_text_from_json`` are the form stored beside
the build, so an unchanged page is not read or recognised again.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

from manifests.model import Region


def _check_on_canvas(region: Region) -> None:
    """Page text is drawn on its canvas: a box must be a rectangle inside it (a deep link's region
    may reach outside; a word's may not)."""
    if min(region.x, region.y) < 0 or min(region.width, region.height) < 1:
        raise ValueError(f"box {region.xywh} is not a rectangle inside a canvas")


@dataclass(frozen=True)
class Word:
    text: str
    box: Region  # in canvas pixels (the master's full-resolution grid), as in ``#xywh=``

    def __post_init__(self) -> None:
        _check_on_canvas(self.box)
        object.__setattr__(self, "text", unicodedata.normalize("NFC", self.text))


@dataclass(frozen=True)
class Line:
    """Words in reading order; the line's text is its words joined by single spaces."""

    words: tuple[Word, ...]
    box: Region

    def __post_init__(self) -> None:
        _check_on_canvas(self.box)

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(frozen=True)
class PageText:
    """Lines in reading order. ``source`` says where the text came from: alto, hocr or ocr."""

    lines: tuple[Line, ...]
    source: str
    language: str = "vi"
    # What the text was made from (a hash of the supplied file, or of the master and OCR settings),
    # so a later build can tell an unchanged page without reading it again.
    made_from: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "language": self.language,
            "madeFrom": self.made_from,
            "lines": [
                {"box": _box_json(line.box), "words": [[word.text, *_box_json(word.box)] for word in line.words]}
                for line in self.lines
            ],
        }


def page_text_from_json(data: dict) -> PageText:
    return PageText(
        lines=tuple(
            Line(
                words=tuple(Word(text, Region(x, y, width, height)) for text, x, y, width, height in line["words"]),
                box=Region(*line["box"]),
            )
            for line in data["lines"]
        ),
        source=data["source"],
        language=data["language"],
        made_from=data["madeFrom"],
    )


def _box_json(box: Region) -> list[int]:
    return [box.x, box.y, box.width, box.height]


def text_path(document_id: str, page_index: int) -> str:
    """Where a page's text is stored, below the build's output folder."""
    return f"text/{document_id}/p{page_index + 1}.json"


def text_json(page_text: PageText) -> bytes:
    """The stored file of a page's text."""
    return (json.dumps(page_text.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
