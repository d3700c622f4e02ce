"""What the dashboard announces (a toast and the terminal bell) when results arrive. Pure.

A check is announced when it turns CRIT from another status the dashboard was showing. The judgement is
made against what the dashboard shows, not the results store's transitions: a store that refuses writes
(a full disk, a file locked past its timeout) records no transitions, and must not silence the alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opsdash.checks.base import CheckResult, Status

ONE_TOAST_EACH_UP_TO = 3
"""More checks than this turning CRIT together (a cluster going down) get one toast between them."""
ANNOUNCE_EVERY_S = 5.0
"""The least time between two announcements: checks turning CRIT meanwhile wait and are announced
together, so a cluster whose tenants fail over a whole poll interval rings a few times, not once per
batch of results."""


def turned_critical(shown: CheckResult | None, arrived: CheckResult) -> bool:
    """Whether ``arrived`` turns its check CRIT: it is CRIT, not older than the result shown, and that
    result was another status. A check never seen before is not a change."""
    return (
        arrived.status is Status.CRIT
        and shown is not None
        and shown.status is not Status.CRIT
        and arrived.timestamp >= shown.timestamp
    )


def announcements(turned: Sequence[CheckResult]) -> list[str]:
    """The toasts for checks that turned CRIT, announced together: one each, or one for them all when
    there are more than ``ONE_TOAST_EACH_UP_TO``."""
    if len(turned) <= ONE_TOAST_EACH_UP_TO:
        return [f"{r.tenant} {r.check}: CRIT {r.summary}" for r in turned]
    named = ", ".join(f"{r.tenant} {r.check}" for r in turned[:ONE_TOAST_EACH_UP_TO])
    return [f"{len(turned)} checks turned CRIT: {named} and {len(turned) - ONE_TOAST_EACH_UP_TO} more"]


def still_critical(
    waiting: Sequence[CheckResult], shown: Mapping[tuple[str, str], CheckResult]
) -> list[CheckResult]:
    """The waiting announcements still worth making: one per check, and only for checks the dashboard
    still shows as CRIT (one that recovered meanwhile is not announced)."""
    kept: dict[tuple[str, str], CheckResult] = {}
    for result in waiting:
        now = shown.get(result.key)
        if now is not None and now.status is Status.CRIT:
            kept.setdefault(result.key, result)
    return list(kept.values())
