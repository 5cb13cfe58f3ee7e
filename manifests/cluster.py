"""Where batch work runs: a Dask distributed cluster, this machine's own by default.

Tasks are plain functions of plain values; the cluster's workers must have this package installed
and see the same paths as the client (one machine, or a shared folder mounted alike everywhere).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager


class SchedulerUnreachable(RuntimeError):
    """The Dask scheduler named by the user does not answer."""


@contextmanager
def dask_executor(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Executor]:
    """A ``concurrent.futures.Executor`` over a Dask cluster: the one at ``scheduler``
    (``tcp://HOST:8786``), or a ``LocalCluster`` of ``local_workers`` processes (one per core)
    started here and stopped on leaving."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        # One task per worker process at a time: libvips spreads one scan over the cores itself, and
        # a worker then holds one scan's buffers, not several. Its status pages (Dask's dashboard
        # server) listen on a free loopback port, never on a fixed one a second run would clash on.
        with LocalCluster(n_workers=local_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                          dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client.get_executor(pure=False)
        return
    try:
        # Gives up after Dask's distributed.comm.timeouts.connect (30 s unless configured).
        client = Client(scheduler)
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    with client:
        yield client.get_executor(pure=False)
