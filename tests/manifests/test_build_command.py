"""``iiif-archive build``: from curator files to a published folder, or a list of what to fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from iiif_archive.cli import main
from tests.manifests.test_write import siblings, snapshot

BASE_URL = "https://iiif.archives.example.vn"


def run_build(content: Path, images: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["build", str(content), "--images", str(images), "--out", str(out),
                                     "--base-url", BASE_URL, *extra])


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


@pytest.fixture()
def content(tmp_path: Path, demo_content: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(demo_content, copy)
    return copy


def test_build_publishes_the_demo_exhibition(content: Path, sample_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "public" / "iiif"
    result = run_build(content, sample_images, out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"published to {out}: 9 built, 0 unchanged, 0 removed\n"
    top = json.loads((out / "collection.json").read_text(encoding="utf-8"))
    assert top["items"][0]["id"] == f"{BASE_URL}/iiif/presentation/collections/national-day-75.json"
    exhibition = json.loads((out / "collections" / "national-day-75.json").read_text(encoding="utf-8"))
    assert len(exhibition["items"]) >= 4
    again = run_build(content, sample_images, out)
    assert again.stdout == f"{out} is up to date: 0 built, 9 unchanged, 0 removed\n"


def test_a_curator_mistake_fails_the_build_and_keeps_the_previous_output(
    content: Path, sample_images: Path, tmp_path: Path
) -> None:
    out = tmp_path / "public" / "iiif"
    assert run_build(content, sample_images, out).exit_code == 0
    before = snapshot(out)
    letter = content / "documents" / "letter-1946.yml"
    letter.write_text(letter.read_text(encoding="utf-8").replace("  en: National Archives Centre III\n", "")
                      .replace("image: letter-1946/p2", "image: letter-1946/p3"), encoding="utf-8")
    result = run_build(content, sample_images, out)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{letter}:{line_of(letter, 'attribution:')}: attribution: missing the English (en) translation",
        f"{letter}:{line_of(letter, 'letter-1946/p3')}: pages > item 2 > image: no image under the image root with identifier 'letter-1946/p3'",
        "build failed: 2 problem(s) to fix; nothing was written",
    ]
    assert snapshot(out) == before and siblings(out) == ["iiif"]


def test_check_validates_without_writing(content: Path, sample_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "public" / "iiif"
    result = run_build(content, sample_images, out, "--check")
    assert result.exit_code == 0
    assert result.stdout == "check passed: 5 documents, 1 exhibitions; nothing written\n"
    assert not out.exists()


@pytest.mark.parametrize("base_url", ["https://iiif.example.vn/", "iiif.example.vn"])
def test_base_url_must_be_an_address_without_trailing_slash(content: Path, sample_images: Path, tmp_path: Path,
                                                             base_url: str) -> None:
    result = CliRunner().invoke(main, ["build", str(content), "--images", str(sample_images), "--base-url", base_url])
    assert result.exit_code == 2
    assert "--base-url must start with http:// or https:// and not end with '/'" in result.stderr


def test_one_build_names_every_problem_of_a_document_at_once(content: Path, sample_images: Path, tmp_path: Path) -> None:
    """Issue 11.7: a missing translation and an unknown field (the schema), an https rights URI (the
    loader) and a page whose master is missing (the image root) are all reported by the first build."""
    letter = content / "documents" / "letter-1946.yml"
    rights = "http://rightsstatements.org/vocab/NoC-NC/1.0/"
    text = letter.read_text(encoding="utf-8")
    assert f"rights: {rights}\n" in text
    letter.write_text(
        text.replace(f"rights: {rights}\n", f"rights: {rights.replace('http:', 'https:')}\nnavdate: 1946-03-01\n")
            .replace("  en: National Archives Centre III\n", "")
            .replace("image: letter-1946/p2", "image: letter-1946/p3"),
        encoding="utf-8")
    result = run_build(content, sample_images, tmp_path / "out", "--check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [  # in the order of the file's lines
        f"{letter}:{line_of(letter, 'rights:')}: rights: write the rights URI exactly as {rights}",
        f"{letter}:{line_of(letter, 'navdate:')}: navdate: unknown field; did you mean 'navDate'?",
        f"{letter}:{line_of(letter, 'attribution:')}: attribution: missing the English (en) translation",
        f"{letter}:{line_of(letter, 'letter-1946/p3')}: pages > item 2 > image: no image under the image root with identifier 'letter-1946/p3'",
        "build failed: 4 problem(s) to fix; nothing was written",
    ]
