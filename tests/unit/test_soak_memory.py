"""bench/soak.py's memory rule: what grows after the warm-up is a leak, a passing buffer is not."""

from __future__ import annotations

import pytest

from bench.soak import ProcessMemory

MIB = 2**20


def samples(values_mib: list[float]) -> ProcessMemory:
    memory = ProcessMemory(pid=1, first_seen=0.0)
    memory.samples = [(20.0 + 2 * index, round(value * MIB)) for index, value in enumerate(values_mib)]
    return memory


@pytest.mark.parametrize(
    ("values", "least", "most"),
    [
        pytest.param([107] * 20, 0.0, 0.0, id="flat"),
        pytest.param([107] * 17 + [123, 107, 107], 0.0, 0.0, id="one heavy answer's buffers in the last fifth"),
        pytest.param([100 + 1.2 * n for n in range(20)], 0.18, 0.22, id="a steady leak"),
    ],
)
def test_growth_is_measured_between_the_medians_of_the_first_and_last_fifth(values, least, most) -> None:
    baseline, final, growth = samples(values).growth(warm_up=20.0, until=60.0)
    assert least <= growth <= most and final == pytest.approx(baseline * (1 + growth))


def test_a_process_seen_too_briefly_after_its_warm_up_is_not_judged() -> None:
    assert samples([107, 108]).growth(warm_up=20.0, until=60.0) is None
