"""Masters in S3 (SeaweedFS on loopback) against the same masters on local disk:
``python -m bench.object_store``.

One run, same machine, same masters, the two servers one after the other (order alternating per
repetition): distinct viewer tiles (stored-tile passthrough) and distinct rendered tiles (off the
stored grid, so libvips decodes four stored tiles each) through gunicorn and wrk; then, in process,
the bytes fetched from the store per tile, and the two ways to render from a bucket (ranged reads
through pyvips.SourceCustom against downloading the whole master to a local cache first).
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import obstore
import pyvips
import tifffile

from bench.load import run_wrk
from bench.seaweedfs import start_seaweedfs
from bench.servers import start_ours
from bench.workload import TiledImage, tile_path, viewer_session_tiles
from iiif_server import create_app
from iiif_server.settings import ObjectStoreRoot, Settings
from iiif_server.sources.s3 import open_object_store

REPO_ROOT = Path(__file__).resolve().parent.parent
MASTER = "scan-8k"
WIDTH, HEIGHT, TILE = 8000, 6000, 256
ROOT = ObjectStoreRoot("bench", "masters")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_master(folder: Path) -> Path:
    """A scan-like master as ingest writes it: noise on a colour grid gives 20-40 KB JPEG tiles."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{MASTER}.tif"
    index = pyvips.Image.xyz(WIDTH, HEIGHT) // 100
    grid = ((index[0] % 6) * 40 + 20).bandjoin([(index[1] % 6) * 40 + 20, ((index[0] + index[1]) % 5) * 40 + 20])
    noise = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=20)
    (grid + noise).cast("uchar").copy(interpretation="srgb").tiffsave(
        str(path), tile=True, tile_width=TILE, tile_height=TILE, pyramid=True, compression="jpeg", Q=85)
    return path


