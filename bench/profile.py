"""Where a request's time goes, per request type (``python -m bench.profile``): the platform's WSGI app
called in-process (no HTTP server), each request for an identifier or tile not asked before, so no
replay or derivative cache answers. Per type: wall and CPU time (all threads: the pipeline renders on
threads of its own) per request, then a py-spy sampling run of this process whose samples of busy
thread holding the GIL (the Python time; libvips decodes and encodes without it) are grouped by the
package of their innermost Python frame: Flask and werkzeug (request context, routing, response
objects), this project, pyvips' bindings, tifffile (TIFF headers and tile index), and the rest
(standard library, C built-ins called directly)."""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyvips
from werkzeug.test import EnvironBuilder

from bench.masters import TIFF_SAVE_OPTIONS, archive_page
from iiif_archive.app import create_platform_app
from iiif_archive.settings import PlatformSettings

MASTER_SIZE = (4_000, 3_000)
GROUPS = (("Flask + werkzeug", ("(flask/", "(werkzeug/", "(jinja2/", "(itsdangerous/", "(blinker/")),
          ("iiif-archive", ("(iiif_server/", "(iiif_archive/", "(manifests/", "(viewer/")),
          ("pyvips", ("(pyvips/", "(cffi/")),
          ("tifffile", ("(tifffile/",)))
OTHER = "standard library + built-ins"
SAMPLES_PER_SECOND = 1000
# Per request type: the path after /iiif/2/<identifier>/, for the n-th request of that type.
REQUEST_TYPES: dict[str, Callable[[int], str]] = {
    # A stored 256 px tile of level 0 (on the grid, whole): answered from the TIFF's bytes, no decoding.
    "tile passthrough": lambda n: f"{256 * (n % 15)},{256 * (n // 15 % 11)},256,256/256,/0/default.jpg",
    # Off the tile grid: decoded, cropped and encoded.
    "tile render": lambda n: f"{100 + 256 * (n % 14)},{100 + 256 * (n // 14 % 10)},256,256/256,/0/default.jpg",
    "info.json": lambda n: "info.json",
}


def group_of(frame: str) -> str:
    """The group of a py-spy frame, ``function (path/to/file.py:line)``."""
    for name, markers in GROUPS:
        if any(marker in frame for marker in markers):
            return name
    return OTHER


def sampled_shares(run: Callable[[], None], work: Path) -> dict[str, float]:
    """Share of py-spy's samples of the GIL holder per group, by innermost frame, while ``run`` runs."""
    output = work / "samples.txt"  # kept in the temporary folder only
    sampler = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(os.getpid()),
                                "--format", "raw", "--gil", "--rate", str(SAMPLES_PER_SECOND), "--output", str(output)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached before the first request
    try:
        run()
    finally:
        sampler.send_signal(signal.SIGINT)  # py-spy writes its file on interrupt
        sampler.wait(timeout=60)
    samples: dict[str, float] = defaultdict(float)
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples[group_of(stack.rsplit(";", 1)[-1])] += int(count)
    total = sum(samples.values()) or 1
    return {name: samples[name] / total for name in (*(group for group, _ in GROUPS), OTHER)}


def environ_for(path: str) -> dict:
    return EnvironBuilder(path=path, base_url="http://localhost/").get_environ()


def call(app: Callable, path: str) -> bytes:
    statuses: list[str] = []
    body = b"".join(app(environ_for(path), lambda status, headers, exc_info=None: statuses.append(status)))
    if not statuses[0].startswith("200"):
        raise RuntimeError(f"{path}: {statuses[0]}")
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per request type and run")
    arguments = parser.parse_args(argv)
    count = arguments.requests
    with tempfile.TemporaryDirectory(prefix="iiif-profile-") as folder:
        root = Path(folder)
        master = root / "master.tif"
        archive_page(*MASTER_SIZE, seed=3).tiffsave(str(master), **TIFF_SAVE_OPTIONS)
        # Identifiers of their own for every request of every run: hard links of the one master.
        identifiers = {(kind, run, n): f"{kind.replace(' ', '-').replace('.', '-')}-{run}-{n}"
                       for kind in REQUEST_TYPES for run in ("timed", "profiled") for n in range(count)}
        for identifier in identifiers.values():
            os.link(master, root / f"{identifier}.tif")
        app = create_platform_app(PlatformSettings(image_root=root, log_level="warning"))
        call(app, "/iiif/2/master/0,0,256,256/256,/0/default.jpg")  # first-request costs out of the figures
        rows = []
        for kind, tail in REQUEST_TYPES.items():
            paths = {run: [f"/iiif/2/{identifiers[(kind, run, n)]}/{tail(n)}" for n in range(count)]
                     for run in ("timed", "profiled")}
            if kind != "info.json":  # a viewer asks for info.json before the tiles: the info is known
                for run_paths in paths.values():
                    for path in run_paths:
                        call(app, path.rsplit("/", 4)[0] + "/info.json")
            wall, cpu = [], []
            for path in paths["timed"]:
                started, started_cpu = time.perf_counter(), time.process_time()
                call(app, path)
                wall.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            shares = sampled_shares(lambda run_paths=paths["profiled"]: [call(app, path) for path in run_paths], root)
            share_text = ", ".join(f"{name} {100 * share:.0f} %" for name, share in shares.items())
            rows.append(f"| {kind} | {1e6 * statistics.median(wall):,.0f} | {1e6 * statistics.median(cpu):,.0f} | "
                        f"{share_text} |")
    print(f"pyvips {pyvips.version(0)}.{pyvips.version(1)}; {count} requests per type, each for an identifier "
          "or tile not asked before\n")
    print("| request type | median wall µs | median CPU µs (all threads) | Python time (py-spy, GIL holder) by package |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
