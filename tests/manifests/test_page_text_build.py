"""The build's page text: OCR'd and supplied pages stored beside the build, published as annotation
pages and ALTO, referenced from their canvases, served; incremental and atomic like the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import pyvips
from click.testing import CliRunner

from iiif_archive.app import create_platform_app
from iiif_archive.cli import main
from iiif_archive.settings import PlatformSettings
from manifests.serve import PRESENTATION_MEDIA_TYPE
from manifests.write import schema_errors
from tests.manifests.conftest import MINIMAL_DOCUMENT, write_document
from tests.manifests.test_write import siblings, snapshot

BASE_URL = "https://iiif.archives.example.vn"
PRESENTATION = f"{BASE_URL}/iiif/presentation"
# The miniature decree page 4 is 250 x 350 px; the vendor's ALTO measured a copy twice that size.
ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v3#">
  <Description><MeasurementUnit>pixel</MeasurementUnit></Description>
  <Layout><Page ID="p4" WIDTH="500" HEIGHT="700"><PrintSpace><TextBlock>
    <TextLine HPOS="100" VPOS="300" WIDTH="300" HEIGHT="40">
      <String CONTENT="Điều" HPOS="100" VPOS="300" WIDTH="90" HEIGHT="40"/><SP/>
      <String CONTENT="thứ" HPOS="200" VPOS="300" WIDTH="60" HEIGHT="40"/><SP/>
      <String CONTENT="8." HPOS="270" VPOS="300" WIDTH="130" HEIGHT="40"/>
    </TextLine>
  </TextBlock></PrintSpace></Page></Layout>
</alto>
"""


TYPED = "Quốc khánh 1945"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, sample_images: Path) -> Path:
    """A typed line big enough to read (the miniature samples' type is 2 px tall), and a decree page."""
    root = tmp_path_factory.mktemp("images")
    typed = pyvips.Image.text(TYPED, font="Noto Serif 14", dpi=300).embed(60, 80, 900, 250)
    (255 - typed).cast("uchar").tiffsave(str(root / "typed.tif"), tile=True, pyramid=True, tile_width=256,
                                         tile_height=256)
    (root / "decree-1945").mkdir()
    shutil.copy(sample_images / "decree-1945" / "p4.tif", root / "decree-1945" / "p4.tif")
    return root


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    """One document: a typed page to OCR, then a decree page with the curator's ALTO."""
    folder = tmp_path / "content"
    (folder / "text").mkdir(parents=True)
    (folder / "text" / "p2.alto.xml").write_text(ALTO, encoding="utf-8")
    write_document(folder, "letter", text=MINIMAL_DOCUMENT.format(id="letter", image="typed")
                   + "  - image: decree-1945/p4\n    text: text/p2.alto.xml\n")
    return folder


def run_build(content: Path, images: Path, out: Path, scheduler: str, *extra: str):
    return CliRunner().invoke(main, ["build", str(content), "--images", str(images), "--out", str(out),
                                     "--base-url", BASE_URL, "--scheduler", scheduler, *extra])


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_pages_get_text_annotations_and_the_alto_as_see_also(
        content: Path, images: Path, tmp_path: Path, dask_scheduler: str) -> None:
    out = tmp_path / "out"
    result = run_build(content, images, out, dask_scheduler)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"published to {out}: 10 built, 0 unchanged, 0 removed; 1 page(s) recognised by OCR\n"
    ocr, supplied = read(out / "text/letter/p1.json"), read(out / "text/letter/p2.json")
    assert ocr["source"] == "ocr" and [[word[0] for word in line["words"]] for line in ocr["lines"]] == [TYPED.split()]
    (x, y, width, height), typed_words = ocr["lines"][0]["box"], ocr["lines"][0]["words"]
    assert 55 <= x <= 65 and 75 <= y <= 90 and typed_words[0][1] == x  # drawn at (60, 80)
    # Supplied text wins over OCR, its boxes halved onto the 250 x 350 canvas.
    assert supplied["source"] == "alto"
    assert supplied["lines"] == [{"box": [50, 150, 150, 20],
                                  "words": [["Điều", 50, 150, 45, 20], ["thứ", 100, 150, 30, 20], ["8.", 135, 150, 65, 20]]}]
    canvases = read(out / "manifests/letter.json")["items"]
    for number, canvas in enumerate(canvases, start=1):
        assert canvas["annotations"] == [{"id": f"{PRESENTATION}/annotations/letter/p{number}.json",
                                          "type": "AnnotationPage"}]
    assert "seeAlso" not in canvases[0]
    assert canvases[1]["seeAlso"] == [{
        "id": f"{PRESENTATION}/alto/letter/p2.xml", "type": "Dataset",
        "label": {"vi": ["ALTO trang 2"], "en": ["ALTO of page 2"]},
        "format": "application/xml", "profile": "http://www.loc.gov/standards/alto/v3/alto.xsd",
    }]
    assert (out / "alto/letter/p2.xml").read_text(encoding="utf-8") == ALTO
    page = read(out / "annotations/letter/p2.json")
    assert schema_errors(page) == [] and schema_errors(read(out / "annotations/letter/p1.json")) == []
    assert [(item["textGranularity"], item["body"]["value"], item["target"].rsplit("#", 1)[1])
            for item in page["items"]] == [("line", "Điều thứ 8.", "xywh=50,150,150,20"),
                                           ("word", "Điều", "xywh=50,150,45,20"), ("word", "thứ", "xywh=100,150,30,20"),
                                           ("word", "8.", "xywh=135,150,65,20")]
    assert page["items"][0]["target"].startswith(canvases[1]["id"] + "#")

    again = run_build(content, images, out, dask_scheduler)
    assert again.stdout == f"{out} is up to date: 0 built, 10 unchanged, 0 removed\n"


