"""gunicorn's worker process with granian's HTTP handling: Rust parses requests and writes answers,
Python only runs the app.

Sampled in the benchmark's distinct-tile pass, gunicorn's gthread worker held 57 % of the GIL time
(its event loop, keep-alive bookkeeping, request parsing, environ and response), more than our own
code. granian (hyper on tokio) does that work without the GIL, on its own runtime thread, and hands
each request to one of the worker's Python threads. gunicorn stays the process manager: its arbiter
forks, supervises and replaces the workers, runs the render processes (its dirty workers), the
hooks (warm-up, a worker's exit) and the worker timeout, none of which granian's own process
manager has.

Only this module knows granian's worker interface, which is not its documented one (that is its
own process manager): the lock pins the version, and tests/web/test_gunicorn.py serves through it.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from granian._futures import _new_cbscheduler
from granian._granian import SocketHolder, WorkerSignal, WSGIWorker
from granian._loops import loops
from granian.http import HTTP1Settings
from gunicorn.workers.base import Worker

from iiif_server.cores import keep_to_core, worker_core

# A client has this long to send a request's headers, and an idle keep-alive connection is closed
# after it (gunicorn's keepalive was 5 s).
HEADER_READ_TIMEOUT_MS = 5_000
_HEARTBEAT_SECONDS = 1.0
# A crowded worker closes at most one connection per this interval. A split of connections that
# needs mending lasts for seconds, but the requests running flicker between 0 and the threads'
# number within milliseconds: closing on every flicker turned 16 connections into a storm of
# reconnects (sampled from /proc in the benchmark's 16-connection pass: a worker's share jumping
# between 0 and 13, p99 20-40 ms, against 9-10 ms in the passes that kept 8 and 8). 0.1 s was
# measured against 0.025 and 0.25 s (README, "Where it misses").
CLOSE_INTERVAL_SECONDS = 0.1
_LAST_WRITES_SECONDS = 0.2
_MAX_CONNECTIONS = 4096


class _StartResponse:
    __slots__ = ("status", "headers")

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers


class _ClosingIterator:
    """What granian iterates for a streamed answer; it calls close() when done (PEP 3333)."""

    __slots__ = ("inner", "__next__")

    def __init__(self, inner: Iterable[bytes]) -> None:
        self.inner = inner
        self.__next__ = iter(inner).__next__

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class WorkerLoads:
    """Requests each worker is running, one (pid, count) row per worker in shared memory made before
    the fork.

    The kernel hands a new connection to whichever worker's runtime accepts first, and a
    connection stays with its worker: measured, 11 of 16 keep-alive connections on one of two
    workers, and at 4 connections now and then all 4 on one, the other idle. A worker running at
    least two requests more than the least busy live worker therefore closes the connection it
    answers on (``Connection: close``), one every CLOSE_INTERVAL_SECONDS at most; its client
    reconnects, and another worker may take it. Idle connections are never moved: they cost
    nothing. Process-safe; each row is written only by its worker.
    """

    def __init__(self, workers: int) -> None:
        self._table = multiprocessing.RawArray("q", 2 * workers)
        self._lock = multiprocessing.Lock()

    def join(self, pid: int) -> WorkerLoad:
        """Worker ``pid``'s row (none for a worker beyond the configured number, added by TTIN:
        it counts its requests for itself and never closes a connection to rebalance)."""
        with self._lock:
            free = [row for row in range(0, len(self._table), 2) if self._table[row] == 0]
            if free:
                self._table[free[0]], self._table[free[0] + 1] = pid, 0
        return WorkerLoad(self._table, free[0] if free else None)

    def forget(self, pid: int) -> None:
        """The arbiter saw worker ``pid`` exit: its row no longer counts."""
        with self._lock:
            for row in range(0, len(self._table), 2):
                if self._table[row] == pid:
                    self._table[row] = self._table[row + 1] = 0


class WorkerLoad:
    """One worker's requests in flight: counted around each call of the app, published in its row."""

    def __init__(self, table: Any, row: int | None) -> None:
        self._table, self._row = table, row
        # 0 … workers - 1, kept by a replacement; None for a worker beyond the configured number
        self.slot = None if row is None else row // 2
        self._count = 0
        self._changed = threading.Condition()
        self._last_close = -CLOSE_INTERVAL_SECONDS

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1
            if self._row is not None:
                self._table[self._row + 1] = self._count

    def __exit__(self, *_exception: object) -> None:
        with self._changed:
            self._count -= 1
            if self._row is not None:
                self._table[self._row + 1] = self._count
            self._changed.notify_all()

    def crowded(self, now: float | None = None) -> bool:
        """Running two requests or more beyond the least busy live worker, and no connection closed
        for that within the last CLOSE_INTERVAL_SECONDS (``now``: time.monotonic())."""
        if self._row is None:
            return False
        now = time.monotonic() if now is None else now
        table = self._table
        least = min(table[row + 1] for row in range(0, len(table), 2) if table[row])
        with self._changed:
            if self._count <= least + 1 or now - self._last_close < CLOSE_INTERVAL_SECONDS:
                return False
            self._last_close = now
            return True

    def wait_until_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class WsgiRunner:
    """granian's protocol object and request scope → the app's answer.

    granian's own wrapper copies the whole process environment into every request's environ (the
    store's credentials among it): this one gives the app only the request and PEP 3333's keys.
    """

    _CONSTANT_ENVIRON = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "wsgi.errors": sys.stderr,
        # not PEP 3333, but werkzeug reads it: the body ends where granian's input ends
        "wsgi.input_terminated": True, "wsgi.multiprocess": True, "wsgi.multithread": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }

    def __init__(self, app: Callable[..., Iterable[bytes]], load: WorkerLoad) -> None:
        self.app = app
        self.load = load

    def __call__(self, protocol: Any, scope: dict) -> int:
        start_response = _StartResponse()
        with self.load:
            answer = self.app(self._CONSTANT_ENVIRON | scope, start_response)
            if self.load.crowded():
                start_response.headers = [*start_response.headers, ("Connection", "close")]
            if isinstance(answer, list):
                # A whole answer goes out with its headers in one write: a worker killed mid-answer
                # leaves its client nothing rather than headers without their body.
                protocol.response_bytes(start_response.status, start_response.headers, b"".join(answer))
            else:
                protocol.response_iter(start_response.status, start_response.headers, _ClosingIterator(answer))
        return start_response.status


