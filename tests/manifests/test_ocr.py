"""OCR: a generated decree page read back within the character error rate target, boxes on the canvas,
a reduced level read, unchanged pages not recognised again, one task per page on a Dask cluster."""

from __future__ import annotations

import json
import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.text_quality import character_errors, edit_distance, ocr_sample_page
from iiif_archive.cli import main
from iiif_archive.samples import decree_page_text
from iiif_server.info import ServiceLimits
from iiif_server.plan import plan_render
from iiif_server.probe import probe
from iiif_server.sources.filesystem import FileSystemSource
from manifests.images import ImageSize
from manifests.load import load_content
from manifests.ocr import OcrOptions, reading_request
from manifests.pagetext import PageText
from manifests.pagetexts import OcrStatus, ocr_jobs, read_stored_texts, recognise, store_text
from tests.manifests.conftest import MINIMAL_DOCUMENT, write_document

# Issue 15 §6: OCR of the demo's typed pages within 3 % character error rate.
CER_TARGET = 0.03
# Half the demo's 600 dpi: a 2,500 x 3,500 px page, read at 1,800 px wide (about 215 dpi).
PAGE_SCALE = 0.5
PAGE_OCR = OcrOptions(width=1800)


@pytest.fixture(scope="module")
def decree_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PageText]:
    """Decree page 2 drawn at half the demo's resolution (its image root), and its OCR'd text."""
    root = tmp_path_factory.mktemp("decree")
    return root, ocr_sample_page(root, "decree-1945/p2", PAGE_SCALE, PAGE_OCR)


def test_a_generated_decree_page_is_read_within_the_error_rate_target(decree_page) -> None:
    found = decree_page[1].text
    errors, characters = character_errors(decree_page_text(2), found)
    assert errors / characters <= CER_TARGET, (errors, characters, found)
    # Diacritics survive: the words with stacked marks are read as typed.
    assert "Uỷ ban Dự thảo Thể lệ cuộc Tổng tuyển cử" in found


