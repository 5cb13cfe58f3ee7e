"""Every page's text for a build: the curator's ALTO or hOCR file where a page names one (supplied
text wins), else OCR, else nothing.

Texts are stored beside the build as ``<out>/text/<document id>/p<N>.json`` (``PageText.to_json``),
each with what it was made from: a page whose master and OCR settings are unchanged is not
recognised again, but taken from there. Recognition runs one task per page on an executor (a Dask
cluster's: ``manifests.cluster``); a page whose task fails is reported, the others go on.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass
from pathlib import Path

from iiif_server.errors import IIIFError
from iiif_server.settings import ImageRoot, ObjectStoreRoot, Settings
from iiif_server.sources import open_source
from manifests.images import ImageSize
from manifests.load import ContentError, Problem
from manifests.model import Content
from manifests.ocr import OcrOptions, ocr_made_from, recognise_page
from manifests.pagetext import PageText, page_text_from_json, text_json, text_path
from manifests.textimport import TextFileError, parse_page_text, text_format

# document id -> one entry per page (None: the page has no text). What the build publishes as
# annotations and the search index reads.
PageTexts = Mapping[str, Sequence[PageText | None]]
PageKey = tuple[str, int]  # document id, 0-based page index


def read_supplied_texts(content: Content, sizes: Mapping[str, ImageSize]) -> dict[PageKey, PageText]:
    """The pages' ALTO and hOCR files on their canvases; ContentError naming each unreadable file's page."""
    texts: dict[PageKey, PageText] = {}
    problems = []
    for document in content.documents:
        for index, page in enumerate(document.pages):
            if page.text is None:
                continue
            size = sizes[page.image]
            try:
                data = page.text.read_bytes()
                page_text = parse_page_text(data, text_format(page.text), (size.width, size.height))
            except (OSError, TextFileError) as error:
                reason = (error.strerror or type(error).__name__) if isinstance(error, OSError) else str(error)
                problems.append(Problem(page.origin, f"pages > item {index + 1} > text",
                                        f"{page.text.name} cannot be read: {reason}"))
                continue
            made_from = hashlib.sha256(data).hexdigest()[:32]
            texts[(document.id, index)] = PageText(page_text.lines, page_text.source, page_text.language, made_from)
    if problems:
        raise ContentError(problems)
    return texts


def read_stored_texts(out_dir: Path, content: Content) -> dict[PageKey, PageText]:
    """The texts an earlier build or ``iiif-archive ocr`` stored for the content's pages (unreadable ones left out)."""
    stored = {}
    for document in content.documents:
        for index in range(len(document.pages)):
            try:
                data = json.loads((out_dir / text_path(document.id, index)).read_text(encoding="utf-8"))
                stored[(document.id, index)] = page_text_from_json(data)
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return stored


@dataclass(frozen=True)
class OcrJob:
    """One page to have text from OCR: its master, canvas, and what its text would be made from."""

    document_id: str
    page_index: int
    identifier: str
    canvas: tuple[int, int]
    made_from: str

    @property
    def key(self) -> PageKey:
        return (self.document_id, self.page_index)

    def __str__(self) -> str:
        return f"{self.document_id} page {self.page_index + 1} ({self.identifier})"


def ocr_jobs(content: Content, sizes: Mapping[str, ImageSize], image_root: ImageRoot, options: OcrOptions,
             supplied: Mapping[PageKey, PageText]) -> list[OcrJob]:
    """Every page without supplied text, with its master's fingerprint (one stat or HEAD each)."""
    source = open_source(Settings(image_root=image_root))
    jobs = []
    for document in content.documents:
        for index, page in enumerate(document.pages):
            if (document.id, index) in supplied:
                continue
            try:
                token = source.locate(page.image).fingerprint.token
            except IIIFError as error:
                raise ContentError([Problem(page.origin, f"pages > item {index + 1} > image", error.reason)]) from None
            size = sizes[page.image]
            jobs.append(OcrJob(document.id, index, page.image, (size.width, size.height),
                               ocr_made_from(page.image, token, options)))
    return jobs


