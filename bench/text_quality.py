"""Character error rate of OCR on the demo's typed pages, whose text is known because the demo draws it.

    .venv/bin/python -m bench.text_quality [--scale 1.0] [--ocr-width 2500] [--pages decree-1945/p1 ...]

Draws each decree and letter page (``iiif_archive.samples``) at ``--scale`` into a temporary image
root, recognises it as the build does (``manifests.ocr.recognise_page``: a reduced level read
through the Image API pipeline, Tesseract's vie model) and prints the CER of each page and of all
pages together: the edit distance (insertions, deletions, substitutions of characters) between
the known text and the OCR'd text, over the known text's length, both NFC with runs of white space
as one space.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pyvips

from iiif_archive.samples import decree_page_text, letter_page_text, master_path, sample_masters, write_sample_master
from manifests.ocr import OcrOptions, recognise_page
from manifests.pagetext import PageText

KNOWN_TEXTS = {
    **{f"decree-1945/p{number}": (lambda n=number: decree_page_text(n)) for number in range(1, 5)},
    **{f"letter-1946/p{number}": (lambda n=number: letter_page_text(n)) for number in range(1, 3)},
}


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def edit_distance(reference: str, hypothesis: str) -> int:
    """Levenshtein distance between two strings (one row of the table at a time)."""
    previous = list(range(len(hypothesis) + 1))
    for i, expected in enumerate(reference, start=1):
        current = [i]
        for j, found in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (expected != found)))
        previous = current
    return previous[-1]


def character_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference characters) after normalising both texts."""
    reference, hypothesis = normalised(reference), normalised(hypothesis)
    return edit_distance(reference, hypothesis), len(reference)


def ocr_sample_page(image_root: Path, identifier: str, scale: float, options: OcrOptions) -> PageText:
    """Draw the sample page (once per image root) and recognise it."""
    master = next(master for master in sample_masters() if master.identifier == identifier)
    path = master_path(image_root, master)
    if not path.exists():
        write_sample_master(image_root, master, scale)
    header = pyvips.Image.new_from_file(str(path))
    return recognise_page(image_root, identifier, (header.width, header.height), options, "")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="Scale the pages are drawn at (1 = 600 dpi).")
    parser.add_argument("--ocr-width", type=int, default=OcrOptions().width)
    parser.add_argument("--pages", nargs="*", default=list(KNOWN_TEXTS), choices=list(KNOWN_TEXTS))
    arguments = parser.parse_args(argv)
    options = OcrOptions(width=arguments.ocr_width)
    total_errors = total_characters = 0
    with tempfile.TemporaryDirectory(prefix="text-quality-") as folder:
        print(f"scale {arguments.scale}, OCR width {options.width} px, language {options.language}")
        for identifier in arguments.pages:
            started = time.monotonic()
            found = ocr_sample_page(Path(folder), identifier, arguments.scale, options).text
            errors, characters = character_errors(KNOWN_TEXTS[identifier](), found)
            total_errors, total_characters = total_errors + errors, total_characters + characters
            print(f"{identifier:16} CER {errors / characters:6.2%}  ({errors} errors in {characters} characters, "
                  f"{time.monotonic() - started:.0f} s with drawing)", flush=True)
    print(f"{'all pages':16} CER {total_errors / total_characters:6.2%}  ({total_errors} errors in "
          f"{total_characters} characters)")


if __name__ == "__main__":
    main()
