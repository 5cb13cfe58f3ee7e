"""Deadlines: no request holds a worker's thread for longer than its deadline.

gunicorn's gthread ``timeout`` watches the worker's main loop, not its request threads, and Python
cannot stop a thread. So the data path's work runs on a thread of a small pool per worker while the
request's own thread waits for it, at most until the request's deadline; then the request answers
503 and its thread serves the next one. The abandoned work is asked to stop: libvips computations
are killed from their progress callback (render.py), the JPEG 2000 reader checks between
code-tiles. Work blocked in a system call (a hung mount, an object store that never answers) holds
only its pool thread until the call returns.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from iiif_server.errors import DeadlineExceeded

Result = TypeVar("Result")

# A pool thread left without work this long ends; the next request starts another.
IDLE_THREAD_SECONDS = 60.0


@dataclass(frozen=True)
class Deadline:
    """The moment (``time.monotonic()``) a request's work must be done by."""

    expires_at: float
    seconds: float  # the whole allowance, for the reason given to the client

    @classmethod
    def after(cls, seconds: float, started: float | None = None) -> Deadline:
        return cls((time.monotonic() if started is None else started) + seconds, seconds)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.expires_at

    def check(self) -> None:
        """Raise DeadlineExceeded once the deadline has passed (for work that can stop between steps)."""
        if self.expired:
            raise DeadlineExceeded(self.reason)

    @property
    def reason(self) -> str:
        return f"the request took longer than its {self.seconds:g} s deadline; try again later"


Extend = Callable[[Deadline], None]


class _Task(Generic[Result]):
    __slots__ = ("work", "deadline", "finished", "result", "error", "abandoned")

    def __init__(self, work: Callable[[Extend], Result], deadline: Deadline) -> None:
        self.work = work
        self.deadline = deadline
        # Held until the work is done: cheaper than an Event for one waiter.
        self.finished = threading.Lock()
        self.finished.acquire()
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    def execute(self) -> None:
        try:
            self.result = self.work(self.extend)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request thread
            self.error = error
        finally:
            self.work = None  # type: ignore[assignment] - drop what the work referenced
            self.finished.release()

    def extend(self, deadline: Deadline) -> None:
        if not self.abandoned:
            self.deadline = deadline


class CallingThreadRunner:
    """Runs work on the calling thread, for sources whose reads never hang (ImageSource.reads_may_hang):
    renders still stop at their deadlines on their own (render.py's progress callback, the JPEG 2000
    reader between code-tiles), and a tile is spared DeadlineRunner's two thread switches (about
    200 µs of CPU, a fifth of a stored tile's time in the benchmark)."""

    def run(self, deadline: Deadline, work: Callable[[], Result]) -> Result:
        return work()

    def run_extendable(self, deadline: Deadline, work: Callable[[Extend], Result]) -> Result:
        return work(lambda _deadline: None)


class DeadlineRunner:
    """Runs work on a pool of at most ``max_threads`` daemon threads and waits for it until a deadline.

    Thread-safe. Threads start when work arrives and no thread is idle, and end after
    IDLE_THREAD_SECONDS without work; they are daemon threads, so one stuck in a system call never
    keeps the process from exiting. When every thread is busy (or stuck), work waits for one within
    its deadline.
    """

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one count per thread waiting for work
        self._threads = 0
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        return self._threads

    def run(self, deadline: Deadline, work: Callable[[], Result]) -> Result:
        """``work()``'s result or exception; DeadlineExceeded when it is not done by ``deadline``
        (it is then abandoned: never started if it was still waiting for a thread)."""
        return self.run_extendable(deadline, lambda _extend: work())

    def run_extendable(self, deadline: Deadline, work: Callable[[Extend], Result]) -> Result:
        """As ``run``, for work that learns on the way how long it may take: it is called with a
        function that replaces ``deadline`` (a request that turns out to be a large region)."""
        task: _Task[Result] = _Task(work, deadline)
        self._tasks.put(task)
        with self._lock:
            if not self._idle.acquire(blocking=False) and self._threads < self.max_threads:
                self._threads += 1
                threading.Thread(target=self._serve, name="iiif-deadline", daemon=True).start()
        while not task.finished.acquire(timeout=max(0.0, task.deadline.remaining())):
            current = task.deadline
            if current.expired:
                task.abandoned = True
                raise DeadlineExceeded(current.reason)
        if task.error is not None:
            raise task.error
        return task.result  # type: ignore[return-value] - set when no error was

    def _serve(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=IDLE_THREAD_SECONDS)
            except queue.Empty:
                with self._lock:
                    # Unless a new request has just counted on this thread, take its idle count back and end.
                    if self._idle.acquire(blocking=False):
                        self._threads -= 1
                        return
                continue
            if not task.abandoned:
                task.execute()
            self._idle.release()
