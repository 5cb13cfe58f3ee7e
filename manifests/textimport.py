"""PURE: a curator's ALTO or hOCR file (bytes) + the canvas size -> PageText in canvas pixels.

ALTO (v2, v3, v4; what ABBYY FineReader, Transkribus and most digitisation vendors deliver) gives
each ``TextLine`` and ``String`` a box in its ``MeasurementUnit`` (pixel, mm10 or inch1200) on its
own ``Page`` of ``WIDTH`` x ``HEIGHT``; hOCR gives ``bbox x0 y0 x1 y1`` in each element's ``title``,
on an ``ocr_page`` whose bbox is the page. Either page may be the master at another resolution (a
vendor's OCR ran on a reduced copy, or measured in tenths of millimetres), so every box is scaled by
canvas size / page size. Scaled boxes are rounded outwards (start down, end up) so they still cover
their text, and clipped to the canvas.

ALTO is parsed with defusedxml (no DTDs, no entities, no network); hOCR, which is HTML as often as
XHTML, with the standard library's HTML parser, which fetches nothing and expands only HTML's
named characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from manifests.model import Region
from manifests.pagetext import Line, PageText, Word

ALTO_NAMESPACES = tuple(f"http://www.loc.gov/standards/alto/ns-v{version}#" for version in (2, 3, 4))
_ALTO_NAMESPACE = re.compile(rb"http://www\.loc\.gov/standards/alto/ns-v(\d)#")
ALTO_UNITS = ("pixel", "mm10", "inch1200")
HOCR_LINE_CLASSES = frozenset({"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"})
ALTO_SUFFIXES = (".xml", ".alto")
HOCR_SUFFIXES = (".hocr", ".html", ".htm", ".xhtml")
_BBOX = re.compile(r"(?:^|;)\s*bbox\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)")


class TextFileError(ValueError):
    """A text file that cannot be read as ALTO or hOCR; ``str()`` is one line that says why."""


@dataclass(frozen=True)
class _Scale:
    """Page units -> canvas pixels, and the canvas to clip to."""

    x: float
    y: float
    canvas_width: int
    canvas_height: int

    def box(self, left: float, top: float, width: float, height: float) -> Region | None:
        """The canvas box of a page rectangle, or None when it lies outside the canvas or is empty."""
        x0, y0 = max(0, math.floor(left * self.x + 1e-9)), max(0, math.floor(top * self.y + 1e-9))
        x1 = min(self.canvas_width, math.ceil((left + width) * self.x - 1e-9))
        y1 = min(self.canvas_height, math.ceil((top + height) * self.y - 1e-9))
        if x1 <= x0 or y1 <= y0:
            return None
        return Region(x0, y0, x1 - x0, y1 - y0)


def text_format(name: str | PurePath) -> str:
    """'alto' or 'hocr' from a file name; ValueError for any other suffix."""
    suffix = PurePath(name).suffix.lower()
    if suffix in ALTO_SUFFIXES:
        return "alto"
    if suffix in HOCR_SUFFIXES:
        return "hocr"
    known = ", ".join(ALTO_SUFFIXES + HOCR_SUFFIXES)
    raise ValueError(f"not an ALTO or hOCR file name (the name must end in one of {known})")


def alto_schema(data: bytes) -> str:
    """The schema of an ALTO file's version, as a IIIF ``seeAlso`` profile names it."""
    found = _ALTO_NAMESPACE.search(data)
    return f"http://www.loc.gov/standards/alto/v{found[1].decode() if found else 4}/alto.xsd"


def parse_page_text(data: bytes, text_format_name: str, canvas: tuple[int, int], language: str = "vi") -> PageText:
    """``data`` of format 'alto' or 'hocr' as a PageText on ``canvas``; TextFileError when unreadable."""
    if text_format_name == "alto":
        return parse_alto(data, canvas, language)
    return parse_hocr(data, canvas, language)


