"""The soak: ``python -m bench.soak --minutes 10`` (not part of the tests' time; a 60 s run is).

A real ``iiif-archive serve`` (gunicorn, 2 workers) is kept saturated by client threads that send,
without pause and over keep-alive connections, a realistic mix against demo-like masters: viewer
tiles (both API versions), info.json, regions, thumbnails and bad URLs (a new connection every 50
requests, as browsers and proxies open them), while one more client asks
for a heavy response (a PNG above the heavy-request threshold) one after another. Halfway through,
one worker is killed with SIGKILL; gunicorn must replace it. Resident memory of every server
process is sampled throughout. The run passes when:

- no answer is a 5xx, and every answer has the status its kind expects (200; 400, 404 or 501 for a
  bad URL);
- no request fails on the connection, except those in flight at the kill (sent before it, failed
  after it). A request sent on a keep-alive connection that the killed worker had held open is
  sent again once on a new connection, as browsers do; those are counted as retried;
- the killed worker is replaced;
- every process's resident memory grows by at most 10 % from the end of its warm-up (the first
  minute, or a third of a shorter run) to the end of the run (the median sample of the first fifth of
  that time against the median of the last fifth);
- the server log holds no traceback.

Caches are sized (``--cache-mb``) so that they fill during the warm-up: what grows after it is a leak.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench.run import free_port
from bench.servers import ServerProcess, start_ours
from bench.workload import TiledImage, tile_grid, tile_path, viewer_session_tiles
from iiif_server.settings import Settings

MASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".jpg", ".png")
# Relative frequency of each kind of request a saturating client sends.
MIX = {"tile": 70, "info": 10, "region": 8, "thumbnail": 7, "bad": 5}
EXPECTED = {"tile": {200}, "info": {200}, "region": {200}, "thumbnail": {200}, "heavy": {200},
            "bad": {400, 404, 501}}
BAD_PATHS = (
    "/iiif/3/{id}/fullish/max/0/default.jpg",
    "/iiif/3/{id}/full/max/9x/default.jpg",
    "/iiif/3/{id}/full/max/0/sepia.jpg",
    "/iiif/3/{id}/full/max/0/default",
    "/iiif/3/{id}/0,0,0,0/max/0/default.jpg",
    "/iiif/2/{id}/full/0,/0/default.jpg",
    "/iiif/3/no-such-master/info.json",
    "/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json",
    "/iiif/2/{id}/full/full/0/default.jpg/extra",
)
ALLOWED_MEMORY_GROWTH = 0.10
MEMORY_JUDGED_FROM_SECONDS = 180
# Browsers and proxies do not keep a connection for ever: a client opens a new one after this many
# requests, so a replaced worker gets its share of the load.
REQUESTS_PER_CONNECTION = 50
LONGEST_WARM_UP_SECONDS = 60


@dataclass(frozen=True)
class SoakPlan:
    seconds: float
    clients: int = 8
    workers: int = Settings().workers
    threads: int = Settings().threads
    cache_mb: int = 16
    sample_every_seconds: float = 2.0

    @property
    def warm_up_seconds(self) -> float:
        return min(LONGEST_WARM_UP_SECONDS, self.seconds / 3)


@dataclass
class ProcessMemory:
    pid: int
    first_seen: float
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the run, RSS bytes)

    def growth(self, warm_up: float, until: float) -> tuple[int, int, float] | None:
        """(RSS after this process's warm-up, RSS at the end, growth) if it lived long enough after it.

        Buffers of requests in flight come and go between samples: one heavy answer's buffers made a
        single sample of a 60 s run 15 % higher than the rest. A leak raises every sample, so the
        median of the first fifth of the time after the warm-up is compared with the median of the
        last fifth.
        """
        after = [(t, rss) for t, rss in self.samples if t >= self.first_seen + warm_up]
        if len(after) < 2 or after[-1][0] - after[0][0] < min(warm_up, until - warm_up) / 2:
            return None
        window = (after[-1][0] - after[0][0]) / 5
        baseline = round(statistics.median(rss for t, rss in after if t <= after[0][0] + window))
        final = round(statistics.median(rss for t, rss in after if t >= after[-1][0] - window))
        return baseline, final, final / baseline - 1


@dataclass
class SoakResult:
    plan: SoakPlan
    statuses: Counter = field(default_factory=Counter)  # (kind, status) -> count
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unexpected: list[str] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    in_flight_at_kill: int = 0
    retried_stale_connections: int = 0
    killed_pid: int | None = None
    replacement_pid: int | None = None
    replaced_after_seconds: float | None = None
    memory: dict[int, ProcessMemory] = field(default_factory=dict)
    tracebacks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for (_, status), count in self.statuses.items() if status >= 500)

    def memory_growth(self) -> dict[int, tuple[int, int, float]]:
        found = {}
        for pid, memory in self.memory.items():
            if pid == self.killed_pid:
                continue
            growth = memory.growth(self.plan.warm_up_seconds, self.plan.seconds)
            if growth is not None:
                found[pid] = growth
        return found

    def failures(self) -> list[str]:
        """Everything that breaks the soak's promises; empty when it passed."""
        failures = [f"{self.server_errors} answers were 5xx"] if self.server_errors else []
        failures += [f"unexpected answer: {line}" for line in self.unexpected[:20]]
        failures += [f"connection error outside the kill: {line}" for line in self.connection_errors[:20]]
        if self.replacement_pid is None:
            failures.append(f"the killed worker {self.killed_pid} was not replaced")
        if self.in_flight_at_kill > self.plan.clients + 1:
            failures.append(f"{self.in_flight_at_kill} requests failed at the kill, "
                            "more than the clients had in flight")
        # The rule holds after the first minute (issue 10): in a shorter run the survivor of the kill
        # is still taking its partner's load when the last samples are taken (+11 % in a 60 s run, +1.3 %
        # over 10 minutes), so there the growth is reported, not judged.
        judged = self.plan.seconds >= MEMORY_JUDGED_FROM_SECONDS
        for pid, (baseline, final, growth) in self.memory_growth().items():
            if judged and growth > ALLOWED_MEMORY_GROWTH:
                failures.append(f"process {pid} grew from {baseline / 2**20:.0f} to {final / 2**20:.0f} MiB "
                                f"({growth:+.0%}) after its warm-up")
        if len(self.memory_growth()) < self.plan.workers:
            failures.append(f"memory measured after the warm-up for only {len(self.memory_growth())} processes")
        if self.tracebacks:
            failures.append(f"{self.tracebacks} tracebacks in the server log")
        return failures

    def report(self) -> str:
        seconds = self.plan.seconds
        kinds = sorted({kind for kind, _ in self.statuses})
        lines = [
            f"{self.requests:,} requests in {seconds:g} s ({self.requests / seconds:,.0f}/s) from {self.plan.clients} "
            f"saturating clients and 1 heavy client; {self.plan.workers} workers × {self.plan.threads} threads; "
            f"caches {self.plan.cache_mb} MB per worker.",
            "",
            "| kind | requests | statuses | p50 ms | p99 ms |",
            "|---|---|---|---|---|",
        ]
        for kind in kinds:
            statuses = ", ".join(f"{status}: {count:,}" for (k, status), count in sorted(self.statuses.items())
                                 if k == kind)
            latencies = sorted(self.latencies[kind])
            p50 = statistics.median(latencies) * 1000 if latencies else math.nan
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else math.nan
            count = sum(c for (k, _), c in self.statuses.items() if k == kind)
            lines.append(f"| {kind} | {count:,} | {statuses} | {p50:.1f} | {p99:.1f} |")
        lines += [
            "",
            f"5xx answers: {self.server_errors}; unexpected statuses: {len(self.unexpected)}; connection errors "
            f"outside the kill: {len(self.connection_errors)}; failed in flight at the kill: {self.in_flight_at_kill}; "
            f"sent again after the kill on a new connection: {self.retried_stale_connections}; tracebacks in the log: "
            f"{self.tracebacks}.",
            f"Worker {self.killed_pid} killed with SIGKILL at {seconds / 2:g} s, replaced by {self.replacement_pid} "
            f"after {self.replaced_after_seconds or math.nan:.1f} s.",
            f"Resident memory from the end of the warm-up ({self.plan.warm_up_seconds:g} s after a process "
            "started) to the end: " + "; ".join(
                f"pid {pid} {baseline / 2**20:.0f} → {final / 2**20:.0f} MiB ({growth:+.1%})"
                for pid, (baseline, final, growth) in sorted(self.memory_growth().items())),
        ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Master:
    identifier: str
    image: TiledImage


class Workload:
    """The request paths of each kind, drawn at random from the masters' info.json."""

    def __init__(self, masters: list[Master], heavy_pixels: int) -> None:
        self.masters = masters
        self.tiles = [
            (master, tile) for index, master in enumerate(masters)
            for tile in viewer_session_tiles(master.image, min(400, total_tiles(master.image)), index)
        ]
        largest = max(masters, key=lambda m: m.image.width * m.image.height)
        width = math.ceil(math.sqrt(heavy_pixels * largest.image.width / largest.image.height)) + 16
        self.heavy_path = f"/iiif/3/{quote(largest.identifier, safe='')}/full/^{{width}},/90/default.png"
        self.heavy_width = width

    def pick(self, rng: random.Random) -> tuple[str, str]:
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        master = rng.choice(self.masters)
        identifier, image = quote(master.identifier, safe=""), master.image
        version = rng.choice((2, 3))
        if kind == "tile":
            master, tile = rng.choice(self.tiles)
            return kind, f"/iiif/{version}/{quote(master.identifier, safe='')}/{tile_path(master.image, tile, version)}"
        if kind == "info":
            return kind, f"/iiif/{version}/{identifier}/info.json"
        if kind == "region":
            width = rng.randint(min(64, image.width), min(2048, image.width))
            height = rng.randint(min(64, image.height), min(2048, image.height))
            x, y = rng.randint(0, image.width - width), rng.randint(0, image.height - height)
            size = f"{min(width, rng.choice((256, 512, 800)))},"
            quality_format = rng.choice(("default.jpg", "default.jpg", "gray.jpg", "default.png", "color.webp"))
            return kind, f"/iiif/{version}/{identifier}/{x},{y},{width},{height}/{size}/0/{quality_format}"
        if kind == "thumbnail":
            size = rng.choice(("!200,200", "150,", ",120"))
            return kind, f"/iiif/3/{identifier}/full/{size}/0/default.jpg"
        return kind, rng.choice(BAD_PATHS).format(id=identifier)

    def heavy(self, sequence: int) -> str:
        return self.heavy_path.format(width=self.heavy_width + sequence % 64)


def total_tiles(image: TiledImage) -> int:
    return sum(columns * rows for columns, rows in (tile_grid(image, s) for s in image.scale_factors))


def identifiers_below(image_root: Path) -> list[str]:
    found = []
    for path in sorted(image_root.rglob("*")):
        if path.suffix.lower() in MASTER_SUFFIXES and not path.name.startswith("."):
            found.append(path.relative_to(image_root).with_suffix("").as_posix())
    return found


def read_masters(server: ServerProcess, identifiers: list[str]) -> list[Master]:
    masters = []
    port = int(server.base_url.split(":")[2].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for identifier in identifiers:
        connection.request("GET", f"/iiif/3/{quote(identifier, safe='')}/info.json")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            continue  # a master the server cannot read is not part of the mix
        info = json.loads(body)
        tiles = info["tiles"][0]
        masters.append(Master(identifier, TiledImage(info["width"], info["height"], tiles["width"],
                                                     tuple(tiles["scaleFactors"]))))
    connection.close()
    if not masters:
        raise RuntimeError("no readable master below the image root")
    return masters


class Soak:
    def __init__(self, plan: SoakPlan, server: ServerProcess, workload: Workload) -> None:
        self.plan = plan
        self.server = server
        self.port = int(server.base_url.split(":")[2].split("/")[0])
        self.workload = workload
        self.result = SoakResult(plan)
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.kill_time: float | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    # -- clients ----------------------------------------------------------------------------------

    def saturating_client(self, seed: int) -> None:
        rng = random.Random(seed)
        connection = None
        for sequence in range(1, sys.maxsize):
            if self.stop.is_set():
                break
            kind, path = self.workload.pick(rng)
            connection = self.send(connection, kind, path)
            if connection is not None and sequence % REQUESTS_PER_CONNECTION == 0:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def heavy_client(self) -> None:
        connection = None
        for sequence in range(sys.maxsize):
            if self.stop.is_set():
                break
            connection = self.send(connection, "heavy", self.workload.heavy(sequence))
        if connection is not None:
            connection.close()

    def send(self, connection: http.client.HTTPConnection | None, kind: str,
             path: str) -> http.client.HTTPConnection | None:
        """One request; returns the connection to use next (None: open a new one)."""
        sent_at = self.now()
        for attempt in (1, 2):
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = None
                failed_at = self.now()
                with self.result.lock:
                    if self.kill_time is not None and sent_at <= self.kill_time <= failed_at:
                        self.result.in_flight_at_kill += 1
                        return None
                    closed_under_us = isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError,
                                                         BrokenPipeError))
                    if attempt == 1 and reused and closed_under_us:
                        self.result.retried_stale_connections += 1
                        continue
                    self.result.connection_errors.append(f"{kind} {path} at {failed_at:.1f} s: {error!r}")
                return None
            elapsed = self.now() - sent_at
            with self.result.lock:
                self.result.statuses[(kind, response.status)] += 1
                self.result.latencies[kind].append(elapsed)
                if response.status not in EXPECTED[kind]:
                    self.result.unexpected.append(f"{kind} {path} -> {response.status}")
            return None if response.will_close else connection
        return connection  # not reached: the second attempt returns

    # -- the server -------------------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        return self.server.http_worker_pids()

    def sample_memory(self) -> None:
        while not self.stop.wait(self.plan.sample_every_seconds):
            at = self.now()
            for pid in self.server.pids():
                try:
                    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                except (OSError, IndexError):
                    continue
                memory = self.result.memory.setdefault(pid, ProcessMemory(pid, at))
                memory.samples.append((at, rss))

    def kill_a_worker_halfway(self) -> None:
        if self.stop.wait(self.plan.seconds / 2):
            return
        before = self.worker_pids()
        victim = before[0]
        with self.result.lock:
            self.kill_time = self.now()
        os.kill(victim, signal.SIGKILL)
        self.result.killed_pid = victim
        while not self.stop.wait(0.1):
            new = [pid for pid in self.worker_pids() if pid not in before]
            if new:
                self.result.replacement_pid = new[0]
                self.result.replaced_after_seconds = self.now() - self.kill_time
                return

    def run(self) -> SoakResult:
        threads = [threading.Thread(target=self.saturating_client, args=(seed,), name=f"client-{seed}")
                   for seed in range(self.plan.clients)]
        threads += [threading.Thread(target=self.heavy_client, name="heavy-client"),
                    threading.Thread(target=self.sample_memory, name="memory"),
                    threading.Thread(target=self.kill_a_worker_halfway, name="killer")]
        self.started = time.monotonic()
        for thread in threads:
            thread.start()
        self.stop.wait(self.plan.seconds)
        self.stop.set()
        for thread in threads:
            thread.join()
        return self.result


def run_soak(image_root: Path, plan: SoakPlan, work: Path, python: Path = Path(sys.executable)) -> SoakResult:
    """Start the server on ``image_root``, soak it as ``plan`` says, stop it; the server log stays in ``work``."""
    cache_bytes = plan.cache_mb * 1024 * 1024
    server = start_ours(python, image_root, work, free_port(), plan.workers, plan.threads, {
        "IIIF_LOG_LEVEL": "warning",
        "IIIF_DERIVATIVE_CACHE_BYTES": str(cache_bytes),
        "IIIF_RESPONSE_CACHE_BYTES": str(cache_bytes // 2),
    })
    try:
        workload = Workload(read_masters(server, identifiers_below(image_root)), Settings().heavy_output_pixels)
        result = Soak(plan, server, workload).run()
    finally:
        server.stop()
    result.tracebacks = server.log_path.read_text(errors="replace").count("Traceback")
    return result


def ensure_masters(cache: Path, scale: float) -> Path:
    """demo-data/images if the demo made it, else the sample masters drawn once at ``scale`` under ``cache``."""
    demo = Path("demo-data/images")
    if demo.is_dir() and identifiers_below(demo):
        return demo.resolve()
    from iiif_archive.samples import write_sample_masters

    images = cache / f"soak-scale-{scale:g}"
    write_sample_masters(images, scale, report=lambda line: print(line, flush=True))
    return images.resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=SoakPlan.clients)
    parser.add_argument("--cache-mb", type=int, default=SoakPlan.cache_mb,
                        help="derivative cache per worker (the response cache gets half)")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="scale of the sample masters drawn when demo-data/images is absent")
    parser.add_argument("--cache", type=Path, default=Path("bench/cache"))
    parser.add_argument("--output", type=Path, default=Path("bench/results/soak.md"))
    arguments = parser.parse_args(argv)
    for signal_number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, lambda number, _: sys.exit(128 + number))
    images = ensure_masters(arguments.cache, arguments.scale)
    plan = SoakPlan(seconds=arguments.minutes * 60, clients=arguments.clients, cache_mb=arguments.cache_mb)
    print(f"soaking {images} for {plan.seconds:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="iiif-soak-") as work:
        result = run_soak(images, plan, Path(work))
    failures = result.failures()
    text = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {images.name}.\n\n"
            + result.report() + "\n" + ("PASSED\n" if not failures else "FAILED:\n" + "\n".join(failures) + "\n"))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(f"# Soak\n\n{text}")
    print(text)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
