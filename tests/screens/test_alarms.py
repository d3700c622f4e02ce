"""The dashboard's alarm decisions: which arriving results are announced, and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsdash.checks.base import CheckResult, Status
from opsdash.screens.alarms import announcements, still_critical, turned_critical

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def result(status: Status, *, tenant: str = "acme", check: str = "db", age_s: float = 0,
           summary: str = "connection refused") -> CheckResult:
    return CheckResult(tenant=tenant, check=check, status=status, summary=summary,
                       timestamp=NOW - timedelta(seconds=age_s))


def test_a_check_turning_crit_from_any_other_status_is_a_change() -> None:
    for before in (Status.OK, Status.WARN, Status.UNKNOWN):
        assert turned_critical(result(before, age_s=10), result(Status.CRIT))


def test_staying_crit_recovering_or_first_sight_is_not_a_change() -> None:
    assert not turned_critical(result(Status.CRIT, age_s=10), result(Status.CRIT))
    assert not turned_critical(result(Status.CRIT, age_s=10), result(Status.OK))
    assert not turned_critical(None, result(Status.CRIT))


def test_a_crit_result_older_than_the_one_shown_is_not_a_change() -> None:
    assert not turned_critical(result(Status.OK), result(Status.CRIT, age_s=10))


def test_a_few_checks_get_a_toast_each_naming_tenant_check_and_reason() -> None:
    turned = [result(Status.CRIT, tenant=name) for name in ("a", "b", "c")]
    assert announcements(turned) == [
        "a db: CRIT connection refused", "b db: CRIT connection refused", "c db: CRIT connection refused",
    ]


def test_many_checks_at_once_get_one_toast_naming_the_first_and_counting_the_rest() -> None:
    turned = [result(Status.CRIT, tenant=f"t{i}") for i in range(40)]
    assert announcements(turned) == ["40 checks turned CRIT: t0 db, t1 db, t2 db and 37 more"]


def test_nothing_turned_crit_means_no_toast() -> None:
    assert announcements([]) == []


def test_waiting_announcements_keep_one_per_check_and_drop_checks_that_recovered() -> None:
    first = result(Status.CRIT, tenant="a", age_s=20, summary="refused")
    again = result(Status.CRIT, tenant="a", age_s=10, summary="timed out")
    recovered = result(Status.CRIT, tenant="b", age_s=10)
    shown = {
        first.key: result(Status.CRIT, tenant="a"),
        recovered.key: result(Status.OK, tenant="b"),
    }
    assert still_critical([first, recovered, again], shown) == [first]