def test_an_unreadable_text_file_fails_the_build_and_keeps_the_previous_output(
        content: Path, images: Path, tmp_path: Path, dask_scheduler: str) -> None:
    out = tmp_path / "out"
    assert run_build(content, images, out, dask_scheduler).exit_code == 0
    before = snapshot(out)
    (content / "text" / "p2.alto.xml").write_text(ALTO.replace("</alto>", ""), encoding="utf-8")
    result = run_build(content, images, out, dask_scheduler)
    assert result.exit_code == 1
    document = content / "documents" / "letter.yml"
    assert result.stderr.splitlines() == [
        f"{document}:11: pages > item 2 > text: p2.alto.xml cannot be read: not well-formed XML "
        "(no element found: line 12, column 0)",
        "build failed: 1 problem(s) to fix; nothing was written",
    ]
    assert snapshot(out) == before and siblings(out) == ["content", "out"]


def test_without_ocr_only_supplied_and_already_recognised_text_is_published(
        content: Path, images: Path, tmp_path: Path, dask_scheduler: str) -> None:
    out = tmp_path / "out"
    assert run_build(content, images, out, dask_scheduler, "--no-ocr").exit_code == 0
    assert not (out / "text/letter/p1.json").exists() and (out / "text/letter/p2.json").exists()
    assert "annotations" not in read(out / "manifests/letter.json")["items"][0]
    assert run_build(content, images, out, dask_scheduler).exit_code == 0
    recognised = (out / "text/letter/p1.json").read_bytes()
    # Turning OCR off later keeps the text already recognised from the same master.
    assert run_build(content, images, out, dask_scheduler, "--no-ocr").stdout.endswith(" 0 removed\n")
    assert (out / "text/letter/p1.json").read_bytes() == recognised


def test_annotation_pages_and_alto_are_served(content: Path, images: Path, tmp_path: Path,
                                             dask_scheduler: str) -> None:
    out = tmp_path / "out"
    assert run_build(content, images, out, dask_scheduler).exit_code == 0
    client = create_platform_app(PlatformSettings(image_root=images, presentation_root=out)).test_client()
    page = client.get("/iiif/presentation/annotations/letter/p2.json")
    assert page.status_code == 200 and page.headers["Content-Type"] == PRESENTATION_MEDIA_TYPE
    assert page.json["id"] == f"{PRESENTATION}/annotations/letter/p2.json"
    alto = client.get("/iiif/presentation/alto/letter/p2.xml")
    assert alto.status_code == 200 and alto.headers["Content-Type"].startswith("application/xml")
    assert alto.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert alto.headers["Access-Control-Allow-Origin"] == "*"
    assert alto.data.decode("utf-8") == ALTO
    assert client.get("/iiif/presentation/alto/letter/p9.xml").status_code == 404
    assert client.get("/iiif/presentation/.build-state.json").status_code == 404
