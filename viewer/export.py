"""The viewer as static files for a CMS: the same pages as /viewer/, as sibling files in one folder.

Layout: ``embed.html``, ``mirador.html``, ``index.html`` (embedding guide), ``exhibitions.html`` and
``exhibition-<id>.html`` (each also ``.en.html``), ``static/`` and ``vendor/`` (the npm files used).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from viewer import pages
from viewer.pages import NODE_MODULES, PageLinks, Site

EXPORT_LINKS = PageLinks(
    static="static",
    vendor="vendor",
    embed="embed.html",
    mirador="mirador.html",
    guide_pattern="index{lang}.html",
    exhibitions_pattern="exhibitions{lang}.html",
    exhibition_pattern="exhibition-{id}{lang}.html",
    english_marker=".en",
)
# Vendor files the pages load, by served folder: only these are copied, not all of node_modules.
EXPORTED_VENDOR_FILES = {
    "openseadragon": ("openseadragon.min.js",),
    "mirador": ("mirador.min.js",),
}
STATIC_FOLDER = Path(__file__).resolve().parent / "static"


class ExportError(RuntimeError):
    """The export cannot be made; the message says what is missing."""


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    pages: tuple[str, ...]


def export_viewer(out: Path, presentation_root: Path | None, content_root: Path | None,
                  base_url: str = "") -> ExportResult:
    """Write the static viewer into ``out`` (created; existing files of the same name are replaced)."""
    site = Site(presentation_root, content_root)
    # The guide's snippets name the pages by absolute URL when the export's address is known.
    origin = base_url.rstrip("/") + "/" if base_url else ""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STATIC_FOLDER, out / "static", dirs_exist_ok=True)
    for package, names in EXPORTED_VENDOR_FILES.items():
        source_folder = NODE_MODULES / pages.VENDOR_FILES[package]
        target_folder = out / "vendor" / package
        target_folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            if not (source_folder / name).is_file():
                raise ExportError(f"{source_folder / name} is missing: run npm ci in viewer/")
            shutil.copy2(source_folder / name, target_folder / name)
    written: dict[str, str] = {
        "embed.html": pages.render_embed(site, EXPORT_LINKS, "vi", None, ""),
        "mirador.html": pages.render_mirador(EXPORT_LINKS, "vi"),
    }
    exhibition_ids = [summary.id for summary in site.exhibition_summaries()]
    for language in pages.LANGUAGES:
        written[EXPORT_LINKS.guide(language)] = pages.render_guide(site, EXPORT_LINKS, language, origin)
        written[EXPORT_LINKS.exhibitions(language)] = pages.render_exhibition_index(site, EXPORT_LINKS, language)
        for exhibition_id in exhibition_ids:
            written[EXPORT_LINKS.exhibition(exhibition_id, language)] = pages.render_exhibition(
                site, EXPORT_LINKS, language, exhibition_id)
    for name, text in written.items():
        (out / name).write_text(text, encoding="utf-8")
    return ExportResult(out, tuple(sorted(written)))
