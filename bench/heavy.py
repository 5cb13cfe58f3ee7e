"""Heavy requests beside tiles: ``python -m bench.heavy`` (not part of the tests; about 2 minutes).

Eight clients keep asking for a 6,000 px wide PNG of the demo map, rotated (about 1 s of CPU
each), while wrk walks plain 256 px tiles of the same map once each. It runs three phases on a
fresh server each: tiles alone, tiles beside the heavy clients (the lane sends them to the
server's render processes at low priority, render_pool.py), and the same with the lane off
(``heavy_output_pixels`` at ``max_area``: nothing counts as heavy, every render runs on the
workers' threads), which is how the server behaved before the lane. It prints the tile latencies,
the load average of the machine, and what happened to every heavy request: answered (200),
refused with 503 (with Retry-After by the lane, or past its deadline), or dropped (any other answer
or a connection error). Heavy clients honour Retry-After, as a well-behaved client would.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadResult, origin_of, run_wrk
from bench.run import free_port
from bench.servers import ServerProcess, start_ours
from bench.workload import TiledImage, tile_grid, tile_path, viewer_session_tiles
from iiif_archive.samples import master_path, sample_masters, write_sample_master
from iiif_server.settings import Settings

MAP_ID = "maps/hanoi-1873"
HEAVY_WIDTH = 6000
TILE_CONNECTIONS = 4
DISTINCT_TILES = 4000


ANSWERED, REFUSED, PAST_DEADLINE = "answered 200", "refused 503 with Retry-After", "503 past its deadline"


@dataclass(frozen=True)
class PhaseResult:
    name: str
    tiles: LoadResult
    heavy: dict[str, int]  # outcome -> count
    load_average: float  # of the machine (1 minute) at the end of the phase

    @property
    def dropped(self) -> int:
        return sum(count for outcome, count in self.heavy.items() if outcome.startswith("dropped"))


def ensure_map(images: Path, scale: float) -> None:
    master = next(m for m in sample_masters() if m.identifier == MAP_ID)
    if not master_path(images, master).exists():
        print(f"drawing {MAP_ID} at scale {scale:g} into {images} (about a minute at scale 1)", flush=True)
        write_sample_master(images, master, scale)


class HeavyClients:
    """``count`` threads, each asking for a heavy response again as soon as the last one came back
    (or after its Retry-After); every URL is new, so no cache answers it."""

    def __init__(self, base_url: str, count: int, map_width: int) -> None:
        self.base_url = base_url
        self.count = count
        self.widths = itertools.count()
        self.width_base = min(HEAVY_WIDTH, map_width)
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(count)]

    def url(self) -> str:
        with self.lock:
            width = self.width_base - next(self.widths) % 1000
        return f"{self.base_url}/iiif/3/{MAP_ID.replace('/', '%2F')}/full/{width},/90/default.png"

    def note(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url(), timeout=120) as response:
                    response.read()
                self.note(ANSWERED)
            except urllib.error.HTTPError as error:
                retry_after = error.headers.get("Retry-After")
                if error.code == 503 and retry_after and retry_after.isdigit():
                    self.note(REFUSED)
                    self.stop.wait(int(retry_after))
                elif error.code == 503 and b"deadline" in error.read():
                    self.note(PAST_DEADLINE)
                else:
                    self.note(f"dropped: {error.code}")
            except OSError as error:
                self.note(f"dropped: {type(error).__name__}")

    def __enter__(self) -> HeavyClients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def tile_paths(server: ServerProcess) -> tuple[list[str], int]:
    with urllib.request.urlopen(f"{server.base_url}/3/{MAP_ID.replace('/', '%2F')}/info.json", timeout=30) as response:
        info = json.load(response)
    tiles = info["tiles"][0]
    image = TiledImage(info["width"], info["height"], tiles["width"], tuple(tiles["scaleFactors"]))
    tiles_in_image = sum(columns * rows for columns, rows in (tile_grid(image, s) for s in image.scale_factors))
    count = min(DISTINCT_TILES, tiles_in_image)
    prefix = f"{server.base_url}/3/{MAP_ID.replace('/', '%2F')}"[len(origin_of(server.base_url)):]
    return [f"{prefix}/{tile_path(image, tile, 3)}" for tile in viewer_session_tiles(image, count, 11)], info["width"]


def run_phase(name: str, images: Path, work: Path, arguments: argparse.Namespace, environment: dict[str, str],
              heavy_clients: int) -> PhaseResult:
    server = start_ours(Path(sys.executable), images, work / name.replace(" ", "-"), free_port(), arguments.workers,
                        arguments.threads, {"IIIF_LOG_LEVEL": "warning", **environment})
    try:
        paths, map_width = tile_paths(server)
        origin = origin_of(server.base_url)
        with HeavyClients(origin, heavy_clients, map_width) as clients:
            if heavy_clients:
                time.sleep(2)  # every heavy client has a request in flight before the tiles start
            tiles = run_wrk(origin, paths, work, name.replace(" ", "-"), TILE_CONNECTIONS, arguments.seconds,
                            server.cpu_seconds, once=True)
        heavy = dict(clients.outcomes)
        load_average = os.getloadavg()[0]
    finally:
        server.stop()
    print(f"  {name:24} tiles {tiles.requests:5} p50 {tiles.p50_ms:7.1f} ms p99 {tiles.p99_ms:7.1f} ms "
          f"errors {tiles.errors}  heavy {heavy}  load {load_average:.1f}", flush=True)
    return PhaseResult(name, tiles, heavy, load_average)


def report(results: list[PhaseResult], arguments: argparse.Namespace) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {arguments.workers} workers × "
        f"{arguments.threads} threads (+ the lane's own), {TILE_CONNECTIONS} tile connections, "
        f"8 heavy clients (`full/≈6000,/90/default.png` of the map, each URL new), {arguments.seconds:g} s a phase.",
        "",
        "| phase | load average | tiles | tile p50 ms | tile p99 ms | p99 / alone | tile errors | heavy answered 200 "
        "| heavy refused 503 (Retry-After + deadline) | heavy dropped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    alone = results[0].tiles.p99_ms
    for result in results:
        ratio = f"{result.tiles.p99_ms / alone:.1f}" if alone and result.tiles.requests else ""
        lines.append(f"| {result.name} | {result.load_average:.1f} | {result.tiles.requests} | {result.tiles.p50_ms:.1f} | "
                     f"{result.tiles.p99_ms:.1f} | {ratio} | {result.tiles.errors} | {result.heavy.get(ANSWERED, 0)} | "
                     f"{result.heavy.get(REFUSED, 0)} + {result.heavy.get(PAST_DEADLINE, 0)} | {result.dropped} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("bench/cache"), help="where the map master is kept")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="scale of the demo map (1 = 24,000 × 18,000 px, as in the demo)")
    parser.add_argument("--seconds", type=float, default=20, help="longest tile walk of a phase")
    parser.add_argument("--workers", type=int, default=Settings().workers)
    parser.add_argument("--threads", type=int, default=Settings().threads)
    parser.add_argument("--output", type=Path, default=Path("bench/results/heavy.md"))
    arguments = parser.parse_args(argv)
    images = arguments.cache / f"heavy-scale-{arguments.scale:g}"
    ensure_map(images, arguments.scale)
    phases = (("tiles alone", {}, 0), ("tiles + 8 heavy, render pool", {}, 8),
              ("tiles + 8 heavy, no lane", {"IIIF_HEAVY_OUTPUT_PIXELS": str(Settings().max_area)}, 8))
    with tempfile.TemporaryDirectory(prefix="iiif-bench-heavy-") as scratch:
        results = [run_phase(name, images.resolve(), Path(scratch), arguments, environment, clients)
                   for name, environment, clients in phases]
    table = report(results, arguments)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(f"# Heavy requests beside tiles\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
