"""ALTO and hOCR -> PageText in canvas pixels: a known layout in each unit and version, box for box."""

from __future__ import annotations

import pytest

from manifests.model import Region
from manifests.textimport import TextFileError, parse_alto, parse_hocr, text_format

# The known layout, in canvas pixels (a 2480 x 1240 canvas): two lines, three words.
CANVAS = (2480, 1240)
EXPECTED = [
    ("Quốc khánh", Region(248, 124, 1240, 124), [("Quốc", Region(248, 124, 496, 124)), ("khánh", Region(992, 124, 496, 124))]),
    ("Hà Nội", Region(248, 496, 744, 124), [("Hà", Region(248, 496, 248, 124)), ("Nội", Region(620, 496, 372, 124))]),
]


def alto(namespace_version: int, unit: str, page: tuple[float, float] | None, factor: float) -> bytes:
    """The known layout written in ALTO, each measure being canvas pixels x ``factor``."""

    def measures(box: Region) -> str:
        return (f'HPOS="{box.x * factor:g}" VPOS="{box.y * factor:g}" '
                f'WIDTH="{box.width * factor:g}" HEIGHT="{box.height * factor:g}"')

    lines = "".join(
        f"<TextLine {measures(line_box)}>"
        + '<SP WIDTH="1"/>'.join(f'<String CONTENT="{text}" {measures(box)}/>' for text, box in words)
        + "</TextLine>"
        for _, line_box, words in EXPECTED
    )
    size = f'WIDTH="{page[0]:g}" HEIGHT="{page[1]:g}"' if page else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<alto xmlns="http://www.loc.gov/standards/alto/ns-v{namespace_version}#">'
            f"<Description><MeasurementUnit>{unit}</MeasurementUnit></Description>"
            f'<Layout><Page ID="p1" {size}><PrintSpace><TextBlock ID="b1">{lines}</TextBlock>'
            f"</PrintSpace></Page></Layout></alto>").encode("utf-8")


def as_tuples(page_text) -> list:
    return [(line.text, line.box, [(word.text, word.box) for word in line.words]) for line in page_text.lines]


@pytest.mark.parametrize("version", [2, 3, 4], ids=["ALTO v2", "ALTO v3", "ALTO v4"])
@pytest.mark.parametrize(("unit", "page", "factor"), [
    ("pixel", CANVAS, 1),
    ("pixel", None, 1),
    ("pixel", (1240, 620), 0.5),  # ALTO of a reduced copy: every box doubles
    ("mm10", (2100, 1050), 2100 / 2480),  # 210 mm wide page; tenths of a millimetre
    ("inch1200", (9920, 4960), 4),
], ids=["pixel, same size", "pixel, no page size", "pixel, half size", "mm10 (A4 width)", "inch1200"])
def test_alto_boxes_land_on_the_canvas(version: int, unit: str, page, factor: float) -> None:
    page_text = parse_alto(alto(version, unit, page, factor), CANVAS)
    assert as_tuples(page_text) == EXPECTED
    assert page_text.source == "alto" and page_text.text == "Quốc khánh\nHà Nội"


def one_line_alto(strings: str, page: str = 'WIDTH="1000" HEIGHT="500"') -> bytes:
    return (f'<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page {page}><PrintSpace>'
            f"<TextBlock><TextLine>{strings}</TextLine></TextBlock></PrintSpace></Page></Layout></alto>").encode()


def test_alto_measures_off_the_pixel_grid_round_outwards_and_clip_to_the_canvas() -> None:
    # A 1000 x 500 page on the 2480 x 1240 canvas: every measure x 2.48.
    data = one_line_alto('<String CONTENT="a" HPOS="100.4" VPOS="10.6" WIDTH="0.2" HEIGHT="1"/>'
                         '<String CONTENT="b" HPOS="990" VPOS="0" WIDTH="100" HEIGHT="600"/>')
    (line,) = parse_alto(data, CANVAS).lines
    # 248.99 -> 248 and 249.49 -> 250; 26.29 -> 26 and 28.77 -> 29; the second word stops at the canvas edge.
    assert [word.box for word in line.words] == [Region(248, 26, 2, 3), Region(2455, 0, 25, 1240)]
    # A line without measures of its own covers its words.
    assert line.box == Region(248, 0, 2232, 1240)


