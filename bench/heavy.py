"""Heavy requests beside tiles: ``python -m bench.heavy`` (not part of the tests; about 2 minutes).

Eight clients keep asking for a 6,000 px wide PNG of the demo map, rotated (about 1 s of CPU
each), while wrk walks plain 256 px tiles of the same map once each. It runs three phases on a
fresh server each: tiles alone, tiles beside the heavy clients with the heavy-request lane, and
the same with the lane off (``heavy_output_pixels`` at ``max_area``: nothing counts as heavy),
which is how the server behaved before the lane. It prints the tile latencies and what happened to
every heavy request: answered (200), refused with 503 and Retry-After, or dropped (any other
answer or a connection error). Heavy clients honour Retry-After, as a well-behaved client would.
"""

from __future__ import annotations

import argparse
import itertools
import json
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


@dataclass(frozen=True)
class PhaseResult:
    name: str
    tiles: LoadResult
    heavy: dict[str, int]  # outcome -> count


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
                self.note("answered 200")
            except urllib.error.HTTPError as error:
                retry_after = error.headers.get("Retry-After")
                if error.code == 503 and retry_after and retry_after.isdigit():
                    self.note("refused 503 with Retry-After")
                    self.stop.wait(int(retry_after))
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
    finally:
        server.stop()
    print(f"  {name:24} tiles {tiles.requests:5} p50 {tiles.p50_ms:7.1f} ms p99 {tiles.p99_ms:7.1f} ms "
          f"errors {tiles.errors}  heavy {heavy}", flush=True)
    return PhaseResult(name, tiles, heavy)


def report(results: list[PhaseResult], arguments: argparse.Namespace) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {arguments.workers} workers × "
        f"{arguments.threads} threads (+ the lane's own), {TILE_CONNECTIONS} tile connections, "
        f"8 heavy clients (`full/≈6000,/90/default.png` of the map, each URL new), {arguments.seconds:g} s a phase.",
        "",
        "| phase | tiles | tile p50 ms | tile p99 ms | tile errors | heavy answered 200 | heavy refused 503 | heavy dropped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        answered = result.heavy.get("answered 200", 0)
        refused = result.heavy.get("refused 503 with Retry-After", 0)
        dropped = sum(count for outcome, count in result.heavy.items() if outcome.startswith("dropped"))
        lines.append(f"| {result.name} | {result.tiles.requests} | {result.tiles.p50_ms:.1f} | {result.tiles.p99_ms:.1f} | "
                     f"{result.tiles.errors} | {answered} | {refused} | {dropped} |")
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
    phases = (("tiles alone", {}, 0), ("tiles + 8 heavy, lane", {}, 8),
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
