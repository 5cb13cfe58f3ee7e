"""The benchmark against IIPImage: ``python -m bench.run`` (``bash scripts/bench.sh`` installs first).

Both servers get the same requests in the same run, one after the other (the order alternates per
repetition), each with the same number of worker processes. Only the ratios of one run are
comparable: on a shared machine the absolute figures move by a factor of two from hour to hour.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.load import LoadResult, origin_of, run_wrk, timed_get
from bench.masters import ensure_masters
from bench.servers import ServerProcess, start_iipsrv, start_ours
from bench.workload import TiledImage, centre_region, interleave, tile_path, viewer_session_tiles
from iiif_server.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DISTINCT_TILES = 2000
TIFF_MASTERS = ("archive-16k", "archive-40k")
# The 40k JP2 has 4,661 code-tiles: each OpenJPEG decoder of it holds about 55 MB of tile headers,
# which is what the decoder byte budget (jpeg2000_decoder_bytes) must keep within the memory target.
JP2_MASTERS = ("archive-16k-jp2", "archive-40k-jp2")
COLD_MASTERS = ("archive-16k", "archive-40k", *JP2_MASTERS)
REGION_EDGE = 2048
SERVERS = ("iipsrv", "ours")
# iipsrv's tile cache gets the memory our worker keeps responses in (response and derivative caches).
CACHE_BYTES_PER_PROCESS = Settings().response_cache_bytes + Settings().derivative_cache_bytes
TileList = tuple[str, TiledImage, object]  # (identifier, its tiling, a workload.TileRequest)


@dataclass(frozen=True)
class Plan:
    repetitions: int
    tile_seconds: float
    short_seconds: float
    cold_starts: int
    workers: int
    threads: int
    jpeg_quality: int


class Recorder:
    """Every measurement of the run by (measure, server), plus peak memory per server."""

    def __init__(self) -> None:
        self.loads: dict[tuple[str, str], list[LoadResult]] = defaultdict(list)
        self.latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.body_bytes: dict[str, list[float]] = defaultdict(list)
        self.peak_rss: dict[str, int] = defaultdict(int)
        self.peak_process_rss: dict[str, int] = defaultdict(int)
        self.processes: dict[str, int] = defaultdict(int)

    def note_memory(self, server: ServerProcess, kind: str) -> None:
        self.peak_rss[kind] = max(self.peak_rss[kind], server.peak_rss_bytes)
        self.peak_process_rss[kind] = max(self.peak_process_rss[kind], server.peak_process_rss_bytes)
        self.processes[kind] = max(self.processes[kind], server.process_count)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def tiled_image(info: dict) -> TiledImage:
    tiles = info["tiles"][0]
    return TiledImage(info["width"], info["height"], tiles["width"], tuple(tiles["scaleFactors"]))


class Bench:
    def __init__(self, plan: Plan, images: Path, work: Path) -> None:
        self.plan = plan
        self.images = images
        self.work = work
        self.recorder = Recorder()
        self.python = Path(sys.executable)
        self.images_by_id: dict[str, TiledImage] = {}
        self.tile_lists: dict[str, list[tuple[str, TileList]]] = {}

    # -- servers ----------------------------------------------------------------------------------

    def start(self, kind: str, label: str) -> ServerProcess:
        folder = self.work / label
        if kind == "iipsrv":
            server = start_iipsrv(self.images, folder, free_port(), self.plan.workers, self.plan.jpeg_quality,
                                  CACHE_BYTES_PER_PROCESS // 1_000_000)
        else:
            server = start_ours(self.python, self.images, folder, free_port(), self.plan.workers, self.plan.threads,
                                {"IIIF_JPEG_QUALITY": str(self.plan.jpeg_quality), "IIIF_LOG_LEVEL": "warning"})
        server.start_sampling()
        return server

    def with_server(self, kind: str, label: str, body: Callable[[ServerProcess], None]) -> None:
        server = self.start(kind, label)
        try:
            body(server)
        finally:
            server.stop()
            self.recorder.note_memory(server, kind)

    # -- requests ---------------------------------------------------------------------------------

    def image_url(self, server: ServerProcess, kind: str, identifier: str, version: int = 2) -> str:
        if kind == "iipsrv":
            suffix = ".jp2" if identifier in JP2_MASTERS else ".tif"
            return f"{server.base_url}/{identifier}{suffix}"
        return f"{server.base_url}/{version}/{identifier}"

    def paths(self, server: ServerProcess, kind: str, workload: str, version: int = 2) -> list[str]:
        origin = origin_of(server.base_url)
        return [
            self.image_url(server, kind, identifier, version)[len(origin):] + "/" + tile_path(image, tile, version)
            for identifier, image, tile in self.tile_lists[workload]
        ]

    def prepare_workloads(self, server: ServerProcess) -> None:
        """The tile lists, from the reference server's info.json: what a viewer of it would request."""
        for identifier in (*TIFF_MASTERS, *JP2_MASTERS):
            self.images_by_id[identifier] = tiled_image(fetch_json(self.image_url(server, "iipsrv", identifier) + "/info.json"))
        per_master = DISTINCT_TILES // len(TIFF_MASTERS)
        self.tile_lists["tiff"] = interleave(*[
            [(identifier, self.images_by_id[identifier], tile)
             for tile in viewer_session_tiles(self.images_by_id[identifier], per_master, seed)]
            for seed, identifier in enumerate(TIFF_MASTERS)
        ])
        per_jp2 = DISTINCT_TILES // len(JP2_MASTERS)
        self.tile_lists["jp2"] = interleave(*[
            [(identifier, self.images_by_id[identifier], tile)
             for tile in viewer_session_tiles(self.images_by_id[identifier], per_jp2, seed + 7)]
            for seed, identifier in enumerate(JP2_MASTERS)
        ])

    def load(self, server: ServerProcess, kind: str, measure: str, paths: list[str], connections: int,
             seconds: float, repetition: int, once: bool = False) -> None:
        label = f"r{repetition}-{kind}-{measure}".replace(" ", "-")
        result = run_wrk(origin_of(server.base_url), paths, self.work, label, connections, seconds,
                         server.cpu_seconds, once)
        self.recorder.loads[(measure, kind)].append(result)
        print(f"  {kind:6} {measure:26} {result.per_second:9.1f} req/s  p99 {result.p99_ms:7.1f} ms"
              f"  errors {result.errors}", flush=True)

    # -- phases -----------------------------------------------------------------------------------

    def cold_requests(self, kind: str, repetition: int, start: int) -> None:
        def measure(server: ServerProcess) -> None:
            for identifier in COLD_MASTERS:
                image = self.images_by_id[identifier]
                base = self.image_url(server, kind, identifier)
                for name, path in (("full/1000,", "full/1000,/0/default.jpg"),
                                   (f"region {REGION_EDGE}", f"{centre_region(image, REGION_EDGE)}/{REGION_EDGE},/0/default.jpg")):
                    seconds, _ = timed_get(f"{base}/{path}")
                    self.recorder.latencies[(f"{name} {identifier}", kind)].append(seconds)
                    print(f"  {kind:6} cold {name} {identifier}: {seconds * 1000:.0f} ms", flush=True)

        self.with_server(kind, f"r{repetition}-{kind}-cold{start}", measure)

    def tile_session(self, kind: str, repetition: int, connections: int) -> None:
        plan = self.plan

        def session(server: ServerProcess) -> None:
            tiff_paths = self.paths(server, kind, "tiff")
            self.load(server, kind, f"tiles c{connections} cold", tiff_paths, connections, plan.tile_seconds, repetition)
            self.load(server, kind, f"tiles c{connections} warm", tiff_paths, connections, plan.tile_seconds, repetition)
            if kind == "ours":
                self.load(server, kind, f"tiles c{connections} v3", self.paths(server, kind, "tiff", 3), connections,
                          plan.short_seconds * 2, repetition)
            if connections == 4:
                self.load(server, kind, "jp2 tiles c4", self.paths(server, kind, "jp2"), connections,
                          plan.short_seconds * 2, repetition)
            else:
                info = self.image_url(server, kind, TIFF_MASTERS[0]) + "/info.json"
                self.load(server, kind, "info.json c16", [info[len(origin_of(info)):]], connections,
                          plan.short_seconds, repetition)
                self.sample_body_bytes(kind, tiff_paths, origin_of(server.base_url))

        self.with_server(kind, f"r{repetition}-{kind}-c{connections}", session)

    def first_pass(self, kind: str, repetition: int) -> None:
        """Each tile URL requested once by a fresh server: no cache of either server can help."""
        self.with_server(kind, f"r{repetition}-{kind}-first", lambda server: self.load(
            server, kind, "tiles c16 first pass", self.paths(server, kind, "tiff"), 16, self.plan.tile_seconds / 2, repetition, once=True))

    def sample_body_bytes(self, kind: str, paths: list[str], origin: str) -> None:
        sizes = [timed_get(origin + path)[1] for path in paths[:300]]
        self.recorder.body_bytes[kind].append(statistics.mean(sizes))

    def run(self) -> Recorder:
        reference = self.start("iipsrv", "reference")
        try:
            self.prepare_workloads(reference)
        finally:
            reference.stop()
        for repetition in range(self.plan.repetitions):
            order = SERVERS if repetition % 2 == 0 else tuple(reversed(SERVERS))
            print(f"repetition {repetition + 1} of {self.plan.repetitions} ({' then '.join(order)})", flush=True)
            for kind in order:
                for start in range(self.plan.cold_starts):
                    self.cold_requests(kind, repetition, start)
                self.first_pass(kind, repetition)
                for connections in (4, 16):
                    self.tile_session(kind, repetition, connections)
        return self.recorder


