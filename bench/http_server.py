"""Which HTTP server runs our app faster: gunicorn gthread (``iiif-archive serve``) or granian's WSGI
interface (Rust HTTP handling), on the distinct tile workload of ``bench.run``
(``python -m bench.http_server``). Same app, same worker processes and threads, same requests; the
servers alternate per repetition and only the ratio granian / gunicorn of one run counts."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from bench.run import DISTINCT_TILES_C4, DISTINCT_TILES_C16, REPO_ROOT, TIFF_MASTERS, Bench, Plan, run_folders
from iiif_server.settings import Settings

SERVERS = {"ours": "gunicorn gthread", "granian": "granian WSGI"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "bench" / "cache")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--distinct-seconds", type=int, default=6)
    parser.add_argument("--tile-copies", type=int, default=12)
    parser.add_argument("--tiles-per-master", type=int, default=2000)
    parser.add_argument("--master-divisor", type=int, default=1, help="smaller masters (their own --cache: bench.run --quick's are bench/cache/quick with 8)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=Settings().threads)
    arguments = parser.parse_args(argv)
    plan = Plan(arguments.repetitions, arguments.distinct_seconds, jp2_seconds=0, repeated_seconds=0, cold_starts=0,
                workers=arguments.workers, threads=arguments.threads, jpeg_quality=85, tiles_per_master=arguments.tiles_per_master,
                tile_copies=arguments.tile_copies, jp2_copies=0, info_identifiers=0,
                master_divisor=arguments.master_divisor)
    with run_folders(arguments.cache, plan.master_divisor) as (images, work):
        bench = Bench(plan, images, work)
        reference = bench.start("iipsrv", "reference")
        try:
            bench.prepare_sessions(reference)
        finally:
            reference.stop()
        for repetition in range(plan.repetitions):
            order = list(SERVERS) if repetition % 2 == 0 else list(reversed(SERVERS))
            for kind in order:
                bench.with_server(kind, f"r{repetition}-{kind}", lambda server, kind=kind, repetition=repetition: [
                    bench.distinct_pass(server, kind, repetition, measure, TIFF_MASTERS, plan.tile_copies, connections,
                                        plan.distinct_seconds)
                    for connections, measure in ((4, DISTINCT_TILES_C4), (16, DISTINCT_TILES_C16))
                ])
    loads = bench.recorder.loads
    print(f"\n{plan.workers} workers × {plan.threads} threads; median of {plan.repetitions}; ratio granian / gunicorn")
    for measure in (DISTINCT_TILES_C4, DISTINCT_TILES_C16):
        cells = []
        for kind, name in SERVERS.items():
            results = loads[(measure, kind)]
            cells.append(f"{name} {statistics.median(r.per_second for r in results):,.0f} req/s, "
                         f"p50 {statistics.median(r.p50_ms for r in results):.1f} / "
                         f"p99 {statistics.median(r.p99_ms for r in results):.1f} ms, "
                         f"{statistics.median(r.cpu_seconds_per_thousand for r in results):.2f} CPU s/1,000")
        ratio = (statistics.median(r.per_second for r in loads[(measure, "granian")])
                 / statistics.median(r.per_second for r in loads[(measure, "ours")]))
        print(f"{measure}: {'; '.join(cells)}; ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
