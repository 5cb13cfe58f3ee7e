"""OCR of one page: a reduced level of its master, read through the image server's own data path,
recognised by Tesseract (Debian's tesseract-ocr-vie model) into lines and words in canvas pixels.

The page is asked of the Image API pipeline as ``full/{width},/0/gray.png``: the pipeline picks the
smallest pyramid level (or JPEG shrink-on-load) at least that wide and scales it, so a 20,000 px
master is never decoded whole. Tesseract's hOCR of that image goes through the same parser as a
curator's hOCR (``manifests.textimport``), which scales its boxes back to the canvas.

``recognise_page`` is a task of plain values, run one per page on a Dask cluster (``manifests.cluster``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import build_pipeline
from iiif_server.request import ApiVersion, ImageRequest, OutputFormat, Quality, Region, RegionKind, Rotation, Size, SizeKind
from iiif_server.settings import ImageRoot, Settings
from iiif_server.sources import open_source
from manifests.pagetext import PageText
from manifests.textimport import parse_hocr

# Debian's tesseract-ocr-vie and -eng install their models here; TESSDATA_PREFIX (Tesseract's own
# variable) names another folder.
DEBIAN_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
BATCH_READ_DEADLINE_MS = 30 * 60 * 1000
# Tesseract's model names (vie, chi_sim), '+'-joined.
_LANGUAGES = re.compile(r"[A-Za-z_]+(\+[A-Za-z_]+)*")
# Tesseract's language code -> the BCP 47 tag the annotations carry.
LANGUAGE_TAGS = {"vie": "vi", "eng": "en"}


@dataclass(frozen=True)
class OcrOptions:
    """How pages are recognised; part of every OCR'd page's ``made_from``, so changing one
    recognises the pages again."""

    # Tesseract language(s), '+'-joined (vie+eng).
    language: str = "vie"
    # Width the page is read at (its master's own width if narrower): 2,500 px is a 300 dpi scan of an
    # A4 page, where typed text's lower-case letters are 25-30 px tall, Tesseract's best range; it also
    # keeps the Vietnamese tone marks several pixels tall.
    width: int = 2500

    def __post_init__(self) -> None:
        if not 200 <= self.width <= 10_000:
            raise ValueError(f"the OCR width must be between 200 and 10,000 px, not {self.width}")
        if not _LANGUAGES.fullmatch(self.language):
            raise ValueError(f"{self.language!r} is not a Tesseract language list such as vie or vie+eng")

    @property
    def language_tag(self) -> str:
        first = self.language.split("+")[0]
        return LANGUAGE_TAGS.get(first, first)


def tessdata() -> Path:
    return Path(os.environ.get("TESSDATA_PREFIX") or DEBIAN_TESSDATA)


def check_languages(options: OcrOptions) -> None:
    """ValueError naming the missing model unless Tesseract has every language of ``options``."""
    from tesserocr import get_languages

    _, installed = get_languages(str(tessdata()))
    missing = [part for part in options.language.split("+") if part not in installed]
    if missing:
        raise ValueError(f"Tesseract has no {', '.join(missing)} model in {tessdata()} "
                         f"(Debian: apt-get install {' '.join(f'tesseract-ocr-{m}' for m in missing)})")


def ocr_made_from(identifier: str, master_token: str, options: OcrOptions) -> str:
    """What an OCR'd page is made from: the master (its fingerprint: size and mtime, or the
    object's ETag) and the OCR settings. Equal means the page need not be recognised again."""
    facts = f"ocr\x1f{identifier}\x1f{master_token}\x1f{options.language}\x1f{options.width}"
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


def reading_request(identifier: str, canvas_width: int, options: OcrOptions) -> ImageRequest:
    """PURE: the Image API request that reads the page for OCR (grey, lossless, never upscaled)."""
    return ImageRequest(
        version=ApiVersion.V3, identifier=identifier, region=Region(RegionKind.FULL),
        size=Size(SizeKind.WIDTH, width=min(options.width, canvas_width)), rotation=Rotation(),
        quality=Quality.GRAY, format=OutputFormat.PNG,
    )


def recognise_page(image_root: ImageRoot, identifier: str, canvas: tuple[int, int], options: OcrOptions,
                   made_from: str) -> PageText:
    """The page's lines and words in canvas pixels. Raises ValueError (a one-line reason) when the
    master cannot be read."""
    from PIL import Image
    from tesserocr import PSM, PyTessBaseAPI

    from iiif_server.errors import IIIFError

    # No derivative cache: each page is read once. No reader waits on a batch task: the deadline
    # that frees a server's thread would only fail a page read slowly on a busy worker.
    settings = Settings(image_root=image_root, derivative_cache_bytes=0, response_cache_bytes=0,
                        heavy_deadline_ms=BATCH_READ_DEADLINE_MS)
    pipeline = build_pipeline(settings, open_source(settings), UncountedMetrics())
    try:
        png = pipeline.produce(pipeline.prepare(reading_request(identifier, canvas[0], options)))
    except IIIFError as error:
        raise ValueError(error.reason) from None
    with Image.open(io.BytesIO(png)) as image, \
            PyTessBaseAPI(path=str(tessdata()), lang=options.language, psm=PSM.AUTO) as api:
        api.SetImage(image)
        api.Recognize()
        hocr = api.GetHOCRText(0)
    page_text = parse_hocr(hocr.encode("utf-8"), canvas, options.language_tag)
    return dataclasses.replace(page_text, source="ocr", made_from=made_from)