def test_alto_words_without_text_or_measures_and_empty_lines_are_left_out() -> None:
    data = one_line_alto('<String CONTENT=" " HPOS="1" VPOS="1" WIDTH="5" HEIGHT="5"/>'
                         '<String CONTENT="x"/><String CONTENT="ok" HPOS="0" VPOS="0" WIDTH="10" HEIGHT="10"/>')
    assert [word.text for line in parse_alto(data, CANVAS).lines for word in line.words] == ["ok"]
    assert parse_alto(one_line_alto(""), CANVAS).lines == ()


@pytest.mark.parametrize(("data", "message"), [
    (b"<alto", "not well-formed XML"),
    (b'<alto xmlns="http://example.org/other"/>', "not an ALTO file"),
    (b'<!DOCTYPE alto [<!ENTITY big "xxxxxxxx">]><alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">&big;</alto>',
     "declares a DTD or entities"),
    (alto(3, "mm", None, 1), "MeasurementUnit 'mm' is not one of pixel, mm10, inch1200"),
    (alto(3, "mm10", None, 1), "the Page has no WIDTH and HEIGHT, needed to place mm10 measures"),
    (one_line_alto("", page='WIDTH="wide" HEIGHT="1"'), "<Page> has WIDTH='wide', which is not a number"),
    (alto(4, "pixel", None, 1).replace(b"</Layout>", b"<Page/></Layout>"), "has 2 <Page> elements"),
], ids=["truncated", "other namespace", "entities (billion laughs)", "unknown unit", "mm10 without page size",
        "bad number", "two pages"])
def test_unreadable_alto_is_one_line_that_says_why(data: bytes, message: str) -> None:
    with pytest.raises(TextFileError, match=message.replace("(", r"\(")):
        parse_alto(data, CANVAS)


def hocr(page_bbox: str, factor: float, doctype: str = "<!DOCTYPE html>") -> bytes:
    def title(box: Region) -> str:
        return (f'bbox {box.x * factor:g} {box.y * factor:g} {(box.x + box.width) * factor:g} '
                f'{(box.y + box.height) * factor:g}; x_wconf 93')

    lines = "".join(
        f"<span class='ocr_line' title='{title(line_box)}; baseline 0 -3'>"
        + " ".join(f"<span class='ocrx_word' title='{title(box)}'><strong>{text}</strong></span>" for text, box in words)
        + "</span>"
        for _, line_box, words in EXPECTED
    )
    return (f"{doctype}<html><head><meta charset='utf-8'><title>t</title></head><body>"
            f"<div class='ocr_page' title='image \"p1.png\"; {page_bbox}'><p class='ocr_par'>{lines}</p></div>"
            f"</body></html>").encode("utf-8")


@pytest.mark.parametrize(("page_bbox", "factor"), [
    ("bbox 0 0 2480 1240", 1),
    ("", 1),
    ("bbox 0 0 620 310", 0.25),  # hOCR of a copy a quarter of the size (what OCR of a reduced level gives)
], ids=["same size", "no page bbox", "quarter size"])
def test_hocr_boxes_land_on_the_canvas(page_bbox: str, factor: float) -> None:
    page_text = parse_hocr(hocr(page_bbox, factor), CANVAS)
    assert as_tuples(page_text) == EXPECTED
    assert page_text.source == "hocr"


def test_hocr_text_is_nfc_whatever_the_file_wrote() -> None:
    decomposed = hocr("bbox 0 0 2480 1240", 1).decode().replace("Quốc", "Quo\u0302\u0301c").encode()
    assert parse_hocr(decomposed, CANVAS).lines[0].words[0].text == "Quốc"


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe", "not UTF-8 text"),
    (b"<html><body><p>no pages</p></body></html>", "has 0 ocr_page elements"),
], ids=["not UTF-8", "no ocr_page"])
def test_unreadable_hocr_is_one_line_that_says_why(data: bytes, message: str) -> None:
    with pytest.raises(TextFileError, match=message):
        parse_hocr(data, CANVAS)


@pytest.mark.parametrize(("name", "expected"), [
    ("pages/p1.alto.xml", "alto"), ("p1.XML", "alto"), ("p1.hocr", "hocr"), ("p1.html", "hocr"),
])
def test_the_format_follows_the_file_name(name: str, expected: str) -> None:
    assert text_format(name) == expected


def test_other_file_names_are_refused() -> None:
    with pytest.raises(ValueError, match="not an ALTO or hOCR file name"):
        text_format("p1.txt")
