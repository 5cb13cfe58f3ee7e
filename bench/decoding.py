"""The decoding paths side by side with iipsrv, in one run: distinct JPEG 2000 tiles, the cold
``full/1000,`` and the 2048 px full-resolution region of each master, and peak memory.

    .venv/bin/python -m bench.decoding [--masters archive-16k archive-40k] [--repetitions 3]

Both servers run at once on the same hard-linked copies of the benchmark's masters (bench/masters.py,
generated once under bench/cache/images). Every measurement uses a copy neither server has opened:
a cold request is the first request for its master (its header, pyramid and decoders are read
then), and a pass of distinct tiles asks for each tile of its copy once, so no cache of either
server helps. The servers alternate first place between repetitions; only ratios of one run count.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pyvips

from bench.load import LoadResult, origin_of, run_wrk, timed_get
from bench.masters import ensure_masters
from bench.run import REPO_ROOT, fetch_json, free_port, tiled_image
from bench.servers import ServerProcess, start_iipsrv, start_ours
from bench.workload import TiledImage, tile_path, viewer_session_tiles
from iiif_server.settings import Settings

COLD_REQUESTS = {"full/1000,": "full/1000,/0/default.jpg"}
REGION_EDGE = 2048
MIB = 1024 * 1024


class SideBySide:
    def __init__(self, images: Path, work: Path, masters: list[str], arguments: argparse.Namespace) -> None:
        self.images, self.work, self.masters, self.arguments = images, work, masters, arguments
        self.copies = 0
        self.latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.loads: dict[tuple[str, str], list[LoadResult]] = defaultdict(list)
        self.tilings: dict[str, TiledImage] = {}
        self.cpu: dict[tuple[str, str], list[float]] = defaultdict(list)  # server CPU seconds of cold requests

    def fresh_copy(self, master: str) -> str:
        """A new hard link of ``master`` (stem with its suffix): an identifier no server has seen."""
        self.copies += 1
        source = self.images / master
        copy = f"{source.stem}-copy{self.copies}{source.suffix}"
        os.link(source, self.images / copy)
        return copy

    @staticmethod
    def url(server: ServerProcess, copy: str) -> str:
        if server.name == "iipsrv":
            return f"{server.base_url}/{copy}"
        return f"{server.base_url}/2/{Path(copy).stem}"

    def cold(self, servers: list[ServerProcess], master: str) -> None:
        header = pyvips.Image.new_from_file(str(self.images / master))
        x, y = (header.width - REGION_EDGE) // 2, (header.height - REGION_EDGE) // 2
        requests = {**COLD_REQUESTS, f"region {REGION_EDGE}": f"{x},{y},{REGION_EDGE},{REGION_EDGE}/{REGION_EDGE},/0/default.jpg"}
        for server in servers:
            for name, path in requests.items():
                cpu_before = server.cpu_seconds()
                seconds, _ = timed_get(f"{self.url(server, self.fresh_copy(master))}/{path}")
                cpu = server.cpu_seconds() - cpu_before
                self.latencies[(f"cold {name} {master}", server.name)].append(seconds)
                self.cpu[(f"cold {name} {master}", server.name)].append(cpu)
                print(f"  {server.name:6} cold {name} {master}: {seconds * 1000:.0f} ms, server CPU {cpu * 1000:.0f} ms",
                      flush=True)

    def distinct_tiles(self, servers: list[ServerProcess], master: str, repetition: int) -> None:
        for server in servers:
            copy = self.fresh_copy(master)
            if master not in self.tilings:  # as a viewer of iipsrv would tile it, like bench.run
                iipsrv = next(s for s in servers if s.name == "iipsrv")
                self.tilings[master] = tiled_image(fetch_json(f"{self.url(iipsrv, self.fresh_copy(master))}/info.json"))
            image = self.tilings[master]
            base = self.url(server, copy)[len(origin_of(server.base_url)):]
            paths = [f"{base}/{tile_path(image, tile, 2)}"
                     for tile in viewer_session_tiles(image, self.arguments.tiles, seed=repetition)]
            result = run_wrk(origin_of(server.base_url), paths, self.work, f"r{repetition}-{server.name}-{copy}".replace(" ", "_"),
                             self.arguments.connections, self.arguments.pass_seconds, server.cpu_seconds, once=True)
            self.loads[(f"distinct tiles {master} c{self.arguments.connections}", server.name)].append(result)
            print(f"  {server.name:6} {master}: {result.per_second:.1f} tiles/s, p99 {result.p99_ms:.0f} ms, "
                  f"{result.server_cpu_seconds / max(1, result.requests) * 1000:.1f} CPU ms per tile, "
                  f"errors {result.errors}", flush=True)

    def run(self, servers: list[ServerProcess]) -> None:
        for repetition in range(self.arguments.repetitions):
            order = servers if repetition % 2 == 0 else servers[::-1]
            print(f"repetition {repetition + 1}: {' then '.join(server.name for server in order)}", flush=True)
            for master in self.masters:
                self.cold(order, master)
                if master.endswith(".jp2"):
                    self.distinct_tiles(order, master, repetition)

    def report(self, servers: list[ServerProcess]) -> str:
        """One column per server with its ratio to iipsrv (median of the repetitions)."""
        others = [server.name for server in servers if server.name != "iipsrv"]
        lines = [f"| measure | iipsrv | {' | '.join(f'{name} | ratio' for name in others)} |",
                 "|---|---|" + "---|---|" * len(others)]
        for measure in sorted({measure for measure, _ in self.loads}):
            def figures(name: str) -> tuple[float, str]:
                results = self.loads[(measure, name)]
                rate = statistics.median(r.per_second for r in results)
                p99 = statistics.median(r.p99_ms for r in results)
                cpu = statistics.median(r.server_cpu_seconds / r.requests * 1000 for r in results)
                return rate, f"{rate:.1f}; {p99:.0f}; {cpu:.1f}"
            theirs, text = figures("iipsrv")
            cells = [text] + [f"{figures(name)[1]} | {figures(name)[0] / theirs:.2f}" for name in others]
            lines.append(f"| {measure} (tiles/s; p99 ms; CPU s per 1,000 tiles) | {' | '.join(cells)} |")
        for measure in sorted({measure for measure, _ in self.latencies}):
            theirs = statistics.median(self.latencies[(measure, "iipsrv")]) * 1000
            cells = [f"{theirs:.0f}"] + [
                f"{statistics.median(self.latencies[(measure, name)]) * 1000:.0f} | "
                f"{statistics.median(self.latencies[(measure, name)]) * 1000 / theirs:.2f}" for name in others]
            lines.append(f"| {measure} (ms) | {' | '.join(cells)} |")
            theirs = statistics.median(self.cpu[(measure, "iipsrv")]) * 1000
            cells = [f"{theirs:.0f}"] + [
                f"{statistics.median(self.cpu[(measure, name)]) * 1000:.0f} | "
                f"{statistics.median(self.cpu[(measure, name)]) * 1000 / max(theirs, 1):.2f}" for name in others]
            lines.append(f"| {measure} (server CPU ms) | {' | '.join(cells)} |")
        peak = {server.name: server.peak_rss_bytes for server in servers}
        cells = [f"{peak['iipsrv'] / MIB:.0f}"] + [f"{peak[name] / MIB:.0f} | {peak[name] / peak['iipsrv']:.2f}" for name in others]
        lines.append(f"| peak memory, all processes (MiB) | {' | '.join(cells)} |")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "cache")
    parser.add_argument("--masters", nargs="+",
                        default=["archive-16k.tif", "archive-16k-jp2.jp2", "archive-40k.tif", "archive-40k-jp2.jp2"],
                        help="files of the benchmark's masters (bench/masters.py); tiles are measured on the .jp2 ones")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--tiles", type=int, default=300, help="distinct JPEG 2000 tiles per pass")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pass-seconds", type=float, default=30.0,
                        help="the longest a pass of distinct tiles may take (wrk waits this long in any case)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=Settings().threads)
    parser.add_argument("--also", nargs="*", default=[], metavar="IIIF_NAME=VALUE",
                        help="a third server, ours with these settings, measured in the same run (A/B)")
    arguments = parser.parse_args(argv)
    # A SIGTERM must still run the finally block that stops the servers.
    signal.signal(signal.SIGTERM, lambda number, _: sys.exit(128 + number))
    files = arguments.masters
    if not all((arguments.cache / "images" / name).exists() for name in files):
        ensure_masters(arguments.cache / "images")
    with tempfile.TemporaryDirectory(prefix="iiif-decoding-", dir=arguments.cache) as scratch:
        images, work = Path(scratch) / "images", Path(scratch) / "work"
        images.mkdir()
        work.mkdir()
        for name in files:
            os.link(arguments.cache / "images" / name, images / name)
        bench = SideBySide(images, work, files, arguments)
        servers = []
        try:
            servers.append(start_iipsrv(images, work / "iipsrv", free_port(), arguments.workers, 85,
                                        (Settings().response_cache_bytes + Settings().derivative_cache_bytes) // 1_000_000))
            settings = {"IIIF_JPEG_QUALITY": "85", "IIIF_LOG_LEVEL": "warning",
                        # iipsrv has no deadlines; on the loaded machine ours would answer 503
                        "IIIF_TILE_DEADLINE_MS": "60000", "IIIF_HEAVY_DEADLINE_MS": "120000"}
            servers.append(start_ours(Path(sys.executable), images, work / "ours", free_port(), arguments.workers,
                                      arguments.threads, settings))
            if arguments.also:
                variant = start_ours(Path(sys.executable), images, work / "variant", free_port(), arguments.workers,
                                     arguments.threads, {**settings, **dict(item.split("=", 1) for item in arguments.also)})
                variant.name = f"ours {' '.join(arguments.also)}"
                servers.append(variant)
            for server in servers:
                server.start_sampling()
            bench.run(servers)
        finally:
            for server in servers:
                server.stop()
        print(bench.report(servers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
