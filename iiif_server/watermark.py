"""The visible bilingual watermark of substitutes, drawn by libvips on each rendered answer."""

from __future__ import annotations

import threading

import pyvips

from iiif_server.caches.lru import SizedLRU

WATERMARK_TEXT = "Tài liệu hạn chế\nRestricted record"
# Red at this opacity stays legible on white paper, dark ink and photographs alike.
WATERMARK_COLOUR = (200, 0, 0)
WATERMARK_OPACITY = 0.6
# The text spans this share of the answer's width.
WATERMARK_WIDTH_SHARE = 0.8
# Coverage images kept per worker, by answer size: deep-zoom tiles come in a few sizes.
COVERAGE_SIZES = 64


class Watermark:
    """Draws the text centred on an image. Thread-safe; the text mask (Pango and fonts are slow to
    start: 0.7 s) is made on first use, not at construction."""

    def __init__(self, text: str = WATERMARK_TEXT) -> None:
        self.text = text
        self._mask: pyvips.Image | None = None
        self._lock = threading.Lock()
        self._coverage: SizedLRU[pyvips.Image] = SizedLRU(COVERAGE_SIZES)

    def mask(self) -> pyvips.Image:
        """One band, 0-255: how much of the colour each pixel gets, tight around the text."""
        with self._lock:
            if self._mask is None:
                # About 1000 px wide: scaled down to most answers, so its edges stay smooth.
                self._mask = pyvips.Image.text(self.text, font="sans bold 40", align="centre", dpi=300).copy_memory()
            return self._mask

    def draw(self, image: pyvips.Image) -> pyvips.Image:
        """``image`` (8-bit sRGB or grey, with or without alpha) with the text blended in."""
        coverage = self.coverage(image.width, image.height)
        colour_bands = image.bands - (1 if image.hasalpha() else 0)
        colour = list(WATERMARK_COLOUR) if colour_bands == 3 else [round(sum(WATERMARK_COLOUR) / 3)]
        colours, alpha = image.extract_band(0, n=colour_bands), None
        if image.hasalpha():
            alpha = image.extract_band(colour_bands)
        blended = (colours * (1 - coverage) + coverage * colour).cast("uchar")
        if alpha is not None:
            blended = blended.bandjoin(alpha)
        return blended.copy(interpretation=image.interpretation)

    def coverage(self, width: int, height: int) -> pyvips.Image:
        """width x height, 0-1: the share of the colour each pixel of an answer that size gets."""
        coverage = self._coverage.get((width, height))
        if coverage is None:
            mask = self.mask()
            scale = min(width * WATERMARK_WIDTH_SHARE / mask.width, height * WATERMARK_WIDTH_SHARE / mask.height)
            scaled = mask.resize(scale)
            left, top = (width - scaled.width) // 2, (height - scaled.height) // 2
            coverage = (scaled.embed(left, top, width, height) * (WATERMARK_OPACITY / 255)).cast("float").copy_memory()
            self._coverage.put((width, height), coverage)
        return coverage
