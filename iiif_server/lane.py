"""The heavy-request lane: renders of large outputs take turns, so they never starve tiles.

One ``HeavyLane`` per worker process. A render whose output exceeds the threshold must enter the
lane: a few slots render at once, a short queue waits for a slot, and a request finding both full,
or waiting too long, is refused with 503 and a ``Retry-After``. Everything else (tiles, info.json,
thumbnails) never enters it. The worker's thread pool is sized with the lane's slots and queue on
top of ``threads`` (see ``iiif_server.wsgi``), so requests in the lane never hold the threads the
other requests need.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from iiif_server.errors import Unavailable

# Weight of the newest render in the running mean that estimates Retry-After.
_NEWEST_WEIGHT = 0.3


class HeavyLane:
    """Admits at most ``slots`` heavy renders at once, with at most ``queue`` more waiting up to
    ``wait_seconds`` for a slot. Thread-safe; a new request never takes a slot before one waiting."""

    def __init__(self, threshold_pixels: int, slots: int, queue: int, wait_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold_pixels = threshold_pixels
        self.slots = slots
        self.queue = queue
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._changed = threading.Condition()
        self._rendering = 0
        self._waiting = 0
        # A first guess of one render's duration, replaced by measurements as renders finish.
        self._mean_render_seconds = 1.0

    def is_heavy(self, output_pixels: int) -> bool:
        return output_pixels > self.threshold_pixels

    @property
    def occupancy(self) -> tuple[int, int]:
        """(rendering, waiting) now."""
        with self._changed:
            return self._rendering, self._waiting

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold a slot for the body; raises ``Unavailable`` (503) when the lane cannot take the request."""
        with self._changed:
            # Behind anyone already waiting: a slot that just freed is theirs.
            if self._rendering >= self.slots or self._waiting:
                if self._waiting >= self.queue:
                    raise self._refusal("heavy-request lane is full")
                self._waiting += 1
                try:
                    got_slot = self._changed.wait_for(lambda: self._rendering < self.slots, self.wait_seconds)
                finally:
                    self._waiting -= 1
                if not got_slot:
                    raise self._refusal(f"no slot of the heavy-request lane freed within {self.wait_seconds:g} s")
            self._rendering += 1
        started = self._clock()
        try:
            yield
        finally:
            elapsed = self._clock() - started
            with self._changed:
                self._rendering -= 1
                self._mean_render_seconds += _NEWEST_WEIGHT * (elapsed - self._mean_render_seconds)
                self._changed.notify()

    def _refusal(self, why: str) -> Unavailable:
        """Called with the lock held. A slot frees after about one render; the queue ahead adds one per slot."""
        rounds = 1 + self._waiting / self.slots
        retry_after = max(1, math.ceil(self._mean_render_seconds * rounds))
        return Unavailable(f"{why}: large outputs are rendered a few at a time; retry later", retry_after)
