"""Exponential backoff for a failing target: pure decisions, no clock and no scheduler."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from opsdash.checks.base import CheckResult, Status

DEFAULT_JITTER = 0.1
"""With jitter on, a delay is shortened by up to this share, so failing tenants do not retry in lockstep."""


def is_target_failure(results: Iterable[CheckResult]) -> bool:
    """Whether a batch says the target itself failed: a CRIT with an error class other than "condition".

    A CRIT "condition" is an answer we did not like (0 Company documents, quality RED); the target
    answered, so polling it at the normal pace costs nothing.
    """
    return any(
        r.status is Status.CRIT and r.error_class is not None and r.error_class != "condition"
        for r in results
    )


def backoff_delay(
    failures: int,
    interval: float,
    cap: float,
    *,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds until the next run after ``failures`` consecutive failures.

    0 failures: the interval. Then interval * 2**failures, capped at ``cap`` but never below the
    interval (a cap shorter than the interval does not speed polling up). ``jitter`` (0..1) shortens
    the delay by a random share of up to ``jitter``, without ever going below the interval.
    """
    if failures < 0:
        raise ValueError("failures must be >= 0")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    if failures == 0:
        return interval
    ceiling = max(interval, cap)
    delay = ceiling if failures >= 64 else min(ceiling, interval * 2.0**failures)
    if jitter:
        delay = max(interval, delay * (1.0 - jitter * rand()))
    return delay
