"""Peak memory and speed of one worker reading JPEG 2000, in-process: a deep-zoom session of tile
requests over JPEG 2000 masters (each in ``--copies`` hard-linked copies, the sessions interleaved,
as the benchmark's distinct pass asks for them) through the real pipeline, on the worker's threads.
The full benchmark measures all server processes; this isolates the JPEG 2000 reader.

    .venv/bin/python -m bench.jpeg2000_memory MASTER.jp2 [MASTER.jp2 ...] [--tiles 600] [--threads 2] [--copies 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyvips

from bench.workload import TiledImage, interleave, tile_path, viewer_session_tiles
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import build_pipeline
from iiif_server.request import ApiVersion, parse_image_path
from iiif_server.settings import Settings
from iiif_server.sources.filesystem import FileSystemSource


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def session_peak(folder: Path, tiles: int, threads: int) -> tuple[int, int, float]:
    """(peak resident bytes during the session, bytes of codestream indexes kept at the end, seconds)."""
    settings = Settings(image_root=folder, derivative_cache_bytes=0, response_cache_bytes=0, threads=threads,
                        tile_deadline_ms=3_600_000, heavy_deadline_ms=3_600_000)  # memory, not speed, on any machine
    pipeline = build_pipeline(settings, FileSystemSource(folder), UncountedMetrics())
    masters = sorted(folder.glob("*.jp2"))
    sessions = []
    for seed, master in enumerate(masters):
        _, info = pipeline.image_info(master.stem)
        image = TiledImage(info.width, info.height, info.tile_width, info.scale_factors)
        sessions.append([f"{master.stem}/{tile_path(image, tile, 3)}"
                         for tile in viewer_session_tiles(image, tiles // len(masters), seed)])
    paths = interleave(*sessions)
    peak = resident_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, resident_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda path: pipeline.answer(parse_image_path(path, ApiVersion.V3), None, lambda _: False), paths))
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    return peak, pipeline.jpeg2000_regions.indexes.bytes_used, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masters", nargs="+", type=Path)
    parser.add_argument("--tiles", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--copies", type=int, default=1, help="hard-linked copies of each master")
    arguments = parser.parse_args()
    pyvips.cache_set_max(0)  # as in a worker (create_app): libvips would keep every probed master open
    # Beside the masters: hard links cannot cross file systems.
    with tempfile.TemporaryDirectory(prefix="jpeg2000-memory-", dir=arguments.masters[0].parent) as folder:
        for master in arguments.masters:
            for copy in range(arguments.copies):
                os.link(master, Path(folder) / f"{master.stem}-{copy}.jp2")
        baseline = resident_bytes()
        mib = 1024 * 1024
        peak, index_bytes, seconds = session_peak(Path(folder), arguments.tiles, arguments.threads)
        print(f"peak RSS {peak / mib:,.0f} MiB ({(peak - baseline) / mib:+,.0f} over the {baseline / mib:,.0f} MiB "
              f"before), codestream indexes {index_bytes / 1024:,.0f} KiB, {arguments.tiles / seconds:,.1f} tiles/s",
              flush=True)


if __name__ == "__main__":
    main()
