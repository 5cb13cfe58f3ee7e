"""The benchmark against IIPImage: ``python -m bench.run`` (``bash scripts/bench.sh`` installs first).

Both servers get the same requests in the same run, one after the other (the order alternates per
repetition), each with the same number of worker processes. Only the ratios of one run are
comparable: on a shared machine the absolute figures move by a factor of two from hour to hour.

The headline is the distinct workload: every pass requests only URLs that neither server was ever
asked, under identifiers of its own that name hard links of the masters, so no response replay,
derivative, tile or info cache of either server can answer. Passes that cycle one list of URLs are
reported apart, as "repeated (cache hits)".
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
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.load import LoadResult, origin_of, run_wrk, timed_get
from bench.masters import ensure_masters
from bench.servers import ServerProcess, start_iipsrv, start_ours
from bench.workload import (
    MasterCopy,
    TiledImage,
    TileRequest,
    centre_region,
    distinct_copies,
    distinct_tile_walk,
    tile_path,
    viewer_session_tiles,
)
from iiif_server.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
TIFF_MASTERS = ("archive-16k", "archive-40k")
# The 40k JP2 has 4,661 code-tiles: an OpenJPEG decoder opened on all of it holds about 55 MB of
# tile headers (libvips' levels, for crops above 2048 px), which the memory target must absorb.
JP2_MASTERS = ("archive-16k-jp2", "archive-40k-jp2")
SUFFIXES = {**dict.fromkeys(TIFF_MASTERS, ".tif"), **dict.fromkeys(JP2_MASTERS, ".jp2")}
COLD_MASTERS = ("archive-16k", "archive-40k", *JP2_MASTERS)
REPEATED_MASTER = "archive-16k"  # the repeated passes cycle this master's session
REGION_EDGE = 2048
SERVERS = ("iipsrv", "ours")
# iipsrv's tile cache gets the memory our worker keeps responses in (response and derivative caches).
CACHE_BYTES_PER_PROCESS = Settings().response_cache_bytes + Settings().derivative_cache_bytes
# The measures, in the order of the table; targets from issue 13 (ours / iipsrv throughput).
DISTINCT_TILES_C4, DISTINCT_TILES_C16 = "distinct tiles c4", "distinct tiles c16"
DISTINCT_JP2 = "distinct JPEG 2000 tiles c4"
DISTINCT_INFO = "distinct info.json c16"
DISTINCT_JP2_INFO = "distinct JPEG 2000 info.json c16"
REPEATED_TILES_C4, REPEATED_TILES_C16 = "repeated tiles c4 (cache hits)", "repeated tiles c16 (cache hits)"
REPEATED_INFO = "repeated info.json c16 (cache hits)"
REPEATED_V3 = "repeated tiles c16 via /iiif/3/ (cache hits)"
THROUGHPUT_TARGETS = {
    DISTINCT_TILES_C4: 2.0, DISTINCT_TILES_C16: 2.0, DISTINCT_JP2: 3.0, DISTINCT_INFO: 1.0, DISTINCT_JP2_INFO: 1.0,
    REPEATED_TILES_C4: None, REPEATED_TILES_C16: None, REPEATED_INFO: 1.0,
}
P99_TARGETS = (DISTINCT_TILES_C4, DISTINCT_TILES_C16)  # ours' p99 at most iipsrv's


@dataclass(frozen=True)
class Plan:
    repetitions: int
    distinct_seconds: int  # per distinct tile or info.json pass
    jp2_seconds: int
    repeated_seconds: int
    cold_starts: int
    workers: int
    threads: int
    jpeg_quality: int
    tiles_per_master: int  # one viewer session's distinct tiles of each master
    tile_copies: int  # hard links of the TIFF masters per distinct tile pass
    jp2_copies: int
    info_identifiers: int  # hard links per distinct info.json pass
    master_divisor: int  # 1; a smoke run's masters are smaller


class Recorder:
    """Every measurement of the run by (measure, server), plus peak memory per server."""

    def __init__(self) -> None:
        self.loads: dict[tuple[str, str], list[LoadResult]] = defaultdict(list)
        self.latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.body_bytes: dict[str, list[float]] = defaultdict(list)
        self.peak_rss: dict[str, int] = defaultdict(int)
        self.peak_process_rss: dict[str, int] = defaultdict(int)
        self.processes: dict[str, int] = defaultdict(int)
        self.failed_cold: dict[str, int] = defaultdict(int)  # cold requests answered with an error status

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


@contextmanager
def run_folders(cache: Path, master_divisor: int) -> Iterator[tuple[Path, Path]]:
    """The run's image folder and scratch folder, removed after the run. The image folder holds hard
    links of the masters (generated under ``cache`` if missing) and, during a distinct pass, its
    copies: on the masters' file system, so that links work. The scratch folder is a short path
    under the system's temporary folder: iipsrv's FastCGI socket lives there (at most 107 bytes)."""
    masters = ensure_masters(cache / "images", master_divisor)
    with (tempfile.TemporaryDirectory(prefix="run-", dir=cache) as run_images,
          tempfile.TemporaryDirectory(prefix="iiif-bench-") as work):
        images = Path(run_images).resolve()
        for master in masters:
            os.link(master, images / master.name)
        yield images, Path(work)


class Bench:
    def __init__(self, plan: Plan, images: Path, work: Path, ours_from: Path | None = None) -> None:
        self.plan = plan
        self.ours_from = ours_from
        self.images = images  # the masters and, during a distinct pass, its hard links
        self.work = work
        self.recorder = Recorder()
        self.python = Path(sys.executable)
        self.sessions: dict[str, tuple[TiledImage, list[TileRequest]]] = {}

    # -- servers ----------------------------------------------------------------------------------

    @property
    def half_repeated_seconds(self) -> int:
        return max(1, round(self.plan.repeated_seconds / 2))  # wrk takes whole seconds

    def start(self, kind: str, label: str) -> ServerProcess:
        folder = self.work / label
        if kind == "iipsrv":
            server = start_iipsrv(self.images, folder, free_port(), self.plan.workers, self.plan.jpeg_quality,
                                  CACHE_BYTES_PER_PROCESS // 1_000_000)
        else:
            environment = {"IIIF_JPEG_QUALITY": str(self.plan.jpeg_quality), "IIIF_LOG_LEVEL": "warning"}
            server = start_ours(self.python, self.images, folder, free_port(), self.plan.workers,
                                self.plan.threads, environment, self.ours_from)
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

    def image_path(self, server: ServerProcess, kind: str, identifier: str, version: int = 2,
                   master: str | None = None) -> str:
        """The URL path of an image (iipsrv: its file name, with the suffix of the master it links to)."""
        prefix = server.base_url[len(origin_of(server.base_url)):]
        if kind == "iipsrv":
            return f"{prefix}/{identifier}{SUFFIXES[master or identifier]}"
        return f"{prefix}/{version}/{identifier}"

    def prepare_sessions(self, server: ServerProcess) -> None:
        """One viewer session per master, from the reference server's info.json: what a viewer of it
        would request. Every copy of a master in a distinct pass is read through the same session."""
        origin = origin_of(server.base_url)
        for seed, identifier in enumerate((*TIFF_MASTERS, *JP2_MASTERS)):
            image = tiled_image(fetch_json(origin + self.image_path(server, "iipsrv", identifier) + "/info.json"))
            self.sessions[identifier] = (image, viewer_session_tiles(image, self.plan.tiles_per_master, seed))

    @contextmanager
    def linked(self, copies: tuple[MasterCopy, ...]) -> Iterator[None]:
        """Hard links of the masters under the copies' identifiers, for one pass only."""
        links = [self.images / f"{copy.identifier}{SUFFIXES[copy.master]}" for copy in copies]
        try:
            for copy, link in zip(copies, links):
                os.link(self.images / f"{copy.master}{SUFFIXES[copy.master]}", link)
            yield
        finally:
            for link in links:
                link.unlink(missing_ok=True)

    def load(self, server: ServerProcess, kind: str, measure: str, paths: list[str], connections: int,
             seconds: float, repetition: int, once: bool = False) -> None:
        label = f"r{repetition}-{kind}-" + "".join(c if c.isalnum() or c in ".-" else "-" for c in measure)
        result = run_wrk(origin_of(server.base_url), paths, self.work, label, connections, seconds,
                         server.cpu_seconds, once)
        self.recorder.loads[(measure, kind)].append(result)
        print(f"  {kind:6} {measure:44} {result.per_second:9.1f} req/s  p50 {result.p50_ms:6.1f} ms"
              f"  p99 {result.p99_ms:7.1f} ms  {result.cpu_seconds_per_thousand:5.2f} CPU s/1,000"
              f"  errors {result.errors}", flush=True)

    def warm(self, server: ServerProcess, kind: str, repetition: int, paths: list[str]) -> None:
        """One unmeasured walk of ``paths``: a repeated pass then measures cache hits only, not the
        first walk's misses (which the distinct passes measure)."""
        run_wrk(origin_of(server.base_url), paths, self.work, f"r{repetition}-{kind}-warm", 16, self.plan.distinct_seconds,
                server.cpu_seconds, once=True)

    # -- phases -----------------------------------------------------------------------------------

    def cold_requests(self, kind: str, repetition: int, start: int) -> None:
        def measure(server: ServerProcess) -> None:
            origin = origin_of(server.base_url)
            for identifier in COLD_MASTERS:
                image = self.sessions[identifier][0]
                base = origin + self.image_path(server, kind, identifier)
                edge = REGION_EDGE // self.plan.master_divisor
                for name, path in (("full/1000,", "full/1000,/0/default.jpg"),
                                   (f"region {edge}", f"{centre_region(image, edge)}/{edge},/0/default.jpg")):
                    try:
                        seconds, _ = timed_get(f"{base}/{path}")
                    except urllib.error.HTTPError as error:
                        self.recorder.failed_cold[kind] += 1
                        print(f"  {kind:6} cold {name} {identifier}: failed, {error}", flush=True)
                        continue
                    self.recorder.latencies[(f"{name} {identifier}", kind)].append(seconds)
                    print(f"  {kind:6} cold {name} {identifier}: {seconds * 1000:.0f} ms", flush=True)

        self.with_server(kind, f"r{repetition}-{kind}-cold{start}", measure)

    def distinct_pass(self, server: ServerProcess, kind: str, repetition: int, measure: str, masters: tuple[str, ...],
                      copies: int, connections: int, seconds: float) -> None:
        """Each URL once, of identifiers made for this pass: what the first readers of documents get."""
        fresh = distinct_copies(f"r{repetition}-{kind}-{measure.split()[1]}-c{connections}", masters, copies)
        master_of = {copy.identifier: copy.master for copy in fresh}
        paths = []
        for identifier_and_tile in distinct_tile_walk(fresh, self.sessions, version=2):
            identifier, tile = identifier_and_tile.split("/", 1)
            paths.append(f"{self.image_path(server, kind, identifier, master=master_of[identifier])}/{tile}")
        with self.linked(fresh):
            self.load(server, kind, measure, paths, connections, seconds, repetition, once=True)

    def distinct_info(self, server: ServerProcess, kind: str, repetition: int, measure: str,
                      masters: tuple[str, ...]) -> None:
        label = f"r{repetition}-{kind}-info-{SUFFIXES[masters[0]][1:]}"
        fresh = distinct_copies(label, masters, self.plan.info_identifiers)
        with self.linked(fresh):
            self.load(server, kind, measure,
                      [self.image_path(server, kind, copy.identifier, master=copy.master) + "/info.json"
                       for copy in fresh], 16, self.plan.distinct_seconds, repetition, once=True)

    def session(self, kind: str, repetition: int) -> None:
        """One fresh server: the distinct passes first, then the repeated ones."""
        plan = self.plan

        def measure(server: ServerProcess) -> None:
            for connections, name in ((4, DISTINCT_TILES_C4), (16, DISTINCT_TILES_C16)):
                self.distinct_pass(server, kind, repetition, name, TIFF_MASTERS, plan.tile_copies, connections,
                                   plan.distinct_seconds)
            self.distinct_pass(server, kind, repetition, DISTINCT_JP2, JP2_MASTERS, plan.jp2_copies, 4, plan.jp2_seconds)
            self.distinct_info(server, kind, repetition, DISTINCT_INFO, TIFF_MASTERS)
            self.distinct_info(server, kind, repetition, DISTINCT_JP2_INFO, JP2_MASTERS)
            info = self.image_path(server, kind, REPEATED_MASTER) + "/info.json"
            self.load(server, kind, REPEATED_INFO, [info], 16, self.half_repeated_seconds, repetition)
            image, tiles = self.sessions[REPEATED_MASTER]
            repeated = [f"{self.image_path(server, kind, REPEATED_MASTER)}/{tile_path(image, tile, 2)}" for tile in tiles]
            self.warm(server, kind, repetition, repeated)
            for connections, name in ((4, REPEATED_TILES_C4), (16, REPEATED_TILES_C16)):
                self.load(server, kind, name, repeated, connections, plan.repeated_seconds, repetition)
            if kind == "ours":
                v3 = [f"{self.image_path(server, kind, REPEATED_MASTER, 3)}/{tile_path(image, tile, 3)}" for tile in tiles]
                self.warm(server, kind, repetition, v3)
                self.load(server, kind, REPEATED_V3, v3, 16, self.half_repeated_seconds, repetition)
            origin = origin_of(server.base_url)
            self.recorder.body_bytes[kind].append(statistics.mean(timed_get(origin + path)[1] for path in repeated[:300]))

        self.with_server(kind, f"r{repetition}-{kind}-session", measure)

    def run(self) -> Recorder:
        reference = self.start("iipsrv", "reference")
        try:
            self.prepare_sessions(reference)
        finally:
            reference.stop()
        for repetition in range(self.plan.repetitions):
            order = SERVERS if repetition % 2 == 0 else tuple(reversed(SERVERS))
            print(f"repetition {repetition + 1} of {self.plan.repetitions} ({' then '.join(order)})", flush=True)
            for kind in order:
                for start in range(self.plan.cold_starts):
                    self.cold_requests(kind, repetition, start)
                self.session(kind, repetition)
        return self.recorder


