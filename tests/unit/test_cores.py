"""Workers answer on a core of their own and render on every core (iiif_server/cores.py).

CPU affinity belongs to a thread, so each test runs its checks on a thread of its own and leaves
the test process as it was."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from iiif_server import cores
from iiif_server.cores import keep_to_core, on_every_core, worker_core

ALL_CORES = frozenset(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def process_not_kept_to_a_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """keep_to_core records the process's cores in the module; put back what was there."""
    monkeypatch.setattr(cores, "_process_cores", frozenset())
    monkeypatch.setattr(cores, "_worker_core", None)


def on_a_thread(check: Callable[[], object]) -> object:
    """``check``'s result, run on a new thread; its exception, raised here."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = check()
        except BaseException as error:  # noqa: BLE001 - raised again on the calling thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def cores_of_a_new_thread() -> frozenset[int]:
    return on_a_thread(lambda: frozenset(os.sched_getaffinity(0)))


def test_worker_slots_are_spread_over_the_cores_in_turn() -> None:
    ordered = sorted(ALL_CORES)
    count = len(ordered)
    assert [worker_core(slot, count) for slot in range(count)] == ordered
    assert [worker_core(slot, 2 * count) for slot in range(2 * count)] == ordered + ordered
    assert worker_core(count, count + 1) == ordered[0]  # a slot beyond the cores starts again


def test_fewer_workers_than_cores_are_kept_to_none() -> None:
    assert len(ALL_CORES) >= 2, "this test needs 2 cores, as CI has"
    assert worker_core(0, len(ALL_CORES) - 1) is None


def test_only_the_cores_the_process_may_use_are_handed_out() -> None:
    allowed = sorted(ALL_CORES)[1:2]

    def slots_on_one_allowed_core() -> list[int | None]:
        os.sched_setaffinity(0, set(allowed))
        return [worker_core(slot, 2) for slot in range(2)]

    assert on_a_thread(slots_on_one_allowed_core) == allowed + allowed


def test_a_thread_kept_to_a_core_starts_threads_there_and_renders_on_every_core() -> None:
    core = sorted(ALL_CORES)[-1]

    def affinities() -> dict[str, frozenset[int]]:
        keep_to_core(core)
        seen = {"kept": frozenset(os.sched_getaffinity(0)), "started then": cores_of_a_new_thread()}
        with on_every_core():
            seen["rendering"] = frozenset(os.sched_getaffinity(0))
            seen["started while rendering"] = cores_of_a_new_thread()  # as libvips' and OpenJPEG's are
        seen["after rendering"] = frozenset(os.sched_getaffinity(0))
        return seen

    assert on_a_thread(affinities) == {
        "kept": {core}, "started then": {core},
        "rendering": ALL_CORES, "started while rendering": ALL_CORES,
        "after rendering": {core},
    }


def test_a_thread_goes_back_to_its_core_when_rendering_fails() -> None:
    core = sorted(ALL_CORES)[0]

    def fail_while_rendering() -> frozenset[int]:
        keep_to_core(core)
        with pytest.raises(RuntimeError), on_every_core():
            raise RuntimeError("the decoder failed")
        return frozenset(os.sched_getaffinity(0))

    assert on_a_thread(fail_while_rendering) == {core}


def test_rendering_changes_nothing_in_a_process_not_kept_to_a_core() -> None:
    def narrowed_then_rendering() -> frozenset[int]:
        os.sched_setaffinity(0, {sorted(ALL_CORES)[0]})  # set by an operator's taskset, say
        with on_every_core():
            return frozenset(os.sched_getaffinity(0))

    assert on_a_thread(narrowed_then_rendering) == {sorted(ALL_CORES)[0]}