# -- report ---------------------------------------------------------------------------------------


def machine_description() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    import pyvips

    def package_version(name: str) -> str:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        return result.stdout.strip() or "?"

    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": f"{memory_kib / 1024 / 1024:.0f} GiB",
        "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
        "iipsrv": f"iipimage-server {package_version('iipimage-server')} behind lighttpd {package_version('lighttpd')}",
        "wrk": package_version("wrk"),
        "commit": commit,
    }


def median_spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def format_throughput(results: list[LoadResult]) -> str:
    middle, low, high = median_spread([r.per_second for r in results])
    return f"{middle:,.0f} ({low:,.0f}–{high:,.0f})"


def format_p99(results: list[LoadResult]) -> str:
    middle, low, high = median_spread([r.p99_ms for r in results])
    return f"{middle:.1f} ({low:.1f}–{high:.1f})"


def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    met = ratio >= target if higher_is_better else ratio <= target
    return f"{'✅' if met else '❌'} {'≥' if higher_is_better else '≤'} {target:g}"


def report(recorder: Recorder, plan: Plan, machine: dict[str, str]) -> str:
    lines = [
        f"Measured {machine['date']} on {machine['cpu']}, {machine['memory']} RAM; libvips {machine['libvips']}; "
        f"{machine['iipsrv']}; wrk {machine['wrk']} on the same cores; commit {machine['commit']}.",
        f"{plan.workers} worker processes each (ours: gunicorn gthread with balanced accepts, {plan.threads} threads; iipsrv: "
        f"{plan.workers} FastCGI processes); JPEG quality {plan.jpeg_quality} for both. "
        f"Median of {plan.repetitions} repetitions (spread min–max in brackets); ratio = ours / iipsrv.",
        "",
        "| workload | iipsrv | ours (/iiif/2/) | ratio | target | ours p99 ms | iipsrv p99 ms | ours /iiif/3/ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    loads = recorder.loads
    for measure, target in (("tiles c16 first pass", 1.0), ("tiles c4 cold", 1.0), ("tiles c4 warm", 1.0), ("tiles c16 cold", 1.0),
                            ("tiles c16 warm", 1.0), ("jp2 tiles c4", 2.0), ("info.json c16", 0.5)):
        ours, theirs = loads[(measure, "ours")], loads[(measure, "iipsrv")]
        ratio = statistics.median(r.per_second for r in ours) / statistics.median(r.per_second for r in theirs)
        v3 = format_throughput(loads[(measure.replace("warm", "v3"), "ours")]) if measure.endswith("warm") else ""
        p99_met = statistics.median(r.p99_ms for r in ours) <= statistics.median(r.p99_ms for r in theirs)
        p99_verdict = f"; p99 {'✅' if p99_met else '❌'} ≤ iipsrv" if measure.startswith("tiles") else ""
        lines.append(
            f"| {measure} (req/s) | {format_throughput(theirs)} | {format_throughput(ours)} | {ratio:.2f} | "
            f"{verdict(ratio, target, True)}{p99_verdict} | {format_p99(ours)} | {format_p99(theirs)} | {v3} |"
        )
    for measure, _ in sorted(recorder.latencies.items()):
        if measure[1] != "ours":
            continue
        name = measure[0]
        ours = recorder.latencies[(name, "ours")]
        theirs = recorder.latencies[(name, "iipsrv")]
        ratio = statistics.median(ours) / statistics.median(theirs)
        middle_ours, low_ours, high_ours = median_spread([s * 1000 for s in ours])
        middle_theirs, low_theirs, high_theirs = median_spread([s * 1000 for s in theirs])
        lines.append(
            f"| cold {name} (ms, median of {len(ours)}) | {middle_theirs:,.0f} ({low_theirs:,.0f}–{high_theirs:,.0f}) | "
            f"{middle_ours:,.0f} ({low_ours:,.0f}–{high_ours:,.0f}) | {ratio:.2f} | {verdict(ratio, 1.0, False)} | | | |"
        )
    mib = 1024 * 1024
    lines.append(
        f"| peak memory, all processes (MiB) | {recorder.peak_rss['iipsrv'] / mib:,.0f} "
        f"({recorder.processes['iipsrv']} processes, largest {recorder.peak_process_rss['iipsrv'] / mib:.0f}) | "
        f"{recorder.peak_rss['ours'] / mib:,.0f} ({recorder.processes['ours']} processes, largest "
        f"{recorder.peak_process_rss['ours'] / mib:.0f}) | {recorder.peak_rss['ours'] / recorder.peak_rss['iipsrv']:.2f} | "
        f"ours ≤ 1024 MiB {'✅' if recorder.peak_rss['ours'] <= 1024 * mib else '❌'} | | | |"
    )
    ours_bytes = statistics.median(recorder.body_bytes["ours"])
    theirs_bytes = statistics.median(recorder.body_bytes["iipsrv"])
    lines.append(f"| bytes per tile (mean body) | {theirs_bytes:,.0f} | {ours_bytes:,.0f} | "
                 f"{ours_bytes / theirs_bytes:.2f} | | | | |")
    ours_cpu = statistics.median(r.per_cpu_second for r in loads[("tiles c16 warm", "ours")])
    theirs_cpu = statistics.median(r.per_cpu_second for r in loads[("tiles c16 warm", "iipsrv")])
    lines.append(f"| tiles per server CPU-second (c16 warm) | {theirs_cpu:,.0f} | {ours_cpu:,.0f} | "
                 f"{ours_cpu / theirs_cpu:.2f} | | | | |")
    errors = {kind: sum(r.errors for (_, k), results in loads.items() if k == kind for r in results) for kind in SERVERS}
    lines += ["", f"Failed requests: iipsrv {errors['iipsrv']}, ours {errors['ours']}. Tiles: {DISTINCT_TILES:,} "
              f"distinct OpenSeadragon tile URLs over the 16k and 40k pyramidal TIFFs, all scale factors, shuffled; "
              f"{plan.tile_seconds:g} s per pass, each pass after a fresh server start (cold) and again (warm); "
              "a pass walks the list again and again, so after the first walk both servers answer from their "
              "caches what fits (iipsrv's tile cache gets the memory our worker keeps responses in: "
              f"{CACHE_BYTES_PER_PROCESS // 1_000_000} MB per process). First pass: each URL once, on a fresh "
              "server, so no cache helps. "
              f"JPEG 2000: {DISTINCT_TILES:,} tile URLs of the 16k and 40k JP2s, {plan.short_seconds * 2:g} s. "
              "Cold requests: the first request of each kind to a freshly started server (the files are in the "
              "OS page cache for both)."]
    return "\n".join(lines) + "\n"


def raw_results(recorder: Recorder) -> dict:
    return {
        "loads": {f"{measure} | {kind}": [asdict(r) for r in results] for (measure, kind), results in recorder.loads.items()},
        "latencies": {f"{measure} | {kind}": values for (measure, kind), values in recorder.latencies.items()},
        "body_bytes": recorder.body_bytes,
        "peak_rss": recorder.peak_rss,
        "peak_process_rss": recorder.peak_process_rss,
    }


README_TABLE_START = "<!-- benchmark table: written by bash scripts/bench.sh -->"
README_TABLE_END = "<!-- end of benchmark table -->"


def update_readme(readme: Path, table: str) -> bool:
    """Put ``table`` between the README's benchmark markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_TABLE_START), text.find(README_TABLE_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[: start + len(README_TABLE_START)] + "\n" + table + text[end:], encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "cache",
                        help="folder for the generated masters (kept between runs)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "latest.md",
                        help="the markdown table; raw figures go to results/raw/ beside it")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--tile-seconds", type=float, default=20.0)
    parser.add_argument("--short-seconds", type=float, default=5.0, help="info.json pass; half the JP2 and v3 passes")
    parser.add_argument("--cold-starts", type=int, default=2, help="fresh server starts per repetition for cold requests")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=Settings().threads, help="threads per worker of our server")
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--no-readme", dest="update_readme", action="store_false",
                        help="leave the README's Performance table as it is")
    arguments = parser.parse_args(argv)
    # A SIGTERM or a closed terminal must still run the finally blocks that stop the servers.
    for signal_number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda number, _: sys.exit(128 + number))
    plan = Plan(arguments.repetitions, arguments.tile_seconds, arguments.short_seconds, arguments.cold_starts,
                arguments.workers, arguments.threads, arguments.jpeg_quality)
    images = arguments.cache / "images"
    ensure_masters(images)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="iiif-bench-") as scratch:
        recorder = Bench(plan, images.resolve(), Path(scratch)).run()
    machine = machine_description()
    table = report(recorder, plan, machine)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(f"# Benchmark: iiif-archive vs IIPImage\n\n{table}")
    raw = arguments.output.parent / "raw" / f"{machine['date'].replace(' ', '_').replace(':', '')}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"machine": machine, "plan": asdict(plan), **raw_results(recorder)}, indent=1))
    print(table)
    print(f"wrote {arguments.output} and {raw} in {(time.monotonic() - started) / 60:.1f} min")
    if arguments.update_readme:
        readme = REPO_ROOT / "README.md"
        print(f"updated {readme}" if update_readme(readme, table) else f"{readme} has no benchmark markers to update")
    from bench.fleet import main as fleet_main  # the fleet's rows: nginx in front, ingest on Dask

    return fleet_main(["--cache", str(arguments.cache), *([] if arguments.update_readme else ["--no-readme"])])


if __name__ == "__main__":
    sys.exit(main())