# -- report ---------------------------------------------------------------------------------------


def machine_description(ours_from: Path | None = None) -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    import pyvips

    def package_version(name: str) -> str:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        return result.stdout.strip() or "?"

    commit = subprocess.run(["git", "-C", str(ours_from or REPO_ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
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


def format_latency(results: list[LoadResult]) -> str:
    return f"{statistics.median(r.p50_ms for r in results):.1f} / {statistics.median(r.p99_ms for r in results):.1f}"


def cpu_per_thousand(results: list[LoadResult]) -> float:
    return statistics.median(r.cpu_seconds_per_thousand for r in results)


def throughput_ratio(recorder: Recorder, measure: str) -> float:
    ours, theirs = recorder.loads[(measure, "ours")], recorder.loads[(measure, "iipsrv")]
    return statistics.median(r.per_second for r in ours) / statistics.median(r.per_second for r in theirs)


def median_p99(recorder: Recorder, measure: str, kind: str) -> float:
    return statistics.median(r.p99_ms for r in recorder.loads[(measure, kind)])


def verdict(ratio: float, target: float, higher_is_better: bool) -> str:
    met = ratio >= target if higher_is_better else ratio <= target
    return f"{'✅' if met else '❌'} {'≥' if higher_is_better else '≤'} {target:g}"


def headline(recorder: Recorder) -> str:
    figures = [
        f"{throughput_ratio(recorder, measure):.2f} at {connections} connections (p99 "
        f"{median_p99(recorder, measure, 'ours'):.1f} ms against {median_p99(recorder, measure, 'iipsrv'):.1f})"
        for connections, measure in ((4, DISTINCT_TILES_C4), (16, DISTINCT_TILES_C16))
    ]
    return (f"**Distinct tiles, every URL new to both servers: ours / iipsrv = {figures[0]}, {figures[1]}; "
            f"JPEG 2000 {throughput_ratio(recorder, DISTINCT_JP2):.2f}; "
            f"info.json {throughput_ratio(recorder, DISTINCT_INFO):.2f} (TIFF), "
            f"{throughput_ratio(recorder, DISTINCT_JP2_INFO):.2f} (JPEG 2000).**")


def report(recorder: Recorder, plan: Plan, machine: dict[str, str]) -> str:
    lines = [
        headline(recorder),
        "",
        f"Measured {machine['date']} on {machine['cpu']}, {machine['memory']} RAM; libvips {machine['libvips']}; "
        f"{machine['iipsrv']}; wrk {machine['wrk']} on the same cores; commit {machine['commit']}.",
        f"{plan.workers} worker processes each (ours: gunicorn with granian's HTTP handling, {plan.threads} threads; iipsrv: "
        f"{plan.workers} FastCGI processes); JPEG quality {plan.jpeg_quality} for both. "
        f"Median of {plan.repetitions} repetitions (throughput spread min–max in brackets); ratio = ours / iipsrv; "
        "CPU: seconds of user + system time of all the server's processes per 1,000 answers.",
        "",
        "| workload | iipsrv req/s | p50 / p99 ms | ours req/s (/iiif/2/) | p50 / p99 ms | ratio | target | "
        "CPU s per 1,000: iipsrv / ours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    loads = recorder.loads
    for measure, target in THROUGHPUT_TARGETS.items():
        ours, theirs = loads[(measure, "ours")], loads[(measure, "iipsrv")]
        ratio = throughput_ratio(recorder, measure)
        target_cell = verdict(ratio, target, True) if target else ""
        if measure in P99_TARGETS:
            p99_met = median_p99(recorder, measure, "ours") <= median_p99(recorder, measure, "iipsrv")
            target_cell += f"; p99 {'✅' if p99_met else '❌'} ≤ iipsrv"
        lines.append(
            f"| {measure} | {format_throughput(theirs)} | {format_latency(theirs)} | {format_throughput(ours)} | "
            f"{format_latency(ours)} | {ratio:.2f} | {target_cell} | "
            f"{cpu_per_thousand(theirs):.2f} / {cpu_per_thousand(ours):.2f} |"
        )
    v3 = loads[(REPEATED_V3, "ours")]
    lines.append(f"| {REPEATED_V3} | | | {format_throughput(v3)} | {format_latency(v3)} | | | {cpu_per_thousand(v3):.2f} |")
    for name, kind in sorted(recorder.latencies):
        if kind != "ours":
            continue
        ours = recorder.latencies[(name, "ours")]
        theirs = recorder.latencies.get((name, "iipsrv"))
        if not theirs:
            continue
        ratio = statistics.median(ours) / statistics.median(theirs)
        middle_ours, low_ours, high_ours = median_spread([s * 1000 for s in ours])
        middle_theirs, low_theirs, high_theirs = median_spread([s * 1000 for s in theirs])
        lines.append(
            f"| cold {name} (ms, median of {len(ours)}) | {middle_theirs:,.0f} ({low_theirs:,.0f}–{high_theirs:,.0f}) | | "
            f"{middle_ours:,.0f} ({low_ours:,.0f}–{high_ours:,.0f}) | | {ratio:.2f} | {verdict(ratio, 1.0, False)} | |"
        )
    mib = 1024 * 1024
    lines.append(
        f"| peak memory, all processes (MiB) | {recorder.peak_rss['iipsrv'] / mib:,.0f} "
        f"({recorder.processes['iipsrv']} processes, largest {recorder.peak_process_rss['iipsrv'] / mib:.0f}) | | "
        f"{recorder.peak_rss['ours'] / mib:,.0f} ({recorder.processes['ours']} processes, largest "
        f"{recorder.peak_process_rss['ours'] / mib:.0f}) | | {recorder.peak_rss['ours'] / recorder.peak_rss['iipsrv']:.2f} | "
        f"ours ≤ 1024 MiB {'✅' if recorder.peak_rss['ours'] <= 1024 * mib else '❌'} | |"
    )
    ours_bytes = statistics.median(recorder.body_bytes["ours"])
    theirs_bytes = statistics.median(recorder.body_bytes["iipsrv"])
    lines.append(f"| bytes per tile (mean body) | {theirs_bytes:,.0f} | | {ours_bytes:,.0f} | | "
                 f"{ours_bytes / theirs_bytes:.2f} | | |")
    errors = {kind: recorder.failed_cold[kind] + sum(r.errors for (_, k), results in loads.items() if k == kind
                                                      for r in results) for kind in SERVERS}
    tile_urls = plan.tile_copies * plan.tiles_per_master
    lines += ["", f"Failed requests: iipsrv {errors['iipsrv']}, ours {errors['ours']}. "
              f"Distinct: each pass requests only URLs never requested from either server, each once: its own "
              f"identifiers, hard links of the masters made for the pass. Tiles: {plan.tile_copies} copies of the "
              f"16k and 40k pyramidal TIFFs (taken in turn) × {plan.tiles_per_master:,} OpenSeadragon tile URLs of "
              f"a viewer session on each (all scale factors, shuffled), the copies interleaved: {tile_urls:,} URLs "
              f"for at most {plan.distinct_seconds:g} s; JPEG 2000: {plan.jp2_copies} copies of the 16k and 40k JP2s, "
              f"{plan.jp2_seconds:g} s; info.json: {plan.info_identifiers:,} identifiers (copies of the TIFFs, "
              f"then of the JP2s), at most {plan.distinct_seconds:g} s. A pass that runs out of URLs before its time is timed by Little's law "
              "(requests × mean latency / connections). Repeated (cache hits): the "
              f"{plan.tiles_per_master:,} tile URLs of the 16k master cycled for {plan.repeated_seconds:g} s on the same server after the distinct passes and one "
              "unmeasured walk of them, so both servers answer from their caches (iipsrv's tile cache gets the memory "
              f"our worker keeps responses in: {CACHE_BYTES_PER_PROCESS // 1_000_000} MB per process); "
              f"one info.json repeated for {max(1, round(plan.repeated_seconds / 2))} s. Cold requests: the first request of each "
              "kind to a freshly started server (the files are in the OS page cache for both)."]
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
    parser.add_argument("--output", type=Path, default=None,
                        help="the markdown table (default bench/results/latest.md); raw figures go to raw/ beside it")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--distinct-seconds", type=int, default=6, help="limit of a distinct tile or info.json pass")
    parser.add_argument("--jp2-seconds", type=int, default=10, help="limit of a distinct JPEG 2000 pass")
    parser.add_argument("--repeated-seconds", type=int, default=8, help="a repeated tile pass; half for info.json")
    parser.add_argument("--tile-copies", type=int, default=24, help="copies of the TIFF masters per distinct tile pass")
    parser.add_argument("--jp2-copies", type=int, default=4, help="copies of the JP2 masters per distinct pass")
    parser.add_argument("--info-identifiers", type=int, default=12_000, help="identifiers per distinct info.json pass")
    parser.add_argument("--cold-starts", type=int, default=2, help="fresh server starts per repetition for cold requests")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=Settings().threads, help="threads per worker of our server")
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--no-readme", dest="update_readme", action="store_false",
                        help="leave the README's Performance table as it is")
    parser.add_argument("--ours-from", type=Path, default=None,
                        help="serve our side from another checkout of this repository (an earlier commit, for "
                             "a before/after in one run); implies --no-readme and no fleet rows")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (about a minute): small masters under CACHE/quick, 1 repetition of 1 s "
                             "passes, no fleet rows; writes CACHE/quick/latest.md, never the README")
    arguments = parser.parse_args(argv)
    # A SIGTERM or a closed terminal must still run the finally blocks that stop the servers.
    for signal_number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda number, _: sys.exit(128 + number))
    if arguments.quick:
        cache = arguments.cache / "quick"
        plan = Plan(repetitions=1, distinct_seconds=1, jp2_seconds=1, repeated_seconds=1, cold_starts=1,
                    workers=arguments.workers, threads=arguments.threads, jpeg_quality=arguments.jpeg_quality,
                    tiles_per_master=40, tile_copies=2, jp2_copies=2, info_identifiers=200, master_divisor=8)
    else:
        cache = arguments.cache
        plan = Plan(arguments.repetitions, arguments.distinct_seconds, arguments.jp2_seconds,
                    arguments.repeated_seconds, arguments.cold_starts, arguments.workers, arguments.threads,
                    arguments.jpeg_quality, tiles_per_master=2000, tile_copies=arguments.tile_copies,
                    jp2_copies=arguments.jp2_copies, info_identifiers=arguments.info_identifiers, master_divisor=1)
    results = REPO_ROOT / "bench" / "results"
    output = arguments.output or (cache / "latest.md" if arguments.quick else
                                  results / "checkout.md" if arguments.ours_from else results / "latest.md")
    started = time.monotonic()
    with run_folders(cache, plan.master_divisor) as (images, work):
        recorder = Bench(plan, images, work, arguments.ours_from).run()
    machine = machine_description(arguments.ours_from)
    table = report(recorder, plan, machine)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# Benchmark: iiif-archive vs IIPImage\n\n{table}")
    raw = output.parent / "raw" / f"{machine['date'].replace(' ', '_').replace(':', '')}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps({"machine": machine, "plan": asdict(plan), **raw_results(recorder)}, indent=1))
    print(table)
    print(f"wrote {output} and {raw} in {(time.monotonic() - started) / 60:.1f} min")
    if arguments.quick or arguments.ours_from:
        return 0
    if arguments.update_readme:
        readme = REPO_ROOT / "README.md"
        print(f"updated {readme}" if update_readme(readme, table) else f"{readme} has no benchmark markers to update")
    from bench.fleet import main as fleet_main  # the fleet's rows: nginx in front, ingest on Dask

    return fleet_main(["--cache", str(arguments.cache), *([] if arguments.update_readme else ["--no-readme"])])


if __name__ == "__main__":
    sys.exit(main())
