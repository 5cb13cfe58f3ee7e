"""Which resize kernel the renderer should use: quality (PSNR against a reference) and CPU cost of
each libvips kernel, scaling a pyramid level to the sizes viewers and thumbnails ask for.

    .venv/bin/python -m bench.resize_kernels [MASTER.tif] [--widths 1000 800 600]

The reference is the master's full resolution reduced to the output size with lanczos3; a candidate is the pyramid
level the server reads (the smallest at least as wide as the output) scaled by each kernel. Costs
are CPU milliseconds of the resize with the JPEG encode of a server answer, median of several runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import pyvips

from bench.run import REPO_ROOT

KERNELS = ("nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3")
RUNS = 7


def psnr(image: pyvips.Image, reference: pyvips.Image) -> float:
    mean_square = ((image.cast("float") - reference.cast("float")) ** 2).avg()
    return 10 * math.log10(255**2 / mean_square) if mean_square else float("inf")


def pyramid_levels(path: Path) -> list[pyvips.Image]:
    first = pyvips.Image.new_from_file(str(path))
    return [pyvips.Image.new_from_file(str(path), page=page) for page in range(first.get("n-pages"))]


def cpu_ms(make) -> float:  # noqa: ANN001 - a callable doing the work
    times = []
    for _ in range(RUNS):
        started = time.process_time()
        make()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("master", type=Path, nargs="?", default=REPO_ROOT / "bench" / "cache" / "images" / "archive-16k.tif")
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 800, 600])
    arguments = parser.parse_args()
    pyvips.cache_set_max(0)
    levels = pyramid_levels(arguments.master)
    full = levels[0]
    print("| output width | level read | kernel | PSNR dB vs reference | CPU ms (resize + encode) |")
    print("|---|---|---|---|---|")
    for width in arguments.widths:
        level = min((level for level in levels if level.width >= width), key=lambda level: level.width)
        height = round(full.height * width / full.width)
        reference = full.resize(width / full.width, vscale=height / full.height, kernel="lanczos3").copy_memory()
        level = level.copy_memory()  # decoding the level is the same for every kernel
        for kernel in KERNELS if level.width != width else ("none",):
            def scaled(kernel: str = kernel) -> pyvips.Image:
                if kernel == "none":
                    return level
                return level.resize(width / level.width, vscale=height / level.height, kernel=kernel)
            image = scaled().crop(0, 0, width, height)
            quality = psnr(image, reference.crop(0, 0, width, height))
            cost = cpu_ms(lambda: scaled().jpegsave_buffer(Q=85, strip=True))
            print(f"| {width} | {level.width} px | {kernel} | {quality:.2f} | {cost:.1f} |", flush=True)


if __name__ == "__main__":
    main()
