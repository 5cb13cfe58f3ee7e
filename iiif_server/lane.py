"""The heavy-request lane: renders of large outputs take turns, so they never starve tiles.

A render whose output exceeds the threshold must enter the lane: a few slots render at once, a
short queue waits for a slot, and a request finding both full, or waiting too long, is refused with
503 and a ``Retry-After``. Everything else (tiles, info.json, thumbnails) never enters it. Under
gunicorn the lane is the whole server's (its counts are in memory shared by the workers, made
before they fork) and what renders in a slot is one of the server's low-priority render processes
(render_pool.py); without it (Flask's test client) the lane is the process's and renders on the
request's thread. The worker's thread pool is sized with the lane's slots and queue on top of
``threads`` (see ``iiif_server.wsgi``), so requests in the lane never hold the threads the other
requests need.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from iiif_server.errors import Unavailable

# Weight of the newest render in the running mean that estimates Retry-After.
_NEWEST_WEIGHT = 0.3
# How often a request waiting in the queue looks for a free slot: a heavy render takes a second or more.
_POLL_SECONDS = 0.02
# Fields of one process's row in LaneCounts.
_PID, _RENDERING, _WAITING, _ROW = 0, 1, 2, 3


class LaneCounts:
    """Heavy requests rendering and waiting, one row per process, in shared memory: made before a
    fork, the counts are the whole server's. A process that dies with requests in the lane is
    ``forget``-ten by whoever sees it exit (gunicorn's arbiter), so its counts never block the lane.
    Thread- and process-safe."""

    def __init__(self, processes: int) -> None:
        self._table = multiprocessing.RawArray("q", _ROW * processes)
        self._lock = multiprocessing.Lock()

    def _rows(self) -> range:
        return range(0, len(self._table), _ROW)

    def _total(self, field: int) -> int:
        return sum(self._table[row + field] for row in self._rows() if self._table[row + _PID])

    def _own_row(self) -> int | None:
        """This process's row, claimed on first use; None when every row is taken (a worker added
        by TTIN beyond the configured number): its requests are then not counted."""
        pid = os.getpid()
        for row in self._rows():
            if self._table[row + _PID] == pid:
                return row
        for row in self._rows():
            if self._table[row + _PID] == 0:
                self._table[row + _PID] = pid
                return row
        return None

    def _add(self, field: int, change: int) -> None:
        row = self._own_row()
        if row is not None:
            self._table[row + field] += change

    def enter(self, slots: int, queue: int) -> bool | None:
        """True: a slot is this request's; False: it waits in the queue; None: the lane is full.
        A new request never takes a slot before one already waiting."""
        with self._lock:
            rendering, waiting = self._total(_RENDERING), self._total(_WAITING)
            if rendering < slots and not waiting:
                self._add(_RENDERING, 1)
                return True
            if waiting < queue:
                self._add(_WAITING, 1)
                return False
            return None

    def take_slot(self, slots: int) -> bool:
        """For a waiting request: its slot, if one is free now."""
        with self._lock:
            if self._total(_RENDERING) >= slots:
                return False
            self._add(_WAITING, -1)
            self._add(_RENDERING, 1)
            return True

    def stop_waiting(self) -> None:
        with self._lock:
            self._add(_WAITING, -1)

    def leave(self) -> None:
        with self._lock:
            self._add(_RENDERING, -1)

    def forget(self, pid: int) -> None:
        """Process ``pid`` has exited: its requests are no longer in the lane."""
        with self._lock:
            for row in self._rows():
                if self._table[row + _PID] == pid:
                    self._table[row + _PID] = self._table[row + _RENDERING] = self._table[row + _WAITING] = 0

    @property
    def occupancy(self) -> tuple[int, int]:
        """(rendering, waiting) now."""
        with self._lock:
            return self._total(_RENDERING), self._total(_WAITING)


class HeavyLane:
    """Admits at most ``slots`` heavy renders at once, with at most ``queue`` more waiting up to
    ``wait_seconds`` for a slot, counted in ``counts`` (one process's own unless given). Thread-safe."""

    def __init__(self, threshold_pixels: int, slots: int, queue: int, wait_seconds: float,
                 counts: LaneCounts | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold_pixels = threshold_pixels
        self.slots = slots
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.counts = counts if counts is not None else LaneCounts(1)
        self._clock = clock
        self._mean_lock = threading.Lock()
        # A first guess of one render's duration, replaced by measurements as renders finish.
        self._mean_render_seconds = 1.0

    def is_heavy(self, output_pixels: int) -> bool:
        return output_pixels > self.threshold_pixels

    @property
    def occupancy(self) -> tuple[int, int]:
        """(rendering, waiting) now, in the whole lane."""
        return self.counts.occupancy

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold a slot for the body; raises ``Unavailable`` (503) when the lane cannot take the request."""
        entered = self.counts.enter(self.slots, self.queue)
        if entered is None:
            raise self._refusal("heavy-request lane is full")
        if not entered:
            self._wait_for_slot()
        started = self._clock()
        try:
            yield
        finally:
            elapsed = self._clock() - started
            self.counts.leave()
            with self._mean_lock:
                self._mean_render_seconds += _NEWEST_WEIGHT * (elapsed - self._mean_render_seconds)

    def _wait_for_slot(self) -> None:
        give_up_at = time.monotonic() + self.wait_seconds
        pause = threading.Event()
        while not self.counts.take_slot(self.slots):
            if time.monotonic() >= give_up_at:
                self.counts.stop_waiting()
                raise self._refusal(f"no slot of the heavy-request lane freed within {self.wait_seconds:g} s")
            pause.wait(_POLL_SECONDS)

    def _refusal(self, why: str) -> Unavailable:
        """A slot frees after about one render; the queue ahead adds one per slot."""
        _, waiting = self.counts.occupancy
        rounds = 1 + waiting / self.slots
        with self._mean_lock:
            retry_after = max(1, math.ceil(self._mean_render_seconds * rounds))
        return Unavailable(f"{why}: large outputs are rendered a few at a time; retry later", retry_after)
