"""``iiif-archive build`` and ``iiif-archive ingest``: the curators' two commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from iiif_server.settings import ImageRoot

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


@click.command()
@click.argument("content_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--images", "image_root", required=True, type=IMAGE_ROOT,
              help="Image root (a folder or s3://BUCKET/PREFIX): the masters the pages name.")
@click.option("--out", "out_dir", type=FOLDER, default=Path("public/iiif"), show_default=True,
              help="Folder the manifests and collections go to (served under /iiif/presentation/).")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Public URL of the server, used in every id (no trailing slash).")
@click.option("--check", is_flag=True, help="Validate everything and write nothing.")
def build(content_dir: Path, image_root: ImageRoot, out_dir: Path, base_url: str, check: bool) -> None:
    """Build IIIF Presentation 3.0 manifests and collections from CONTENT_DIR (see README, Manifests)."""
    from manifests.build import Urls, plan_outputs
    from manifests.images import check_content
    from manifests.load import ContentError
    from manifests.write import BuildError, publish

    if isinstance(image_root, Path) and not image_root.is_dir():
        raise click.UsageError(f"--images: folder {image_root} does not exist")
    if base_url.endswith("/") or not base_url.startswith(("http://", "https://")):
        raise click.UsageError(f"--base-url must start with http:// or https:// and not end with '/': {base_url}")
    try:
        content, sizes = check_content(content_dir, image_root)
        urls = Urls(base_url)
        report = publish(plan_outputs(content, sizes, urls), out_dir, stream_url=urls.activity_stream(),
                         check_only=check)
    except ContentError as error:
        click.echo(str(error), err=True)
        click.echo(f"build failed: {len(error.problems)} problem(s) to fix; nothing was written", err=True)
        sys.exit(1)
    except BuildError as error:
        click.echo(str(error), err=True)
        click.echo("build failed; nothing was written", err=True)
        sys.exit(1)
    summary = f"{len(report.built)} built, {len(report.reused)} unchanged, {len(report.removed)} removed"
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
