"""Backoff: the delay after N consecutive failures grows, caps, and never undercuts the interval."""

from __future__ import annotations

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.engine.backoff import backoff_delay, is_target_failure


def test_no_failure_polls_at_the_interval() -> None:
    assert backoff_delay(0, 15, 300) == 15


def test_delay_doubles_per_failure_then_caps() -> None:
    delays = [backoff_delay(n, 15, 300) for n in range(1, 8)]
    assert delays == [30, 60, 120, 240, 300, 300, 300]


def test_huge_failure_counts_stay_at_the_cap() -> None:
    assert backoff_delay(10_000, 15, 300) == 300


def test_cap_below_interval_never_speeds_polling_up() -> None:
    assert backoff_delay(3, 300, 60) == 300


def test_jitter_shortens_within_bounds_but_not_below_interval() -> None:
    assert backoff_delay(3, 10, 300, jitter=0.1, rand=lambda: 1.0) == pytest.approx(72)
    assert backoff_delay(3, 10, 300, jitter=0.1, rand=lambda: 0.0) == 80
    assert backoff_delay(1, 10, 300, jitter=0.9, rand=lambda: 1.0) == 10
    assert backoff_delay(0, 10, 300, jitter=0.5, rand=lambda: 1.0) == 10


@pytest.mark.parametrize("failures,jitter", [(-1, 0.0), (1, 1.0), (1, -0.1)])
def test_nonsense_arguments_are_refused(failures: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff_delay(failures, 10, 300, jitter=jitter)


def _result(status: Status, error_class: str | None) -> CheckResult:
    return CheckResult(tenant="t", check="db", status=status, summary="s", error_class=error_class)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "status,error_class,failing",
    [
        (Status.CRIT, "timeout", True),
        (Status.CRIT, "connect", True),
        (Status.CRIT, "dns", True),
        (Status.CRIT, "auth", True),
        (Status.CRIT, "condition", False),
        (Status.CRIT, None, False),
        (Status.WARN, "timeout", False),
        (Status.UNKNOWN, "protocol", False),
        (Status.OK, None, False),
    ],
)
def test_only_a_target_that_did_not_answer_is_backed_off(
    status: Status, error_class: str | None, failing: bool
) -> None:
    assert is_target_failure([_result(Status.OK, None), _result(status, error_class)]) is failing


def test_an_empty_batch_is_not_a_failure() -> None:
    assert is_target_failure([]) is False
