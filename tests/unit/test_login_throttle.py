"""auth/throttle.py: failed logins are limited per client address and per user name."""

from __future__ import annotations

from iiif_server.auth.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_refused_after_its_failures_until_the_window_passes():
    clock = Clock()
    throttle = LoginThrottle(3, 60, clock)
    for attempt in range(3):
        assert throttle.retry_after("10.0.0.1", f"user-{attempt}") == 0
        throttle.record_failure("10.0.0.1", f"user-{attempt}")
        clock.now += 10
    assert throttle.retry_after("10.0.0.1", "someone-else") == 30  # the first failure leaves at 1060
    assert throttle.retry_after("10.0.0.2", "someone-else") == 0
    clock.now += 30
    assert throttle.retry_after("10.0.0.1", "someone-else") == 0


def test_a_user_name_is_protected_from_many_addresses():
    clock = Clock()
    throttle = LoginThrottle(2, 60, clock)
    throttle.record_failure("10.0.0.1", "lan")
    throttle.record_failure("10.0.0.2", "lan")
    assert throttle.retry_after("10.0.0.3", "lan") == 60
    assert throttle.retry_after("10.0.0.3", "minh") == 0