class GranianWorker(Worker):
    """A gunicorn worker serving the shared listening socket through granian's WSGI worker, with
    ``threads`` Python threads running the app. ``loads`` is set before the workers fork."""

    loads: ClassVar[WorkerLoads]

    def run(self) -> None:
        stop = WorkerSignal()
        threads = self.cfg.threads
        load = self.loads.join(os.getpid())
        # Before granian starts its threads: they inherit the core (cores.py says why).
        core = None if load.slot is None else worker_core(load.slot, self.cfg.workers)
        if core is not None:
            keep_to_core(core)
        server = WSGIWorker(
            self.age, (None, SocketHolder(self.sockets[0].fileno(), False, self.cfg.backlog)), None,
            1,  # tokio runtime threads: HTTP handling of one process needs no more
            512,  # tokio's own blocking threads (file I/O; unused here)
            # Python threads, their idle timeout (s), and connections held at most: granian's
            # backpressure counts connections, idle keep-alive ones too, and one beyond it waits
            # unanswered in the backlog, so it is no tool to balance workers (WorkerLoads is).
            threads, 30, _MAX_CONNECTIONS,
            "1", HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS), None, None,
            False, None, None, None, "1.3", None, [], False,  # no TLS: nginx or a CDN terminates it
            (None, None),  # no granian metrics: the app keeps its own
        )
        loop = loops.get("auto")
        runner = WsgiRunner(self.wsgi, load)
        # Returns at once: the tokio runtime serves on threads of its own until ``stop`` is set.
        server.serve_mtr(_new_cbscheduler(loop, runner, impl_asyncio=True), loop, stop)
        # The main thread keeps gunicorn's side: heartbeats for the arbiter's timeout, signals
        # (SIGTERM sets alive to False), and leaving when the arbiter is gone.
        while self.alive and self.ppid == os.getppid():
            self.notify()
            self._sleep(_HEARTBEAT_SECONDS)
        stop.set()  # no more connections accepted
        runner.load.wait_until_idle(self.cfg.graceful_timeout)
        # The runtime writes an answer after the app has handed it over: a moment for the last ones.
        time.sleep(_LAST_WRITES_SECONDS)

    def _sleep(self, seconds: float) -> None:
        """Until ``seconds`` pass or a signal comes (gunicorn's handlers write to this pipe)."""
        if select.select([self.PIPE[0]], [], [], seconds)[0]:
            try:
                while os.read(self.PIPE[0], 4096):
                    pass
            except BlockingIOError:  # the pipe is non-blocking: drained
                pass
