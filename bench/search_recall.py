"""Recall of search over a built folder, against text known to be on its pages (README "Search").

    python -m bench.search_recall public/iiif [--known known.json]

Every distinct word of each document's known text is searched in that document through the build's
index (``search.sqlite``, what readers search), once as written and once without its diacritics.
A word is found when a page whose known text holds it is among the pages the search returns. The
known text defaults to what the demo draws on its decree and letter pages (iiif_archive/samples.py);
``--known`` takes a JSON file {document id: [text of page 1, page 2, ...]}. Target: >= 95 % both ways.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from manifests.search_index import INDEX_FILE, SearchIndex
from manifests.search_query import Query, Term, exact_form, fold, tokens

TARGET = 0.95


@dataclass(frozen=True)
class Recall:
    words: int
    found_as_written: int
    found_without_diacritics: int
    missed: tuple[str, ...]  # "document: word" not found as written

    @property
    def as_written(self) -> float:
        return self.found_as_written / self.words if self.words else 1.0

    @property
    def without_diacritics(self) -> float:
        return self.found_without_diacritics / self.words if self.words else 1.0


def demo_known_text() -> dict[str, list[str]]:
    """The text the demo draws on the decree's and the letter's pages, markup removed."""
    from iiif_archive import samples

    def plain(markup: str) -> str:
        return re.sub(r"<[^>]+>", "", markup)

    decree = []
    for number, body in enumerate(samples.DECREE_PAGES, start=1):
        parts = [samples.DECREE_HEADER, samples.DECREE_TITLE if number == 1 else "", body, f"— {number} —",
                 samples.DECREE_SIGNING if number == len(samples.DECREE_PAGES) else ""]
        decree.append("\n".join(plain(part) for part in parts))
    return {"decree-1945": decree, "letter-1946": [plain(page) for page in samples.LETTER_PAGES]}


def measure_recall(index: SearchIndex, known: Mapping[str, Sequence[str]]) -> Recall:
    words = found_as_written = found_without = 0
    missed = []
    for document, pages in sorted(known.items()):
        pages_of: dict[str, set[int]] = {}
        for number, text in enumerate(pages, start=1):
            for word in tokens(exact_form(text)):
                pages_of.setdefault(word, set()).add(number)
        for word, expected in sorted(pages_of.items()):
            words += 1
            as_written = _found(index, document, (word,), expected)
            found_as_written += as_written
            found_without += _found(index, document, (fold(word),), expected)
            if not as_written:
                missed.append(f"{document}: {word}")
    return Recall(words, found_as_written, found_without, tuple(missed))


def _found(index: SearchIndex, document: str, term: tuple[str, ...], expected: set[int]) -> bool:
    return any(found.page in expected for found in index.search_document(document, Query((Term(term),))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the built folder (iiif-archive build --out)")
    parser.add_argument("--known", type=Path, help="JSON {document id: [page texts]} [default: the demo's]")
    options = parser.parse_args(argv)
    index = SearchIndex(options.folder / INDEX_FILE)
    if not index.exists():
        print(f"{options.folder} has no {INDEX_FILE}: build it with page texts first", file=sys.stderr)
        return 2
    known = json.loads(options.known.read_text(encoding="utf-8")) if options.known else demo_known_text()
    recall = measure_recall(index, known)
    print(f"{recall.words} distinct words: recall {recall.as_written:.1%} as written, "
          f"{recall.without_diacritics:.1%} without diacritics (target {TARGET:.0%})")
    for word in recall.missed:
        print(f"  not found: {word}")
    return 0 if min(recall.as_written, recall.without_diacritics) >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