@pytest.mark.parametrize(("reference", "hypothesis", "distance"), [
    ("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
    ("Quốc", "Quoc", 1),  # one substitution per lost tone mark (NFC: one character each)
], ids=["empty", "equal", "all deleted", "all inserted", "classic", "diacritic"])
def test_edit_distance_counts_character_edits(reference: str, hypothesis: str, distance: int) -> None:
    assert edit_distance(reference, hypothesis) == distance


def test_character_errors_ignore_line_breaks_and_runs_of_spaces() -> None:
    assert character_errors("Hà Nội,\nngày 8", "Hà  Nội, ngày 8\n") == (0, 14)


def test_recognised_boxes_are_in_canvas_pixels(decree_page) -> None:
    root, page_text = decree_page
    source = FileSystemSource(root)
    info = probe(source, source.locate("decree-1945/p2"), 512)
    header = page_text.lines[0]
    assert header.text == "VIỆT NAM DÂN CHỦ CỘNG HOÀ"
    # The heading is centred below the 280 px top margin of the 2,500 px wide page (not of the 1,800 px reading).
    centre = header.box.x + header.box.width / 2
    assert abs(centre - info.width / 2) < info.width * 0.01
    assert 270 <= header.box.y <= 300
    assert page_text.source == "ocr" and page_text.language == "vi"
    for line in page_text.lines:
        assert line.box.x + line.box.width <= info.width and line.box.y + line.box.height <= info.height


def test_a_large_master_is_read_from_a_reduced_level(decree_page) -> None:
    root, _ = decree_page
    source = FileSystemSource(root)
    info = probe(source, source.locate("decree-1945/p2"), 512)
    plan = plan_render(reading_request("decree-1945/p2", info.width, OcrOptions(width=1200)), info,
                       ServiceLimits(10_000, 10_000, 40_000_000))
    # The 2,500 px master's 1,250 px level, scaled to 1,200 px: the full resolution is never decoded.
    assert (plan.level_index, plan.level.width, plan.width) == (1, 1250, 1200)


def test_language_lists_name_tesseract_models() -> None:
    assert OcrOptions(language="vie+chi_sim").language_tag == "vi"
    assert OcrOptions(language="eng").language_tag == "en"


def test_a_master_narrower_than_the_reading_width_is_not_upscaled() -> None:
    request = reading_request("p", 900, OcrOptions(width=2500))
    assert request.size.width == 900 and request.quality.value == "gray" and request.format.value == "png"


@pytest.mark.parametrize(("width", "language", "message"), [
    (100, "vie", "between 200 and 10,000"), (2500, "vie;rm", "not a Tesseract language list"),
    (2500, "vie+", "not a Tesseract language list"),
])
def test_bad_ocr_options_are_refused(width: int, language: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OcrOptions(language=language, width=width)


class CountingExecutor(ThreadPoolExecutor):
    """Counts the tasks submitted: each one is a page recognised."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, *args, **kwargs) -> Future:
        self.submitted += 1
        return super().submit(*args, **kwargs)


def two_page_content(folder: Path) -> Path:
    content = folder / "content"
    text = MINIMAL_DOCUMENT.format(id="letter", image="letter-1946/p2") + "  - image: decree-1945/p4\n"
    write_document(content, "letter", text=text)
    return content


def jobs_of(content: Path, images: Path, options: OcrOptions = OcrOptions()):
    loaded = load_content(content)
    source = FileSystemSource(images)
    sizes = {page.image: ImageSize(*_size(source, page.image)) for page in loaded.documents[0].pages}
    return loaded, ocr_jobs(loaded, sizes, images, options, {})


def _size(source: FileSystemSource, identifier: str) -> tuple[int, int]:
    info = probe(source, source.locate(identifier), 512)
    return info.width, info.height


def test_unchanged_pages_are_not_recognised_again(tmp_path: Path, sample_images: Path) -> None:
    images = tmp_path / "images"
    for name in ("letter-1946/p2.tif", "decree-1945/p4.tif"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        (images / name).write_bytes((sample_images / name).read_bytes())
    content, out = two_page_content(tmp_path), tmp_path / "out"

    def run(options: OcrOptions = OcrOptions()) -> tuple[int, list]:
        loaded, jobs = jobs_of(content, images, options)
        with CountingExecutor() as executor:
            results = recognise(jobs, images, options, read_stored_texts(out, loaded), executor)
        for result in results:
            if result.status is OcrStatus.RECOGNISED:
                store_text(out, result.job.document_id, result.job.page_index, result.text)
        return executor.submitted, [result.status for result in results]

    assert run() == (2, [OcrStatus.RECOGNISED] * 2)
    assert run() == (0, [OcrStatus.UNCHANGED] * 2)
    master = images / "decree-1945/p4.tif"
    os.utime(master, ns=(master.stat().st_atime_ns, master.stat().st_mtime_ns + 10**9))  # a new master
    assert run() == (1, [OcrStatus.UNCHANGED, OcrStatus.RECOGNISED])
    assert run(OcrOptions(width=1000)) == (2, [OcrStatus.RECOGNISED] * 2)  # new settings: everything again
    stored = json.loads((out / "text/letter/p2.json").read_text(encoding="utf-8"))
    assert stored["source"] == "ocr" and stored["madeFrom"]


def test_one_task_per_page_on_a_dask_cluster(tmp_path: Path, sample_images: Path, dask_executor: Executor) -> None:
    content = two_page_content(tmp_path)
    loaded, jobs = jobs_of(content, sample_images)
    results = recognise(jobs, sample_images, OcrOptions(), {}, dask_executor)
    assert [result.status for result in results] == [OcrStatus.RECOGNISED] * 2
    assert all(result.text.source == "ocr" and result.text.made_from == job.made_from
               for result, job in zip(results, jobs, strict=True))


def test_a_page_that_cannot_be_read_fails_alone(tmp_path: Path, sample_images: Path) -> None:
    images = tmp_path / "images"
    (images / "letter-1946").mkdir(parents=True)
    (images / "letter-1946/p2.tif").write_bytes((sample_images / "letter-1946/p2.tif").read_bytes())
    (images / "decree-1945").mkdir()
    (images / "decree-1945/p4.tif").write_bytes(b"II*\x00 not a TIFF")
    content = two_page_content(tmp_path)
    loaded = load_content(content)
    sizes = {"letter-1946/p2": ImageSize(*_size(FileSystemSource(images), "letter-1946/p2")),
             "decree-1945/p4": ImageSize(250, 350)}
    jobs = ocr_jobs(loaded, sizes, images, OcrOptions(), {})
    with ThreadPoolExecutor(2) as executor:
        results = recognise(jobs, images, OcrOptions(), {}, executor)
    assert [result.status for result in results] == [OcrStatus.RECOGNISED, OcrStatus.FAILED]
    assert "\n" not in results[1].message and str(images) not in results[1].message


def test_the_ocr_command_stores_each_page_s_text_and_skips_them_next_time(
        tmp_path: Path, sample_images: Path, dask_scheduler: str) -> None:
    content, out = two_page_content(tmp_path), tmp_path / "out"
    arguments = ["ocr", str(content), "--images", str(sample_images), "--out", str(out), "--scheduler", dask_scheduler]
    first = CliRunner().invoke(main, arguments)
    assert first.exit_code == 0, first.output
    assert "2 recognised, 0 unchanged, 0 failed" in first.output
    assert sorted(path.name for path in (out / "text/letter").iterdir()) == ["p1.json", "p2.json"]
    second = CliRunner().invoke(main, arguments)
    assert "0 recognised, 2 unchanged, 0 failed" in second.output


@pytest.mark.parametrize(("arguments", "message"), [
    (["--ocr-language", "klingon"], "Tesseract has no klingon model"),
    (["--ocr-width", "50"], "between 200 and 10,000"),
    (["--workers", "1", "--scheduler", "tcp://127.0.0.1:1"], "--workers sizes the local cluster"),
])
def test_bad_ocr_options_are_usage_errors(tmp_path: Path, sample_images: Path, arguments: list[str], message: str) -> None:
    content = two_page_content(tmp_path)
    result = CliRunner().invoke(main, ["ocr", str(content), "--images", str(sample_images), *arguments])
    assert result.exit_code == 2 and message in result.output