def parse_alto(data: bytes, canvas: tuple[int, int], language: str = "vi") -> PageText:
    try:
        root = SafeElementTree.fromstring(data)
    except DefusedXmlException:
        raise TextFileError("declares a DTD or entities, which ALTO files do not need; remove them") from None
    except SafeElementTree.ParseError as error:
        raise TextFileError(f"not well-formed XML ({error})") from None
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if namespace not in ALTO_NAMESPACES or root.tag != f"{{{namespace}}}alto":
        raise TextFileError("not an ALTO file (the root must be <alto> in the ALTO v2, v3 or v4 namespace)")
    ns = {"a": namespace}
    unit_element = root.find("a:Description/a:MeasurementUnit", ns)
    unit = (unit_element.text or "").strip() if unit_element is not None else "pixel"
    if unit not in ALTO_UNITS:
        raise TextFileError(f"MeasurementUnit {unit!r} is not one of {', '.join(ALTO_UNITS)}")
    pages = root.findall("a:Layout/a:Page", ns)
    if len(pages) != 1:
        raise TextFileError(f"has {len(pages)} <Page> elements; name one ALTO file per page")
    page = pages[0]
    page_width, page_height = _number(page, "WIDTH"), _number(page, "HEIGHT")
    if page_width and page_height:
        scale = _Scale(canvas[0] / page_width, canvas[1] / page_height, *canvas)
    elif unit == "pixel":
        scale = _Scale(1.0, 1.0, *canvas)
    else:
        raise TextFileError(f"the Page has no WIDTH and HEIGHT, needed to place {unit} measures on the image")
    lines = []
    for text_line in page.iter(f"{{{namespace}}}TextLine"):
        words = []
        for string in text_line.iter(f"{{{namespace}}}String"):
            content = string.get("CONTENT", "").strip()
            box = _alto_box(string, scale)
            if content and box is not None:
                words.append(Word(content, box))
        line_box = _alto_box(text_line, scale) or _union(word.box for word in words)
        if words and line_box is not None:
            lines.append(Line(tuple(words), line_box))
    return PageText(tuple(lines), "alto", language)


def _number(element: Element, name: str) -> float | None:
    raw = element.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise TextFileError(f"<{element.tag.partition('}')[2]}> has {name}={raw!r}, which is not a number") from None
    return value if math.isfinite(value) and value >= 0 else None


def _alto_box(element: Element, scale: _Scale) -> Region | None:
    values = [_number(element, name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
    if any(value is None for value in values):
        return None
    return scale.box(*values)  # type: ignore[arg-type]


def _union(boxes: Iterator[Region]) -> Region | None:
    found = list(boxes)
    if not found:
        return None
    x0, y0 = min(box.x for box in found), min(box.y for box in found)
    x1, y1 = max(box.x + box.width for box in found), max(box.y + box.height for box in found)
    return Region(x0, y0, x1 - x0, y1 - y0)


def parse_hocr(data: bytes, canvas: tuple[int, int], language: str = "vi") -> PageText:
    try:
        markup = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TextFileError(f"not UTF-8 text ({error.reason})") from None
    reader = _HocrReader()
    reader.feed(markup)
    reader.close()
    if reader.page_count != 1:
        raise TextFileError(f"has {reader.page_count} ocr_page elements; name one hOCR file per page")
    page = reader.page_bbox
    if page is not None and page[2] > page[0] and page[3] > page[1]:
        scale = _Scale(canvas[0] / (page[2] - page[0]), canvas[1] / (page[3] - page[1]), *canvas)
        origin = page[:2]
    else:
        scale, origin = _Scale(1.0, 1.0, *canvas), (0.0, 0.0)
    lines = []
    for line_bbox, raw_words in reader.lines:
        words = []
        for text, bbox in raw_words:
            box = _hocr_box(bbox, origin, scale)
            if text.strip() and box is not None:
                words.append(Word(text.strip(), box))
        line_box = _hocr_box(line_bbox, origin, scale) or _union(word.box for word in words)
        if words and line_box is not None:
            lines.append(Line(tuple(words), line_box))
    return PageText(tuple(lines), "hocr", language)


_Bbox = tuple[float, float, float, float]


def _hocr_box(bbox: _Bbox | None, origin: tuple[float, float], scale: _Scale) -> Region | None:
    if bbox is None:
        return None
    x0, y0, x1, y1 = bbox
    return scale.box(x0 - origin[0], y0 - origin[1], x1 - x0, y1 - y0)


def _bbox(title: str | None) -> _Bbox | None:
    match = _BBOX.search(title or "")
    return tuple(float(value) for value in match.groups()) if match else None  # type: ignore[return-value]


class _HocrReader(HTMLParser):
    """Collects the page bbox, then each line's bbox and its words' text and bbox, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page_count = 0
        self.page_bbox: _Bbox | None = None
        self.lines: list[tuple[_Bbox | None, list[tuple[str, _Bbox | None]]]] = []
        # Open elements: for each, whether it opened a line or a word, so its end closes it.
        self._open: list[str] = []
        self._word: list[str] | None = None
        self._word_bbox: _Bbox | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        role = ""
        if "ocr_page" in classes:
            self.page_count += 1
            self.page_bbox = _bbox(attributes.get("title"))
        elif classes & HOCR_LINE_CLASSES:
            self.lines.append((_bbox(attributes.get("title")), []))
            role = "line"
        elif "ocrx_word" in classes and self.lines:
            self._word, self._word_bbox, role = [], _bbox(attributes.get("title")), "word"
        if tag not in _VOID_ELEMENTS:
            self._open.append(role)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_ELEMENTS or not self._open:
            return
        if self._open.pop() == "word" and self._word is not None:
            self.lines[-1][1].append(("".join(self._word), self._word_bbox))
            self._word = None

    def handle_data(self, data: str) -> None:
        if self._word is not None:
            self._word.append(data)


_VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                            "track", "wbr"})
