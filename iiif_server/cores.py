"""Which cores a worker's threads run on: answering on one core of its own, rendering on all.

A worker's threads take turns at the GIL. Left to the scheduler, the thread holding it, the thread
waiting for it and the worker's HTTP runtime (which wakes for every request and answer) sit on
different cores, and the other worker's threads preempt them there. Measured on 2 cores, 2
workers, the benchmark's distinct tile passes (2026-12-02, 4 passes each, alternating with the
commit before): p99 at 16 connections 11-35 ms (median 16) against 21-25 ms (median 23), at 4
connections 3.7-7.8 ms (median 5.2) against 4.7-7.2 (median 6.2), at the same throughput.

Rendering is the exception: libvips and OpenJPEG decode on threads of their own, started by the
thread that renders and kept to its cores. Kept to one core, a JPEG 2000 `full/1000,` of the 40k
master took 1.7-1.9 s against 1.0-1.1. So a worker's thread renders on every core the process may
use (``on_every_core``), and goes back to its own core after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Set once per process, by keep_to_core: the cores the process may use, and the worker's own.
_process_cores: frozenset[int] = frozenset()
_worker_core: int | None = None


def worker_core(slot: int, workers: int) -> int | None:
    """The core worker ``slot`` (0 … workers - 1) answers on: one of the cores this process may use,
    the slots spread over them in turn. None when the workers are fewer than those cores: kept to
    some cores, they would leave the others idle (two one-worker servers on one machine would
    share the first core)."""
    cores = sorted(os.sched_getaffinity(0))
    if workers < len(cores):
        return None
    return cores[slot % len(cores)]


def keep_to_core(core: int) -> None:
    """Keep the calling thread, and every thread it starts from now on, to ``core``."""
    global _process_cores, _worker_core
    _process_cores = frozenset(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    _worker_core = core


@contextmanager
def on_every_core() -> Iterator[None]:
    """Within the block, the calling thread and the threads it starts (libvips', OpenJPEG's) may
    run on every core the process may use; nothing changes in a process not kept to a core."""
    core = _worker_core
    if core is None:
        yield
        return
    os.sched_setaffinity(0, _process_cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, {core})
