"""Failed-login throttle, per client address and per user name, kept in each worker's memory."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

# Names and addresses remembered at once; beyond it the oldest are forgotten first.
_REMEMBERED_KEYS = 100_000


class LoginThrottle:
    """After ``max_failures`` failed logins within ``window_seconds`` from one client address, or
    for one user name, further attempts are refused until the oldest failure leaves the window.
    Thread-safe. ``clock`` gives monotonic seconds."""

    def __init__(self, max_failures: int, window_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: TTLCache = TTLCache(_REMEMBERED_KEYS, window_seconds, timer=clock)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [moment for moment in self._failures.get(key, ()) if moment > now - self.window_seconds]

    def retry_after(self, client: str, user: str) -> int:
        """Seconds until ``client`` may try ``user`` again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [
                recent[-self.max_failures] + self.window_seconds - now
                for recent in (self._recent(("client", client), now), self._recent(("user", user), now))
                if len(recent) >= self.max_failures
            ]
        return max(1, math.ceil(max(waits))) if waits else 0

    def record_failure(self, client: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (("client", client), ("user", user)):
                self._failures[key] = [*self._recent(key, now), now]
