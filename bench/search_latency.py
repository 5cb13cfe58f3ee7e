"""Query latency of the search API over a generated corpus (README "Search"; target p95 <= 50 ms).

    python -m bench.search_latency [--pages 10000] [--queries 400]

Generates documents of Vietnamese-like text (syllables with every tone mark, 300 words a page),
builds the index as ``iiif-archive build`` does, and times ``GET /iiif/presentation/search/<doc>?q=``
and ``GET /viewer/search.json?q=`` through the platform app (Flask test client: the application's
own time, without a network in between), for one-word, two-word and phrase queries with and without
diacritics. Prints build time, index size and p50/p95/max per endpoint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from manifests.content_search import search_services
from manifests.pagetext import Box, Line, PageText, Word
from manifests.search_index import INDEX_FILE, write_index
from manifests.search_query import fold

ONSETS = ("", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "r", "s",
          "t", "th", "tr", "v", "x")
NUCLEI = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "oa", "uô", "ươ", "iê")
CODAS = ("", "c", "ch", "m", "n", "ng", "nh", "p", "t")
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # ngang, huyền, sắc, hỏi, ngã, nặng
PAGES_PER_DOCUMENT = 20
LINES_PER_PAGE = 30
WORDS_PER_LINE = 10
PAGE_SIZE = (1700, 2000)  # canvas pixels: the generated lines fit inside


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    import unicodedata

    words: set[str] = set()
    while len(words) < size:
        nucleus = rng.choice(NUCLEI)
        syllable = rng.choice(ONSETS) + nucleus[0] + rng.choice(TONES) + nucleus[1:] + rng.choice(CODAS)
        words.add(unicodedata.normalize("NFC", syllable))
    return sorted(words)


def generated_page(rng: random.Random, words: list[str], cumulative_weights: list[float]) -> PageText:
    lines = []
    for line_number in range(LINES_PER_PAGE):
        y = 100 + line_number * 60
        chosen = rng.choices(words, cum_weights=cumulative_weights, k=WORDS_PER_LINE)
        line_words = tuple(Word(text, Box(100 + index * 150, y, 120, 40)) for index, text in enumerate(chosen))
        lines.append(Line(line_words, Box(100, y, WORDS_PER_LINE * 150, 40)))
    return PageText(tuple(lines), source="ocr")


def generated_corpus(pages: int, seed: int = 15) -> tuple[dict[str, list[PageText]], list[str]]:
    """Document id -> pages, and the vocabulary (Zipf-like frequencies, as in real text)."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    rng.shuffle(weights)
    cumulative = list(itertools.accumulate(weights))
    corpus: dict[str, list[PageText]] = {}
    for number in range(0, pages, PAGES_PER_DOCUMENT):
        count = min(PAGES_PER_DOCUMENT, pages - number)
        corpus[f"doc-{number // PAGES_PER_DOCUMENT:05d}"] = [generated_page(rng, words, cumulative) for _ in range(count)]
    return corpus, words


def queries(corpus: dict[str, list[PageText]], count: int, seed: int = 16) -> list[tuple[str, str]]:
    """(document, q): words and two-word phrases taken from the corpus, half of them folded."""
    rng = random.Random(seed)
    chosen = []
    documents = sorted(corpus)
    for index in range(count):
        document = rng.choice(documents)
        line = rng.choice(rng.choice(corpus[document]).lines)
        start = rng.randrange(len(line.words) - 1)
        first, second = line.words[start].text, line.words[start + 1].text
        q = (first, f"{first} {second}", f'"{first} {second}"')[index % 3]
        chosen.append((document, fold(q) if index % 2 else q))
    return chosen


def write_manifests(corpus: dict[str, list[PageText]], folder: Path, base_url: str = "http://127.0.0.1:8000") -> None:
    """What the search endpoints read of each document's manifest: canvases, image services and the
    search service (a build writes full manifests; these keep the bench from timing iiif-prezi3)."""
    (folder / "manifests").mkdir(parents=True)
    for document, pages in corpus.items():
        manifest_id = f"{base_url}/iiif/presentation/manifests/{document}.json"
        canvases = [{
            "id": f"{manifest_id.removesuffix('.json')}/canvas/p{number}", "type": "Canvas",
            "width": PAGE_SIZE[0], "height": PAGE_SIZE[1],
            "items": [{"type": "AnnotationPage", "items": [{"type": "Annotation", "body": {
                "type": "Image", "width": PAGE_SIZE[0], "height": PAGE_SIZE[1],
                "service": [{"id": f"{base_url}/iiif/3/{document}%2Fp{number}", "type": "ImageService3"}]}}]}],
        } for number in range(1, len(pages) + 1)]
        manifest = {"id": manifest_id, "type": "Manifest", "label": {"none": [document]},
                    "service": search_services(base_url, document), "items": canvases}
        (folder / "manifests" / f"{document}.json").write_text(json.dumps(manifest), encoding="utf-8")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=400)
    options = parser.parse_args()

    from iiif_archive.app import create_platform_app
    from iiif_archive.settings import PlatformSettings

    corpus, _ = generated_corpus(options.pages)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "presentation").mkdir()
        started = time.perf_counter()
        write_index(corpus, root / "presentation")
        built = time.perf_counter() - started
        write_manifests(corpus, root / "presentation")
        size = (root / "presentation" / INDEX_FILE).stat().st_size
        print(f"{options.pages} pages, {sum(len(l.words) for p in corpus.values() for t in p for l in t.lines)} words: "
              f"index built in {built:.1f} s, {size / 1e6:.1f} MB")
        (root / "images").mkdir()
        app = create_platform_app(PlatformSettings(image_root=root / "images", presentation_root=root / "presentation"))
        client = app.test_client()
        for name, url in (("Content Search (one document)", "/iiif/presentation/search/{document}?q={q}"),
                          ("archive search API", "/viewer/search.json?q={q}")):
            timings, cpu = [], []
            for document, q in queries(corpus, options.queries):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(url.format(document=document, q=quote(q)))
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200, (url, q, response.status_code, response.get_data(as_text=True))
            # CPU time beside wall time: on a shared, loaded machine the wall time is mostly waiting.
            print(f"{name}: {len(timings)} queries, wall p50 {statistics.median(timings):.1f} ms, "
                  f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms; "
                  f"CPU p50 {statistics.median(cpu):.1f} ms, p95 {percentile(cpu, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
