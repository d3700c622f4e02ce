"""The alert state machine: thresholds, neutral statuses, escalation, resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsdash.alerts.policy import AlertPolicy
from opsdash.alerts.state import AlertState, apply, retire, step
from opsdash.checks.base import CheckResult, Status

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def result(status: Status, i: int = 0, check: str = "db", tenant: str = "acme") -> CheckResult:
    return CheckResult(
        tenant=tenant, check=check, status=status, summary=f"{status} #{i}",
        timestamp=T0 + timedelta(seconds=i),
    )


def run(statuses: list[Status], policy: AlertPolicy | None = None) -> list[tuple[str, str]]:
    policy = policy or AlertPolicy()
    state = AlertState("acme", "db")
    events = []
    for i, status in enumerate(statuses):
        state, event = step(state, result(status, i), policy)
        if event:
            events.append((event.kind, event.severity))
    return events


C, W, K, U = Status.CRIT, Status.WARN, Status.OK, Status.UNKNOWN


def test_one_blip_does_not_fire() -> None:
    assert run([K, C, K, C, K]) == []


def test_two_consecutive_failures_fire_once_and_one_ok_resolves() -> None:
    assert run([C, C, C, C, K, K]) == [("firing", "critical"), ("resolved", "critical")]


def test_thresholds_are_configurable() -> None:
    policy = AlertPolicy(fire_after=3, resolve_after=2)
    assert run([C, C, K, C, C, C, K, C, K, K], policy) == [("firing", "critical"), ("resolved", "critical")]


def test_unknown_is_neutral() -> None:
    assert run([C, U, C]) == [("firing", "critical")]
    assert run([C, C, U, U]) == [("firing", "critical")]


def test_warn_fires_as_warning_and_escalates_to_critical_once() -> None:
    assert run([W, W, C, W, C, K]) == [
        ("firing", "warning"),
        ("firing", "critical"),
        ("resolved", "critical"),
    ]


def test_escalation_names_the_replaced_severity_and_keeps_the_incident_start() -> None:
    policy = AlertPolicy()
    state = AlertState("acme", "db")
    for i, status in enumerate([W, W]):
        state, _ = step(state, result(status, i), policy)
    state, event = step(state, result(C, 5), policy)
    assert event is not None and event.previous_severity == "warning"
    assert event.starts_at == T0 + timedelta(seconds=1)


def test_fire_on_crit_only_ignores_warnings() -> None:
    assert run([W, W, W], AlertPolicy(fire_on=("CRIT",))) == []


def test_resolved_event_carries_start_and_end() -> None:
    policy = AlertPolicy()
    state = AlertState("acme", "db")
    event = None
    for i, status in enumerate([C, C, K]):
        state, event = step(state, result(status, i), policy)
    assert event is not None and event.kind == "resolved"
    assert event.starts_at == T0 + timedelta(seconds=1)
    assert event.ends_at == T0 + timedelta(seconds=2)
    assert not state.firing and state.started_at is None


def test_apply_tracks_each_check_separately() -> None:
    policy = AlertPolicy()
    states: dict = {}
    batch1 = [result(C, 0, "db"), result(C, 0, "config:email")]
    changed, events = apply(states, batch1, policy)
    states.update(changed)
    assert events == []
    changed, events = apply(states, [result(C, 1, "db"), result(K, 1, "config:email")], policy)
    assert [(e.kind, e.check) for e in events] == [("firing", "db")]


def test_retire_resolves_a_firing_alert() -> None:
    state = AlertState("gone", "db", firing=True, failures=2, severity="critical", started_at=T0)
    new, event = retire(state, T0 + timedelta(minutes=1), "tenant removed")
    assert event is not None and event.kind == "resolved" and not new.firing
    assert retire(new, T0, "x") == (new, None)


def test_event_dict_is_json_ready() -> None:
    policy = AlertPolicy(fire_after=1)
    _, event = step(AlertState("acme", "db"), result(C, 0), policy)
    assert event is not None
    assert event.to_dict()["event"] == "firing"
    assert event.labels() == {"alertname": "OpsdashCheckFailing", "tenant": "acme", "check": "db",
                              "severity": "critical"}