class OcrStatus(enum.Enum):
    RECOGNISED = "recognised"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class OcrResult:
    job: OcrJob
    status: OcrStatus
    text: PageText | None
    message: str = ""

    def __str__(self) -> str:
        return f"{self.job}: {self.message or self.status.value}"


def recognise(jobs: Sequence[OcrJob], image_root: ImageRoot, options: OcrOptions,
              stored: Mapping[PageKey, PageText], executor: Callable[[], Executor] | Executor,
              on_progress: Callable[[OcrResult], None] | None = None) -> list[OcrResult]:
    """One result per job, in the jobs' order: the stored text where it was made from the same
    master and settings, else a recognition, one task per page on the executor. ``executor`` may be a
    function making one, called only when a page needs recognising (starting a cluster costs seconds)."""
    if not isinstance(image_root, ObjectStoreRoot):
        image_root = image_root.absolute()  # a worker's current folder is not ours
    results: dict[int, OcrResult] = {}
    to_run = []
    for position, job in enumerate(jobs):
        previous = stored.get(job.key)
        if previous is not None and previous.source == "ocr" and previous.made_from == job.made_from:
            results[position] = OcrResult(job, OcrStatus.UNCHANGED, previous)
            if on_progress is not None:
                on_progress(results[position])
        else:
            to_run.append(position)
    if to_run:
        pool = executor() if callable(executor) else executor
        running: dict[Future, int] = {
            pool.submit(recognise_page, image_root, jobs[p].identifier, jobs[p].canvas, options, jobs[p].made_from): p
            for p in to_run
        }
        for future in as_completed(running):
            position = running[future]
            try:
                results[position] = OcrResult(jobs[position], OcrStatus.RECOGNISED, future.result())
            except Exception as error:  # noqa: BLE001 - an unreadable master, or a task lost with its worker
                results[position] = OcrResult(jobs[position], OcrStatus.FAILED, None, _one_line(error))
            if on_progress is not None:
                on_progress(results[position])
    return [results[position] for position in sorted(results)]


def assemble(content: Content, texts: Mapping[PageKey, PageText]) -> dict[str, tuple[PageText | None, ...]]:
    """The ``page_texts`` of a build: for each document, one entry per page."""
    return {document.id: tuple(texts.get((document.id, index)) for index in range(len(document.pages)))
            for document in content.documents}


def store_text(out_dir: Path, document_id: str, page_index: int, page_text: PageText) -> None:
    """Write one page's text in place (``iiif-archive ocr``), atomically: renamed over the old file."""
    final = out_dir / text_path(document_id, page_index)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.ocr-{os.getpid()}")
    try:
        temporary.write_bytes(text_json(page_text))
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def gather_page_texts(content: Content, sizes: Mapping[str, ImageSize], image_root: ImageRoot, out_dir: Path,
                      options: OcrOptions, executor: Callable[[], Executor] | None,
                      on_progress: Callable[[OcrResult], None] | None = None) -> tuple[PageTexts, list[OcrResult]]:
    """The build's ``page_texts``: supplied files first, then OCR of the other pages (stored texts of
    unchanged pages reused). With no ``executor`` nothing is recognised: only stored texts still made
    from the same master and settings are used. Raises ContentError for unreadable text files."""
    supplied = read_supplied_texts(content, sizes)
    jobs = ocr_jobs(content, sizes, image_root, options, supplied)
    stored = read_stored_texts(out_dir, content)
    if executor is None:
        results = [OcrResult(job, OcrStatus.UNCHANGED, stored[job.key]) for job in jobs
                   if job.key in stored and stored[job.key].source == "ocr" and stored[job.key].made_from == job.made_from]
    else:
        results = recognise(jobs, image_root, options, stored, executor, on_progress)
    texts = dict(supplied)
    texts.update({result.job.key: result.text for result in results if result.text is not None})
    return assemble(content, texts), results
