"""Archive-like benchmark masters, generated once and kept in a cache folder.

The pixels are built from lazy libvips operations (paper tone, stains, grain, replicated text), so
even the 40,000 x 30,000 master streams from generator to TIFF writer and is never held in memory.
Grain and text give every tile real detail: JPEG tile sizes come out like those of scanned documents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyvips

# Stored the way the project's ingest writes masters: pyramidal, 256 px JPEG tiles, YCbCr photometric.
TIFF_SAVE_OPTIONS = {
    "compression": "jpeg",
    "Q": 85,
    "tile": True,
    "tile_width": 256,
    "tile_height": 256,
    "pyramid": True,
    "bigtiff": True,
}
JP2_SAVE_OPTIONS = {"Q": 45, "tile_width": 512, "tile_height": 512}

PAGE_TEXT = (
    "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM — Độc lập, Tự do, Hạnh phúc. "
    "Sắc lệnh số 65 ngày 23 tháng 11 năm 1945 về việc bảo tồn cổ tích trên toàn cõi Việt Nam. "
    "Điều thứ nhất: Đông Dương Bác cổ Học viện nay giao cho Bộ Quốc gia Giáo dục quản trị. "
    "Decree on the preservation of historic sites and records throughout the country; "
    "letters, maps and photographs deposited with the National Archives Centre No. 1, Hà Nội. "
)


@dataclass(frozen=True)
class MasterSpec:
    name: str
    width: int
    height: int
    also_jpeg2000: bool


BENCH_MASTERS = (
    MasterSpec("archive-16k", 16_000, 12_000, also_jpeg2000=True),
    MasterSpec("archive-40k", 40_000, 30_000, also_jpeg2000=True),
)


def archive_page(width: int, height: int, seed: int) -> pyvips.Image:
    """A lazily computed RGB document: toned paper with stains and grain under lines of dark ink."""
    stains = pyvips.Image.perlin(width, height, cell_size=700, seed=seed)  # float in [-1, 1]
    grain = pyvips.Image.gaussnoise(width, height, sigma=14, mean=0, seed=seed + 1)
    text_block = pyvips.Image.text(PAGE_TEXT * 6, font="Noto Serif 11", dpi=300, width=2600, spacing=18)
    ink = (
        text_block.embed(120, 90, text_block.width + 240, text_block.height + 180)
        .replicate(width // (text_block.width + 240) + 1, height // (text_block.height + 180) + 1)
        .crop(0, 0, width, height)
    )
    tone = stains * 18 + grain
    paper = tone.bandjoin([tone * 0.95, tone * 0.8]) + [226, 214, 184]
    page = paper * (1 - ink * (0.82 / 255))
    return page.cast("uchar")


def ensure_masters(folder: Path, divisor: int = 1) -> list[Path]:
    """Generate the masters missing from ``folder`` (atomically: a half-written file never counts),
    their sides divided by ``divisor`` (a smoke run's small masters live in a folder of their own)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed, spec in enumerate(BENCH_MASTERS):
        width, height = spec.width // divisor, spec.height // divisor
        tiff = folder / f"{spec.name}.tif"
        _write_once(tiff, lambda target, w=width, h=height, n=seed: archive_page(w, h, n * 10).tiffsave(
            str(target), **TIFF_SAVE_OPTIONS))
        paths.append(tiff)
        if spec.also_jpeg2000:
            # Its own name: an identifier is the path without extension, so it must not clash.
            jp2 = folder / f"{spec.name}-jp2.jp2"
            _write_once(jp2, lambda target, w=width, h=height, n=seed: archive_page(w, h, n * 10).jp2ksave(
                str(target), **JP2_SAVE_OPTIONS))
            paths.append(jp2)
    return paths


def _write_once(path: Path, write) -> None:  # noqa: ANN001 - a callable taking the temporary path
    if path.exists():
        return
    print(f"generating {path} (once; later runs reuse it)", flush=True)
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(temporary)
    os.replace(temporary, path)
