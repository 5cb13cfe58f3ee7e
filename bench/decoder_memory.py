"""Peak memory of one worker's JPEG 2000 decoders, in-process: a deep-zoom session of tile requests
over JPEG 2000 masters through the real pipeline, on the worker's threads, with the decoder budget
or without it (``--unbounded``; run each in a process of its own, so neither inherits the other's
heap). The full benchmark measures all server processes; this isolates the decoders.

    .venv/bin/python -m bench.decoder_memory MASTER.jp2 [MASTER.jp2 ...] [--tiles 600] [--threads 2] [--unbounded]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.workload import TiledImage, interleave, tile_path, viewer_session_tiles
from iiif_server.metrics import UncountedMetrics
from iiif_server.pipeline import build_pipeline
from iiif_server.request import ApiVersion, parse_image_path
from iiif_server.settings import Settings
from iiif_server.sources.filesystem import FileSystemSource

UNBOUNDED_BYTES = 1 << 40


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def session_peak(folder: Path, decoder_bytes: int, tiles: int, threads: int) -> tuple[int, int, float]:
    """(peak resident bytes during the session, the budget's count of idle decoder bytes at the end, seconds)."""
    settings = Settings(image_root=folder, jpeg2000_decoder_bytes=decoder_bytes, derivative_cache_bytes=0,
                        response_cache_bytes=0, threads=threads, tile_deadline_ms=3_600_000,
                        heavy_deadline_ms=3_600_000)  # this measures memory, not speed, on any machine
    pipeline = build_pipeline(settings, FileSystemSource(folder), UncountedMetrics())
    sessions = []
    for seed, master in enumerate(sorted(folder.glob("*.jp2"))):
        _, info = pipeline.image_info(master.stem)
        image = TiledImage(info.width, info.height, info.tile_width, info.scale_factors)
        sessions.append([f"{master.stem}/{tile_path(image, tile, 3)}"
                         for tile in viewer_session_tiles(image, tiles // len(list(folder.glob("*.jp2"))), seed)])
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
    idle = pipeline.jpeg2000_regions.idle_bytes
    pipeline.jpeg2000_regions.close()
    return peak, idle, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("masters", nargs="+", type=Path)
    parser.add_argument("--tiles", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=int, default=Settings().jpeg2000_decoder_bytes)
    parser.add_argument("--unbounded", action="store_true", help="no decoder budget, for comparison")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="decoder-memory-") as folder:
        for master in arguments.masters:
            shutil.copy(master, Path(folder) / master.name)
        baseline = resident_bytes()
        mib = 1024 * 1024
        budget = UNBOUNDED_BYTES if arguments.unbounded else arguments.budget
        peak, idle, seconds = session_peak(Path(folder), budget, arguments.tiles, arguments.threads)
        label = "unbounded" if arguments.unbounded else f"budget {budget / mib:,.0f} MiB"
        print(f"{label}: peak RSS {peak / mib:,.0f} MiB ({(peak - baseline) / mib:+,.0f} over the "
              f"{baseline / mib:,.0f} MiB before), idle decoders counted {idle / mib:,.0f} MiB, "
              f"{arguments.tiles / seconds:,.1f} tiles/s", flush=True)


if __name__ == "__main__":
    main()
