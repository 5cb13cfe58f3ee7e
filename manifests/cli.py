"""``iiif-archive build`` and ``iiif-archive ingest``: the curators' two commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from iiif_server.settings import ImageRoot

if TYPE_CHECKING:
    from manifests.ocr import OcrOptions
    from manifests.pagetexts import OcrResult

FOLDER = click.Path(file_okay=False, path_type=Path)


class ImageRootParam(click.ParamType):
    """A local folder or s3://BUCKET/PREFIX (the bucket's connection comes from the AWS_* variables)."""

    name = "FOLDER|s3://BUCKET/PREFIX"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        from iiif_server.settings import parse_image_root

        try:
            return parse_image_root(value) if isinstance(value, str) else value
        except ValueError as error:
            self.fail(str(error), param, ctx)


IMAGE_ROOT = ImageRootParam()


def ocr_options(command: Callable) -> Callable:
    """The options of OCR and of the cluster it runs on, shared by ``build`` and ``ocr``."""
    options = [
        click.option("--ocr-language", default="vie", show_default=True,
                     help="Tesseract language(s) of the pages, '+'-joined (vie+eng)."),
        click.option("--ocr-width", default=2500, show_default=True, type=int,
                     help="Width in pixels each page is read at for OCR (a reduced level of its master)."),
        click.option("--scheduler", metavar="tcp://HOST:8786",
                     help="Dask scheduler of a cluster to run OCR on [default: a local cluster on this machine]."),
        click.option("--workers", "local_workers", type=click.IntRange(min=1),
                     help="Worker processes of the local cluster [default: one per core]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _checked_ocr_options(language: str, width: int, scheduler: str | None, local_workers: int | None) -> OcrOptions:
    from manifests.ocr import OcrOptions, check_languages

    if scheduler is not None and local_workers is not None:
        raise click.UsageError("--workers sizes the local cluster; a --scheduler's cluster has its own workers")
    try:
        options = OcrOptions(language=language, width=width)
        check_languages(options)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    return options


@click.command()
@click.argument("content_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--images", "image_root", required=True, type=IMAGE_ROOT,
              help="Image root (a folder or s3://BUCKET/PREFIX): the masters the pages name.")
@click.option("--out", "out_dir", type=FOLDER, default=Path("public/iiif"), show_default=True,
              help="Folder the manifests and collections go to (served under /iiif/presentation/).")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Public URL of the server, used in every id (no trailing slash).")
@click.option("--check", is_flag=True, help="Validate everything and write nothing (no OCR).")
@click.option("--ocr/--no-ocr", "run_ocr", default=True, show_default=True,
              help="Recognise the pages that have no ALTO or hOCR file and no stored text of their current master.")
@ocr_options
def build(content_dir: Path, image_root: ImageRoot, out_dir: Path, base_url: str, check: bool, run_ocr: bool,
          ocr_language: str, ocr_width: int, scheduler: str | None, local_workers: int | None) -> None:
    """Build IIIF Presentation 3.0 manifests and collections from CONTENT_DIR (see README, Manifests),
    with every page's text as annotations (see README, Page text)."""
    from manifests.build import Urls, plan_outputs
    from manifests.cluster import SchedulerUnreachable, dask_executor
    from manifests.images import check_content
    from manifests.load import ContentError
    from manifests.pagetexts import OcrStatus, gather_page_texts
    from manifests.write import BuildError, publish

    if isinstance(image_root, Path) and not image_root.is_dir():
        raise click.UsageError(f"--images: folder {image_root} does not exist")
    if base_url.endswith("/") or not base_url.startswith(("http://", "https://")):
        raise click.UsageError(f"--base-url must start with http:// or https:// and not end with '/': {base_url}")
    options = _checked_ocr_options(ocr_language, ocr_width, scheduler, local_workers)
    try:
        content, sizes = check_content(content_dir, image_root)
        with ExitStack() as cluster:
            executor = None if check or not run_ocr else (
                lambda: cluster.enter_context(dask_executor(scheduler, local_workers)))
            page_texts, ocr_results = gather_page_texts(content, sizes, image_root, out_dir, options, executor,
                                                        on_progress=_report_ocr)
        failed = [result for result in ocr_results if result.status is OcrStatus.FAILED]
        if failed:
            raise BuildError("\n".join(["OCR failed:", *map(str, failed)]))
        urls = Urls(base_url)
        report = publish(plan_outputs(content, sizes, urls, page_texts), out_dir, stream_url=urls.activity_stream(),
                         page_texts=page_texts, check_only=check)
    except SchedulerUnreachable as error:
        raise click.UsageError(str(error)) from None
    except ContentError as error:
        click.echo(str(error), err=True)
        click.echo(f"build failed: {len(error.problems)} problem(s) to fix; nothing was written", err=True)
        sys.exit(1)
    except BuildError as error:
        click.echo(str(error), err=True)
        click.echo("build failed; nothing was written", err=True)
        sys.exit(1)
    recognised = sum(1 for result in ocr_results if result.status is OcrStatus.RECOGNISED)
    summary = f"{len(report.built)} built, {len(report.reused)} unchanged, {len(report.removed)} removed"
    if recognised:
        summary += f"; {recognised} page(s) recognised by OCR"
    if check:
        click.echo(f"check passed: {len(content.documents)} documents, {len(content.exhibitions)} exhibitions; "
                   "nothing written")
    elif report.written:
        click.echo(f"published to {out_dir}: {summary}")
    else:
        click.echo(f"{out_dir} is up to date: {summary}")


@click.command()
@click.argument("scans_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--images", "image_root", required=True, type=IMAGE_ROOT,
              help="Image root the masters are written to: a folder or s3://BUCKET/PREFIX.")
@click.option("--quality", default=85, show_default=True, type=click.IntRange(1, 100), help="JPEG quality of the tiles.")
@click.option("--tile-size", default=512, show_default=True, type=int, help="Tile edge in pixels (a multiple of 16).")
@click.option("--scheduler", metavar="tcp://HOST:8786",
              help="Dask scheduler of a cluster to run the scans on [default: a local cluster on this machine].")
@click.option("--workers", "local_workers", type=click.IntRange(min=1),
              help="Worker processes of the local cluster [default: one per core].")
def ingest(scans_dir: Path, image_root: ImageRoot, quality: int, tile_size: int, scheduler: str | None,
           local_workers: int | None) -> None:
    """Convert the scans in SCANS_DIR into pyramidal TIFF masters below the image root.

    Each scan is one task on a Dask cluster. Exits with the number of scans that failed (0 when all went well).
    """
    from tqdm import tqdm

    from manifests.cluster import SchedulerUnreachable, dask_executor
    from manifests.ingest import IngestOptions, IngestResult, IngestStatus, check_folders, find_scans
    from manifests.ingest import ingest as ingest_scans

    if scheduler is not None and local_workers is not None:
        raise click.UsageError("--workers sizes the local cluster; a --scheduler's cluster has its own workers")
    try:
        options = IngestOptions(quality=quality, tile_size=tile_size)
        check_folders(scans_dir, image_root)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    scans = find_scans(scans_dir)
    total_bytes = sum(scan.stat().st_size for scan in scans)
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="ingest", disable=None) as bar:
        done = 0

        def report(result: IngestResult, size: int) -> None:
            nonlocal done
            done += 1
            bar.update(size)
            bar.set_postfix_str(f"{done}/{len(scans)} files")
            if result.status is IngestStatus.FAILED:
                bar.write(f"error: {result}", file=sys.stderr)

        try:
            with dask_executor(scheduler, local_workers) as executor:
                results = ingest_scans(scans_dir, image_root, executor, options, on_progress=report)
        except SchedulerUnreachable as error:
            raise click.UsageError(str(error)) from None
    counts = {status: sum(1 for r in results if r.status is status) for status in IngestStatus}
    click.echo(f"{counts[IngestStatus.CONVERTED]} converted, {counts[IngestStatus.UNCHANGED]} unchanged, "
               f"{counts[IngestStatus.FAILED]} failed")
    sys.exit(min(counts[IngestStatus.FAILED], 125))


def _report_ocr(result: OcrResult) -> None:
    if result.status is not result.status.UNCHANGED:
        click.echo(f"ocr: {result}", err=True)


@click.command()
@click.argument("content_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--images", "image_root", required=True, type=IMAGE_ROOT,
              help="Image root (a folder or s3://BUCKET/PREFIX): the masters the pages name.")
@click.option("--out", "out_dir", type=FOLDER, default=Path("public/iiif"), show_default=True,
              help="The build's output folder: texts go to its text/ folder, where the next build takes them.")
@ocr_options
def ocr(content_dir: Path, image_root: ImageRoot, out_dir: Path, ocr_language: str, ocr_width: int,
        scheduler: str | None, local_workers: int | None) -> None:
    """Recognise the text of every page of CONTENT_DIR that names no ALTO or hOCR file.

    One task per page on a Dask cluster; pages whose master and OCR options are unchanged are not
    recognised again. Each text is stored as soon as it is recognised; the next `build` (with the same
    --ocr-language and --ocr-width) publishes them. Exits with the number of pages that failed.
    """
    from tqdm import tqdm

    from manifests.cluster import SchedulerUnreachable, dask_executor
    from manifests.images import check_content
    from manifests.load import ContentError
    from manifests.pagetexts import OcrStatus, ocr_jobs, read_stored_texts, read_supplied_texts, recognise, store_text

    if isinstance(image_root, Path) and not image_root.is_dir():
        raise click.UsageError(f"--images: folder {image_root} does not exist")
    options = _checked_ocr_options(ocr_language, ocr_width, scheduler, local_workers)
    try:
        content, sizes = check_content(content_dir, image_root)
        jobs = ocr_jobs(content, sizes, image_root, options, read_supplied_texts(content, sizes))
    except ContentError as error:
        click.echo(str(error), err=True)
        click.echo(f"ocr failed: {len(error.problems)} problem(s) to fix", err=True)
        sys.exit(1)
    with tqdm(total=len(jobs), unit="page", desc="ocr", disable=None) as bar:

        def report(result: OcrResult) -> None:
            bar.update(1)
            if result.status is OcrStatus.RECOGNISED and result.text is not None:
                store_text(out_dir, result.job.document_id, result.job.page_index, result.text)
            elif result.status is OcrStatus.FAILED:
                bar.write(f"error: {result}", file=sys.stderr)

        try:
            with ExitStack() as cluster:
                results = recognise(jobs, image_root, options, read_stored_texts(out_dir, content),
                                    lambda: cluster.enter_context(dask_executor(scheduler, local_workers)), report)
        except SchedulerUnreachable as error:
            raise click.UsageError(str(error)) from None
    counts = {status: sum(1 for result in results if result.status is status) for status in OcrStatus}
    click.echo(f"{counts[OcrStatus.RECOGNISED]} recognised, {counts[OcrStatus.UNCHANGED]} unchanged, "
               f"{counts[OcrStatus.FAILED]} failed")
    sys.exit(min(counts[OcrStatus.FAILED], 125))
