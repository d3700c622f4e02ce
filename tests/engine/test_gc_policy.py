"""The collector's pace in a process that sweeps: above what one pass keeps alive, never lowered."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from opsdash.engine.gc_policy import SWEEP_GEN0_THRESHOLD, pace_for_sweeps, sweep_threshold


@pytest.fixture(autouse=True)
def kept_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_threshold_grows_with_the_fleet_above_a_floor() -> None:
    assert sweep_threshold(0) == SWEEP_GEN0_THRESHOLD
    assert sweep_threshold(10) == SWEEP_GEN0_THRESHOLD
    assert sweep_threshold(1_000) == 200_000
    assert sweep_threshold(5_000) == 1_000_000


def test_pacing_raises_only_the_first_threshold_and_never_lowers_it() -> None:
    gc.set_threshold(700, 10, 10)
    pace_for_sweeps(1_000)
    assert gc.get_threshold() == (200_000, 10, 10)
    pace_for_sweeps(10)
    assert gc.get_threshold() == (200_000, 10, 10)


def test_a_collector_switched_off_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    pace_for_sweeps(1_000)
    assert gc.get_threshold() == (0, 10, 10)
