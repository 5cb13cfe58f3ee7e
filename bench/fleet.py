"""The fleet's rows of the benchmark: one server against two behind nginx, nginx's shared cache against
iipsrv, and ingest one scan after another against a Dask LocalCluster (``python -m bench.fleet``).

On 2 cores a second server cannot add throughput, so the fleet is measured by what it costs: tiles per
CPU-second of every process serving them (servers and nginx), and by what nginx's cache saves: its
hit rate and the rate of repeated tiles it answers, against iipsrv answering the same tiles warm.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyvips

from bench.load import LoadResult, origin_of, run_wrk
from bench.masters import TIFF_SAVE_OPTIONS, archive_page
from bench.run import CACHE_BYTES_PER_PROCESS, fetch_json, free_port, machine_description, tiled_image
from bench.servers import ServerProcess, start_iipsrv, start_ours
from bench.workload import tile_path, viewer_session_tiles
from iiif_archive.deploy import Address, NginxDeployment, nginx_config
from manifests.cluster import dask_executor
from manifests.ingest import IngestOptions, IngestStatus, ingest

REPO_ROOT = Path(__file__).resolve().parent.parent
MASTER = "fleet-8k"
MASTER_SIZE = (8_000, 6_000)
SCAN_SIZE = (3_000, 2_200)
NGINX = "/usr/sbin/nginx"
# A walk of every distinct tile must finish (the repeated pass after it must find them all cached):
# 2,000 tiles at 66/s took 30 s on a machine loaded twenty times over. wrk sleeps out the whole limit
# even when the walk ends early, so a longer one only wastes the run's time.
ONCE_LIMIT_SECONDS = 90
CACHE_STATUS = re.compile(r" cache=(\S+) ")
README_START = "<!-- fleet benchmark: written by bash scripts/bench.sh -->"
README_END = "<!-- end of fleet benchmark -->"
# The ceiling of any cache in front: nginx answering one tile-sized static file, nothing else.
STATIC_CONFIG = """\
user {user};
worker_processes auto;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    client_body_temp_path {run}/client-body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {run}/static;
    }}
}}
"""


@dataclass(frozen=True)
class FleetFigures:
    one_server_first: LoadResult
    fleet_first: LoadResult
    fleet_repeated: LoadResult
    fleet_repeated_hit_rate: float
    ours_repeated: LoadResult
    iipsrv_repeated: LoadResult
    static_file: LoadResult
    ingest_sequential_seconds: float
    ingest_cluster_seconds: float
    cluster_start_seconds: float
    scans: int


class Processes:
    """CPU time of several process groups together (servers and nginx)."""

    def __init__(self, *groups: ServerProcess) -> None:
        self.groups = groups

    def cpu_seconds(self) -> float:
        return sum(group.cpu_seconds() for group in self.groups)


def ensure_inputs(cache: Path, scans: int) -> tuple[Path, Path]:
    """The 8k master (as the main benchmark's masters) and ``scans`` document scans as JPEG, once."""
    images, scan_folder = cache / "fleet-images", cache / "fleet-scans"
    images.mkdir(parents=True, exist_ok=True)
    scan_folder.mkdir(parents=True, exist_ok=True)
    master = images / f"{MASTER}.tif"
    if not master.exists():
        print(f"generating {master} (once)", flush=True)
        archive_page(*MASTER_SIZE, seed=3).tiffsave(str(master.with_name(".partial.tif")), **TIFF_SAVE_OPTIONS)
        os.replace(master.with_name(".partial.tif"), master)
    for number in range(scans):
        scan = scan_folder / f"scan-{number:03}.jpg"
        if not scan.exists():
            archive_page(*SCAN_SIZE, seed=100 + number).jpegsave(str(scan.with_name(".partial.jpg")), Q=92)
            os.replace(scan.with_name(".partial.jpg"), scan)
    for extra in sorted(scan_folder.glob("scan-*.jpg"))[scans:]:
        extra.unlink()
    return images, scan_folder


def start_nginx(work: Path, upstreams: list[ServerProcess], port: int) -> ServerProcess:
    run_dir = work / "nginx"
    deployment = NginxDeployment(
        upstreams=tuple(Address("127.0.0.1", int(origin_of(server.base_url).rsplit(":", 1)[1])) for server in upstreams),
        listen=Address("127.0.0.1", port), cache_dir=work / "nginx-cache", run_dir=run_dir, cache_size="2g",
        user=getpass.getuser(),
    )
    run_dir.mkdir(parents=True)
    config = work / "nginx.conf"
    config.write_text(nginx_config(deployment))
    log_path = run_dir / "error.log"
    process = subprocess.Popen([NGINX, "-p", str(run_dir), "-c", str(config), "-e", str(log_path), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    nginx = ServerProcess("nginx", process, f"http://127.0.0.1:{port}/iiif", log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            fetch_json(f"{nginx.base_url}/2/{MASTER}/info.json")
            return nginx
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                nginx.stop()
                raise RuntimeError(f"nginx did not start; see {log_path}") from None
            time.sleep(0.2)


def measure_static_file(work: Path, body: bytes, seconds: float) -> LoadResult:
    run = work / "nginx-static"
    (run / "static").mkdir(parents=True)
    (run / "static" / "tile.jpg").write_bytes(body)
    port = free_port()
    config = run / "nginx.conf"
    config.write_text(STATIC_CONFIG.format(user=getpass.getuser(), run=run, port=port))
    process = subprocess.Popen([NGINX, "-p", str(run), "-c", str(config), "-e", str(run / "error.log"),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    nginx = ServerProcess("nginx-static", process, f"http://127.0.0.1:{port}", run / "error.log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/tile.jpg", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start; see {run / 'error.log'}") from None
                time.sleep(0.2)
        return run_wrk(f"http://127.0.0.1:{port}", ["/tile.jpg"], work, "static-file", 16, seconds, nginx.cpu_seconds)
    finally:
        nginx.stop()


def cache_statuses(nginx: ServerProcess) -> list[str]:
    text = (Path(nginx.log_path).parent / "access.log").read_text()
    return CACHE_STATUS.findall(text)


def measure_servers(images: Path, work: Path, tiles: int, seconds: float, workers: int) -> dict[str, object]:
    python = Path(sys.executable)
    quiet = {"IIIF_LOG_LEVEL": "warning"}
    figures: dict[str, object] = {}

    one = start_ours(python, images, work / "one", free_port(), workers, 2, quiet)
    try:
        image = tiled_image(fetch_json(f"{one.base_url}/2/{MASTER}/info.json"))
        paths = [f"/iiif/2/{MASTER}/{tile_path(image, tile, 2)}" for tile in viewer_session_tiles(image, tiles, 11)]
        figures["one_server_first"] = run_wrk(origin_of(one.base_url), paths, work, "one-first", 16, ONCE_LIMIT_SECONDS,
                                              one.cpu_seconds, once=True)
        figures["ours_repeated"] = run_wrk(origin_of(one.base_url), paths, work, "one-repeated", 16, seconds,
                                           one.cpu_seconds)
    finally:
        one.stop()

    nginx_port = free_port()
    environment = {**quiet, "IIIF_BASE_URL": f"http://127.0.0.1:{nginx_port}"}
    servers = [start_ours(python, images, work / f"fleet-{n}", free_port(), workers, 2, environment) for n in (1, 2)]
    nginx = None
    try:
        nginx = start_nginx(work, servers, nginx_port)
        everything = Processes(nginx, *servers)
        origin = origin_of(nginx.base_url)
        figures["fleet_first"] = run_wrk(origin, paths, work, "fleet-first", 16, ONCE_LIMIT_SECONDS,
                                         everything.cpu_seconds, once=True)
        time.sleep(2)  # nginx writes its access log every second
        before = len(cache_statuses(nginx))
        figures["fleet_repeated"] = run_wrk(origin, paths, work, "fleet-repeated", 16, seconds, everything.cpu_seconds)
        time.sleep(2)
        statuses = cache_statuses(nginx)[before:]
        figures["fleet_repeated_hit_rate"] = statuses.count("HIT") / max(1, len(statuses))
        with urllib.request.urlopen(origin + paths[0]) as response:
            tile = response.read()
    finally:
        if nginx is not None:
            nginx.stop()
        for server in servers:
            server.stop()

    figures["static_file"] = measure_static_file(work, tile, seconds)
    iipsrv = start_iipsrv(images, work / "iipsrv", free_port(), workers, 85, CACHE_BYTES_PER_PROCESS // 1_000_000)
    try:
        iipsrv_paths = [f"/iiif/{MASTER}.tif/{tile_path(image, tile, 2)}" for tile in viewer_session_tiles(image, tiles, 11)]
        run_wrk(origin_of(iipsrv.base_url), iipsrv_paths, work, "iipsrv-warm-up", 16, seconds, iipsrv.cpu_seconds)
        figures["iipsrv_repeated"] = run_wrk(origin_of(iipsrv.base_url), iipsrv_paths, work, "iipsrv-repeated", 16,
                                             seconds, iipsrv.cpu_seconds)
    finally:
        iipsrv.stop()
    return figures


def measure_ingest(scans: Path, work: Path, workers: int) -> dict[str, float]:
    """Wall time of the same batch: one scan after another in this process, then on a LocalCluster."""
    options = IngestOptions(tile_size=256)
    sequential, clustered = work / "ingest-sequential", work / "ingest-cluster"
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as one_at_a_time:
        results = ingest(scans, sequential, one_at_a_time, options)
    sequential_seconds = time.monotonic() - started
    assert all(result.status is IngestStatus.CONVERTED for result in results)
    started = time.monotonic()
    with dask_executor(None, workers) as executor:
        cluster_started = time.monotonic()
        results = ingest(scans, clustered, executor, options)
        cluster_seconds = time.monotonic() - cluster_started
    assert all(result.status is IngestStatus.CONVERTED for result in results)
    for master in sequential.glob("*.tif"):
        assert master.read_bytes() == (clustered / master.name).read_bytes(), master
    return {"ingest_sequential_seconds": sequential_seconds, "ingest_cluster_seconds": cluster_seconds,
            "cluster_start_seconds": cluster_started - started}


def report(figures: FleetFigures, workers: int, machine: dict[str, str]) -> str:
    def row(name: str, result: LoadResult) -> str:
        return (f"| {name} | {result.per_second:,.0f} | {result.p99_ms:.1f} | {result.per_cpu_second:,.0f} | "
                f"{result.errors} |")

    ratio = figures.fleet_repeated.per_second / figures.iipsrv_repeated.per_second
    sequential = figures.scans / figures.ingest_sequential_seconds * 60
    clustered = figures.scans / figures.ingest_cluster_seconds * 60
    with_start = figures.scans / (figures.ingest_cluster_seconds + figures.cluster_start_seconds) * 60
    return "\n".join([
        f"Measured {machine['date']} on {machine['cpu']}; libvips {machine['libvips']}; {machine['iipsrv']}; "
        f"nginx {subprocess.run([NGINX, '-v'], capture_output=True, text=True).stderr.strip().split('/')[-1]}; "
        f"commit {machine['commit']}. Each server {workers} workers × 2 threads; wrk at 16 connections on the same cores.",
        "",
        "| workload | req/s | p99 ms | tiles per CPU-second (all serving processes) | failed |",
        "|---|---|---|---|---|",
        row("one server, distinct tiles (each once)", figures.one_server_first),
        row("two servers behind nginx, distinct tiles (each once, all cache misses)", figures.fleet_first),
        row("one server, repeated tiles (its response replay)", figures.ours_repeated),
        row(f"two servers behind nginx, repeated tiles (nginx cache, hit rate "
            f"{figures.fleet_repeated_hit_rate:.1%})", figures.fleet_repeated),
        row("iipsrv, repeated tiles (warm tile cache)", figures.iipsrv_repeated),
        row("nginx, one static tile-sized file (the ceiling of any cache in front)", figures.static_file),
        "",
        f"Repeated tiles through nginx's cache: {ratio:.1f} × iipsrv (target ≥ 10 × {'✅' if ratio >= 10 else '❌'}).",
        "",
        f"Ingest of {figures.scans} scans ({SCAN_SIZE[0]:,} × {SCAN_SIZE[1]:,} px JPEG, document-like) to "
        f"256 px JPEG-tiled pyramidal TIFFs: one after another in one process {sequential:.1f} files/min; "
        f"Dask LocalCluster of {workers} worker processes {clustered:.1f} files/min "
        f"({with_start:.1f} counting the cluster's {figures.cluster_start_seconds:.1f} s start); "
        "the masters of both runs are byte-identical.",
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "cache")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "fleet.md")
    parser.add_argument("--tiles", type=int, default=1000, help="distinct tile URLs (the 8k master has 1,025)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per repeated-tiles pass")
    parser.add_argument("--scans", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-readme", dest="update_readme", action="store_false",
                        help="leave the README's fleet table as it is")
    arguments = parser.parse_args(argv)
    for signal_number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda number, _: sys.exit(128 + number))
    pyvips.cache_set_max(0)
    images, scans = ensure_inputs(arguments.cache, arguments.scans)
    with tempfile.TemporaryDirectory(prefix="iiif-bench-fleet-") as scratch:
        work = Path(scratch)
        servers = measure_servers(images.resolve(), work, arguments.tiles, arguments.seconds, arguments.workers)
        ingest_figures = measure_ingest(scans.resolve(), work, arguments.workers)
        shutil.rmtree(work / "ingest-sequential")
    figures = FleetFigures(**servers, **ingest_figures, scans=arguments.scans)  # type: ignore[arg-type]
    table = report(figures, arguments.workers, machine_description())
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(f"# Benchmark: several servers behind nginx, ingest on Dask\n\n{table}")
    print(table)
    if arguments.update_readme:
        readme = REPO_ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        start, end = text.find(README_START), text.find(README_END)
        if 0 <= start < end:
            readme.write_text(text[: start + len(README_START)] + "\n" + table + text[end:], encoding="utf-8")
            print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
