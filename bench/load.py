"""Load generation: wrk (C, event loop) walking a list of paths, and single timed requests."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PATHS_SCRIPT = Path(__file__).with_name("paths.lua")
CPU_SAMPLE_SECONDS = 0.05
# Answers still in flight when wrk's threads stopped: the servers' CPU is read this long after the walk.
WALK_END_MARGIN_SECONDS = 0.2


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    body_bytes: int  # wrk counts header bytes too; see mean_response_bytes
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    server_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def mean_response_bytes(self) -> float:
        return self.body_bytes / max(1, self.requests)

    @property
    def per_cpu_second(self) -> float:
        return self.requests / self.server_cpu_seconds if self.server_cpu_seconds else 0.0

    @property
    def cpu_seconds_per_thousand(self) -> float:
        """CPU seconds (user + system) of all the server's processes per 1,000 answers."""
        return 1000 * self.server_cpu_seconds / max(1, self.requests)


def run_wrk(origin: str, paths: list[str], work: Path, label: str, connections: int, seconds: float,
            cpu_clock, once: bool = False) -> LoadResult:  # noqa: ANN001 - a callable returning CPU seconds
    """``connections`` keep-alive connections over 2 wrk threads (1 with a single connection) for
    ``seconds``, walking ``paths`` in order; with ``once``, no path twice: the pass ends when the walk
    is done or ``seconds`` are up. Non-2xx answers and socket errors count as errors."""
    threads = 1 if connections == 1 else 2
    path_file = work / f"{label}.paths"
    path_file.write_text("\n".join(paths) + "\n")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
               "-s", str(PATHS_SCRIPT), origin]
    environment = {**os.environ, "BENCH_PATHS": str(path_file), "BENCH_THREADS": str(threads)}
    if once:
        environment["BENCH_ONCE"] = "1"
    samples: list[tuple[float, float]] = []  # (monotonic time, CPU seconds) during a walk
    walk_over = threading.Event()
    sampler = threading.Thread(target=_sample_cpu, args=(cpu_clock, samples, walk_over), daemon=True)
    cpu_before = cpu_clock()
    started = time.monotonic()
    if once:
        sampler.start()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    cpu_after = cpu_clock()
    walk_over.set()
    if once:
        sampler.join()
    (work / f"{label}.wrk.txt").write_text(completed.stdout + completed.stderr)
    summary_line = next((line for line in completed.stdout.splitlines() if line.startswith("{")), None)
    if completed.returncode != 0 or summary_line is None:
        raise RuntimeError(f"wrk failed for {label}: {completed.stderr.strip() or completed.stdout.strip()}")
    summary = json.loads(summary_line)
    errors = sum(summary[key] for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    # wrk's main thread sleeps for the whole duration even when the walk ends early; with every
    # connection busy until then, the walk took requests x mean latency / connections (Little's law).
    # Each wrk thread stops at the end of its share, dropping what its other connections had in
    # flight, so a walk that ended answered at least all paths but one per connection. Only then
    # does Little's law stand in for the clock: a connection's time between answers (a reconnect
    # after `Connection: close`) is in no latency, and a walk that did not end is timed by the clock.
    walk_done = once and summary["requests"] >= len(paths) - connections
    busy_seconds = summary["requests"] * summary["mean_us"] / connections / 1e6
    seconds = busy_seconds if walk_done else summary["duration_us"] / 1e6
    if walk_done:
        # wrk idles until its time is up, and the servers' idle keep-alive upkeep (a few ms of CPU a
        # second) over a 90 s limit outweighed a short walk's work: their CPU is read at the walk's end.
        walk_end = started + busy_seconds + WALK_END_MARGIN_SECONDS
        cpu_after = next((cpu for at, cpu in samples if at >= walk_end), cpu_after)
    return LoadResult(
        requests=summary["requests"],
        seconds=seconds,
        body_bytes=summary["bytes"],
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        server_cpu_seconds=cpu_after - cpu_before,
    )


def _sample_cpu(cpu_clock, samples: list[tuple[float, float]], walk_over: threading.Event) -> None:  # noqa: ANN001 - as run_wrk
    while not walk_over.wait(CPU_SAMPLE_SECONDS):
        samples.append((time.monotonic(), cpu_clock()))


def timed_get(url: str) -> tuple[float, int]:
    """Seconds until the whole body of ``url`` arrived, and its size; any status but 200 is an error."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