def stored_bytes(path: Path, tiles: list[tuple[int, int]]) -> int:
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        across = -(-page.imagewidth // page.tilewidth)
        return sum(page.databytecounts[row * across + column] for column, row in tiles)


def server_passes(images: dict[str, str], environ: dict[str, str], work: Path, repetitions: int,
                  seconds: float, store_cpu_seconds: Callable[[], float]) -> dict[str, dict[str, list[float]]]:
    """Tiles per second and server CPU per tile, by workload and by where the masters are, and the
    store's CPU per tile (``store_cpu_seconds``: its CPU time so far) for the masters in S3: SeaweedFS
    runs on the same cores as the server and wrk."""
    image = TiledImage(WIDTH, HEIGHT, TILE, (1, 2, 4, 8, 16, 32))
    viewer = ["/iiif/2/" + MASTER + "/" + tile_path(image, tile, 2)
              for tile in viewer_session_tiles(image, 900, seed=7)]
    generator = random.Random(11)
    rendered = [f"/iiif/2/{MASTER}/{generator.randrange(0, WIDTH - 400)},{generator.randrange(0, HEIGHT - 400)},"
                f"{TILE},{TILE}/{TILE},/0/default.jpg" for _ in range(600)]
    results: dict[str, dict[str, list[float]]] = {}
    for repetition in range(repetitions):
        kinds = list(images) if repetition % 2 == 0 else list(reversed(images))
        for kind in kinds:
            server = start_ours(Path(sys.executable), images[kind], work / f"{kind}-{repetition}", free_port(),
                                workers=2, threads=2, environment=environ)
            try:
                origin = server.base_url.rsplit("/iiif", 1)[0]
                for workload, paths in (("viewer tiles (passthrough)", viewer), ("rendered tiles", rendered)):
                    store_before = store_cpu_seconds()
                    result = run_wrk(origin, paths, work, f"{kind}-{repetition}-{len(paths)}", 8, seconds,
                                     server.cpu_seconds, once=True)
                    store_ms_per_tile = (store_cpu_seconds() - store_before) * 1000 / max(1, result.requests)
                    if result.errors:
                        raise RuntimeError(f"{kind} {workload}: {result.errors} failed requests")
                    entry = results.setdefault(workload, {})
                    entry.setdefault(f"{kind} tiles/s", []).append(result.per_second)
                    entry.setdefault(f"{kind} server CPU-ms/tile", []).append(result.cpu_seconds_per_thousand)
                    if kind == "s3":
                        entry.setdefault("s3 store CPU-ms/tile", []).append(store_ms_per_tile)
            finally:
                server.stop()
    return results


def bytes_per_tile(settings: Settings, master: Path) -> dict[str, float]:
    """What the store sends for distinct tiles, against what the tiles hold, in process."""
    app = create_app(settings.replace(derivative_cache_bytes=0, response_cache_bytes=0))
    client, traffic = app.test_client(), app.extensions["iiif"].source.traffic
    client.get(f"/iiif/3/{MASTER}/info.json")
    client.get(f"/iiif/3/{MASTER}/0,0,{TILE},{TILE}/{TILE},/0/default.jpg")
    header_bytes = traffic.bytes
    tiles = [(column, row) for column in range(4, 24) for row in range(4, 9)]
    before_bytes, before_requests = traffic.bytes, traffic.requests
    for column, row in tiles:
        client.get(f"/iiif/3/{MASTER}/{column * TILE},{row * TILE},{TILE},{TILE}/{TILE},/0/default.jpg")
    passthrough_ratio = (traffic.bytes - before_bytes) / stored_bytes(master, tiles)
    passthrough_requests = (traffic.requests - before_requests) / len(tiles)
    corners = [(column * TILE + 128, row * TILE + 128) for column in range(4, 14) for row in range(12, 16)]
    before_bytes = traffic.bytes
    for x, y in corners:
        client.get(f"/iiif/3/{MASTER}/{x},{y},{TILE},{TILE}/{TILE},/0/default.jpg")
    needed = sorted({(x // TILE + dx, y // TILE + dy) for x, y in corners for dx in (0, 1) for dy in (0, 1)})
    return {
        "header bytes (info.json and the tile index, once per master)": header_bytes,
        "passthrough: bytes fetched / stored tile bytes": passthrough_ratio,
        "passthrough: range requests per tile": passthrough_requests,
        "rendered: bytes fetched / stored bytes of the tiles under them": (traffic.bytes - before_bytes)
        / stored_bytes(master, needed),
        "master size (bytes)": master.stat().st_size,
    }


def ranged_against_whole_download(settings: Settings, master: Path, local_root: Path) -> dict[str, float]:
    """First rendered tile from a cold worker, and the steady per-tile time, both ways."""
    regions = [f"{x},{y},{TILE},{TILE}" for x, y in
               ((random.Random(n).randrange(0, WIDTH - 400), random.Random(-n).randrange(0, HEIGHT - 400))
                for n in range(40))]

    def per_tile(client) -> float:  # noqa: ANN001 - a Flask test client
        started = time.perf_counter()
        for region in regions:
            assert client.get(f"/iiif/3/{MASTER}/{region}/{TILE},/0/default.jpg").status_code == 200
        return (time.perf_counter() - started) / len(regions) * 1000

    quiet = dict(derivative_cache_bytes=0, response_cache_bytes=0)
    started = time.perf_counter()
    ranged = create_app(settings.replace(**quiet)).test_client()
    assert ranged.get(f"/iiif/3/{MASTER}/1000,1000,{TILE},{TILE}/{TILE},/0/default.jpg").status_code == 200
    ranged_first = (time.perf_counter() - started) * 1000
    ranged_steady = per_tile(ranged)

    store = open_object_store(ROOT, settings)
    with tempfile.TemporaryDirectory(prefix="bench-whole-") as folder:
        started = time.perf_counter()
        Path(folder, f"{MASTER}.tif").write_bytes(bytes(obstore.get(store, ROOT.key(f"{MASTER}.tif")).bytes()))
        whole = create_app(Settings(image_root=Path(folder), **quiet)).test_client()
        assert whole.get(f"/iiif/3/{MASTER}/1000,1000,{TILE},{TILE}/{TILE},/0/default.jpg").status_code == 200
        whole_first = (time.perf_counter() - started) * 1000
    local_steady = per_tile(create_app(Settings(image_root=local_root, **quiet)).test_client())
    return {
        "ranged reads (SourceCustom): first tile, cold worker (ms)": ranged_first,
        "ranged reads (SourceCustom): per rendered tile after (ms)": ranged_steady,
        "whole-master download to a local cache: first tile (ms)": whole_first,
        "local file: per rendered tile (ms)": local_steady,
        "master size (bytes)": master.stat().st_size,
    }


def report(passes: dict[str, dict[str, list[float]]], traffic: dict[str, float], paths: dict[str, float]) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Object storage benchmark ({now}; {WIDTH} x {HEIGHT} JPEG-tiled pyramid, {TILE} px tiles; "
             "SeaweedFS on loopback; gunicorn 2 workers x 2 threads; wrk 8 connections; median of the runs)", "",
             "| workload | local disk tiles/s | S3 tiles/s | S3 / local | CPU ms per tile: server, local | server, S3 "
             "| SeaweedFS, S3 | S3 / local bound by CPU |",
             "|---|---|---|---|---|---|---|---|"]
    for workload, entry in passes.items():
        local, s3 = (statistics.median(entry[f"{kind} tiles/s"]) for kind in ("local", "s3"))
        local_cpu, s3_cpu = (statistics.median(entry[f"{kind} server CPU-ms/tile"]) for kind in ("local", "s3"))
        store_cpu = statistics.median(entry["s3 store CPU-ms/tile"])
        # On cores the server, the store and wrk share, CPU per tile sets the rate: what S3 can reach
        # at best against local disk, however fast the server's own S3 reads become.
        bound = local_cpu / (local_cpu + store_cpu)
        lines.append(f"| {workload} | {local:.0f} | {s3:.0f} | {s3 / local:.2f} | {local_cpu:.2f} | {s3_cpu:.2f} "
                     f"| {store_cpu:.2f} | {bound:.2f} |")
    lines += ["", "| bytes from the store | value |", "|---|---|"]
    lines += [f"| {name} | {value:,.2f} |" for name, value in traffic.items()]
    lines += ["", "| rendering from a bucket | value |", "|---|---|"]
    lines += [f"| {name} | {value:,.1f} |" for name, value in paths.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0, help="upper limit of each walk")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench" / "results" / "object-store.md")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-object-store-") as folder:
        work = Path(folder)
        local_root = work / "images"
        master = write_master(local_root)
        seaweed = start_seaweedfs(work / "seaweedfs")
        try:
            environ = seaweed.environ
            settings = Settings(image_root=ROOT, aws_endpoint_url=seaweed.endpoint,
                                aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"], aws_region=environ["AWS_REGION"])
            obstore.put(open_object_store(ROOT, settings), ROOT.key(master.name), master)
            passes = server_passes({"local": str(local_root), "s3": str(ROOT)}, environ, work,
                                   arguments.repetitions, arguments.seconds, seaweed.cpu_seconds)
            traffic = bytes_per_tile(settings, master)
            paths = ranged_against_whole_download(settings, master, local_root)
        finally:
            seaweed.stop()
    table = report(passes, traffic, paths)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
