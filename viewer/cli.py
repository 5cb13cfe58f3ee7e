"""``iiif-archive viewer-export``: the viewer as static files for the portal's CMS."""

from __future__ import annotations

from pathlib import Path

import click

from manifests.load import ContentError


@click.command("viewer-export")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the static viewer into.")
@click.option("--presentation", "presentation_root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Built manifests (iiif-archive build --out): exhibition pages and the guide's examples use them.")
@click.option("--content", "content_root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Curators' content folder: its exhibitions become pages (needs --presentation).")
@click.option("--base-url", default="", help="Public URL the exported folder will be served at, for the guide's snippets.")
def viewer_export(out: Path, presentation_root: Path | None, content_root: Path | None, base_url: str) -> None:
    """Write the embed, Mirador, guide and exhibition pages with their scripts as static files."""
    from viewer.export import ExportError, export_viewer
    from viewer.pages import PageNotFound

    if content_root and not presentation_root:
        raise click.UsageError("--content needs --presentation (exhibition pages show the built manifests)")
    try:
        result = export_viewer(out, presentation_root, content_root, base_url)
    except (ExportError, ContentError, PageNotFound) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {len(result.pages)} pages and their scripts to {result.folder}")
