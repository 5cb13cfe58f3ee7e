"""The heavy-request lane: which requests enter it, how many render and wait, and how the rest are refused."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from iiif_server.errors import Unavailable
from iiif_server.lane import HeavyLane, LaneCounts
from tests.unit.test_plan import plan_url

GENEROUS = 30  # seconds: a thread that must get somewhere never hangs the suite


@pytest.mark.parametrize(
    ("path", "pixels"),
    [
        pytest.param("full/800,/0/default.jpg", 800 * 600, id="3.0 §4.2 w,: width x height"),
        pytest.param("full/800,/90/default.jpg", 800 * 600, id="3.0 §4.3 a right angle keeps the pixel count"),
        pytest.param("full/800,/!180/default.jpg", 800 * 600, id="3.0 §4.3 mirrored"),
        pytest.param("full/800,/45/default.jpg", 990 * 990, id="3.0 §4.3 45 degrees: the rotated bounding box"),
        pytest.param("full/800,/30/default.jpg", 993 * 920, id="3.0 §4.3 30 degrees: the rotated bounding box"),
    ],
)
def test_output_pixels_count_the_rotated_bounding_box(path: str, pixels: int) -> None:
    plan = plan_url(path)  # of a 1600 x 1200 image
    assert plan.output_pixels == pixels


def test_only_outputs_above_the_threshold_are_heavy() -> None:
    lane = HeavyLane(threshold_pixels=4_000_000, slots=1, queue=1, wait_seconds=1)
    assert not lane.is_heavy(4_000_000)
    assert lane.is_heavy(4_000_001)


@contextmanager
def held_turns(lane: HeavyLane, count: int) -> Iterator[list[threading.Thread]]:
    """``count`` threads holding a turn of ``lane`` (or waiting for one) until the block ends."""
    release = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with lane.turn():
                release.wait(GENEROUS)
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield threads
    finally:
        release.set()
        for thread in threads:
            thread.join(GENEROUS)
    assert not errors, errors


def wait_until(condition, seconds: float = GENEROUS) -> None:  # noqa: ANN001 - a callable returning bool
    event = threading.Event()
    for _ in range(int(seconds * 100)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not reached")


def test_slots_render_at_once_the_queue_waits_and_the_rest_is_refused_at_once() -> None:
    lane = HeavyLane(threshold_pixels=1, slots=2, queue=1, wait_seconds=GENEROUS)
    with held_turns(lane, 3):
        wait_until(lambda: lane.occupancy == (2, 1))
        with pytest.raises(Unavailable) as refused:
            with lane.turn():
                pytest.fail("a fourth request entered a lane of 2 slots and 1 queue place")
        assert refused.value.status == 503
        assert refused.value.retry_after >= 1
        assert "lane is full" in refused.value.reason
    assert lane.occupancy == (0, 0)


def test_a_waiting_request_gets_the_slot_that_frees() -> None:
    lane = HeavyLane(threshold_pixels=1, slots=1, queue=1, wait_seconds=GENEROUS)
    entered = threading.Event()

    def wait_for_turn() -> None:
        with lane.turn():
            entered.set()

    with held_turns(lane, 1):
        wait_until(lambda: lane.occupancy == (1, 0))
        waiter = threading.Thread(target=wait_for_turn)
        waiter.start()
        wait_until(lambda: lane.occupancy == (1, 1))
        assert not entered.is_set()
    assert entered.wait(GENEROUS)
    waiter.join(GENEROUS)
    assert lane.occupancy == (0, 0)


def test_waiting_longer_than_the_wait_is_refused() -> None:
    lane = HeavyLane(threshold_pixels=1, slots=1, queue=1, wait_seconds=0.05)
    with held_turns(lane, 1):
        wait_until(lambda: lane.occupancy == (1, 0))
        with pytest.raises(Unavailable, match="no slot of the heavy-request lane freed within 0.05 s"):
            with lane.turn():
                pytest.fail("entered a lane whose only slot was held")
        assert lane.occupancy == (1, 0)


def test_without_a_queue_a_busy_lane_refuses_at_once() -> None:
    lane = HeavyLane(threshold_pixels=1, slots=1, queue=0, wait_seconds=GENEROUS)
    with held_turns(lane, 1):
        wait_until(lambda: lane.occupancy == (1, 0))
        with pytest.raises(Unavailable, match="lane is full"):
            with lane.turn():
                pytest.fail("entered a full lane without a queue")


class StepClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_retry_after_follows_the_measured_render_time() -> None:
    clock = StepClock()
    lane = HeavyLane(threshold_pixels=1, slots=1, queue=0, wait_seconds=1, clock=clock)
    for _ in range(20):  # renders of 6 s each: the running mean converges on 6
        with lane.turn():
            clock.now += 6
    with lane.turn():
        with pytest.raises(Unavailable) as refused:
            with lane.turn():
                pytest.fail("entered a full lane")
    assert refused.value.retry_after == 6


def test_the_counts_are_the_whole_servers_and_a_dead_processs_requests_are_forgotten() -> None:
    counts = LaneCounts(processes=4)  # made before the fork, as gunicorn's arbiter makes it
    lane = HeavyLane(threshold_pixels=1, slots=1, queue=0, wait_seconds=GENEROUS, counts=counts)
    fork = multiprocessing.get_context("fork")
    inside = fork.Event()

    def render_forever() -> None:
        with lane.turn():
            inside.set()
            threading.Event().wait(GENEROUS)

    other_worker = fork.Process(target=render_forever)
    other_worker.start()
    try:
        assert inside.wait(GENEROUS)
        assert lane.occupancy == (1, 0)
        with pytest.raises(Unavailable, match="lane is full"):  # the other process holds the only slot
            with lane.turn():
                pytest.fail("entered a lane whose slot another process holds")
        os.kill(other_worker.pid, signal.SIGKILL)
        other_worker.join(GENEROUS)
        assert lane.occupancy == (1, 0)  # nobody told the counts yet
        counts.forget(other_worker.pid)  # what gunicorn's arbiter does when it reaps a worker
        assert lane.occupancy == (0, 0)
        with lane.turn():
            assert lane.occupancy == (1, 0)
    finally:
        if other_worker.is_alive():
            other_worker.kill()
            other_worker.join(GENEROUS)
