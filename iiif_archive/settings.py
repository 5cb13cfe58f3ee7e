"""The platform's settings: the image server's, plus the folders the layers above it serve."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iiif_server.settings import Settings


@dataclass(frozen=True)
class PlatformSettings(Settings):
    """Each field is documented in README "Settings"; loaded by ``iiif_server.settings.load_settings``."""

    # Built manifests and collections, served under /iiif/presentation/ (`iiif-archive build --out`).
    presentation_root: Path | None = None
    # The curators' content folder (content/): the viewer's exhibition pages read its exhibitions.
    content_root: Path | None = None
    # CSP frame-ancestors of the embed page: the origins whose pages may frame it. A public archive wants
    # its documents embedded everywhere; list origins ("https://portal.example 'self'") to narrow it.
    embed_frame_ancestors: str = "*"
