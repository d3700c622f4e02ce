"""The alert state machine, pure: results in, alert state and firing/resolved events out.

A check's alert fires after ``fire_after`` consecutive failing results and resolves after
``resolve_after`` consecutive OK results, so one blip does not flap. A status that is neither a
failure nor OK (UNKNOWN, by default) is neutral: it neither extends nor breaks a streak. While
firing, a worse severity re-fires the alert under the new severity (``previous_severity`` names
the one it replaces); a milder one changes nothing until the alert resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from opsdash.alerts.policy import AlertPolicy
from opsdash.checks.base import CheckResult, Status

ALERTNAME = "OpsdashCheckFailing"
Severity = Literal["critical", "warning"]
EventKind = Literal["firing", "resolved"]
_SEVERITY_RANK = {"warning": 1, "critical": 2}


def severity_of(status: Status) -> Severity:
    """The ``severity`` label for a failing status: CRIT is critical, anything else a warning."""
    return "critical" if status is Status.CRIT else "warning"


@dataclass(frozen=True)
class AlertState:
    """Where one (tenant, check) stands: its streaks and, while firing, the incident."""

    tenant: str
    check: str
    firing: bool = False
    failures: int = 0
    successes: int = 0
    severity: Severity | None = None
    started_at: datetime | None = None
    summary: str = ""
    last_status: Status | None = None
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.check)


@dataclass(frozen=True)
class AlertEvent:
    """A state change every sink delivers: an alert started firing (or got worse), or resolved."""

    kind: EventKind
    tenant: str
    check: str
    severity: Severity
    summary: str
    status: Status
    starts_at: datetime
    at: datetime
    ends_at: datetime | None = None
    previous_severity: Severity | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.check)

    def labels(self) -> dict[str, str]:
        """The labels that identify this alert (Alertmanager dedupes on them)."""
        return alert_labels(self.tenant, self.check, self.severity)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of an event (NDJSON lines and webhook bodies)."""
        return {
            "event": self.kind,
            "alertname": ALERTNAME,
            "tenant": self.tenant,
            "check": self.check,
            "severity": self.severity,
            "status": str(self.status),
            "summary": self.summary,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "at": self.at.isoformat(),
            "previous_severity": self.previous_severity,
        }


def alert_labels(tenant: str, check: str, severity: str) -> dict[str, str]:
    return {"alertname": ALERTNAME, "tenant": tenant, "check": check, "severity": severity}


def step(state: AlertState, result: CheckResult, policy: AlertPolicy) -> tuple[AlertState, AlertEvent | None]:
    """Advance one alert by one result."""
    status, at = result.status, result.timestamp
    if policy.is_failure(status):
        return _on_failure(state, result, policy)
    if status is not Status.OK:
        return replace(state, last_status=status, updated_at=at), None
    successes = state.successes + 1
    if state.firing and successes >= policy.resolve_after:
        assert state.severity is not None and state.started_at is not None
        event = AlertEvent(
            kind="resolved",
            tenant=state.tenant,
            check=state.check,
            severity=state.severity,
            summary=result.summary,
            status=status,
            starts_at=state.started_at,
            ends_at=at,
            at=at,
        )
        resolved = AlertState(
            state.tenant, state.check, successes=successes, summary=result.summary, last_status=status,
            updated_at=at,
        )
        return resolved, event
    return replace(state, failures=0, successes=successes, last_status=status, updated_at=at), None


def _on_failure(
    state: AlertState, result: CheckResult, policy: AlertPolicy
) -> tuple[AlertState, AlertEvent | None]:
    status, at = result.status, result.timestamp
    severity = severity_of(status)
    failures = state.failures + 1
    counted = replace(
        state, failures=failures, successes=0, summary=result.summary, last_status=status, updated_at=at
    )
    if not state.firing:
        if failures < policy.fire_after:
            return counted, None
        fired = replace(counted, firing=True, severity=severity, started_at=at)
        return fired, _firing(fired, result)
    assert state.severity is not None
    if _SEVERITY_RANK[severity] > _SEVERITY_RANK[state.severity]:
        escalated = replace(counted, severity=severity)
        return escalated, _firing(escalated, result, previous=state.severity)
    return counted, None


def _firing(state: AlertState, result: CheckResult, previous: Severity | None = None) -> AlertEvent:
    assert state.severity is not None and state.started_at is not None
    return AlertEvent(
        kind="firing",
        tenant=state.tenant,
        check=state.check,
        severity=state.severity,
        summary=result.summary,
        status=result.status,
        starts_at=state.started_at,
        at=result.timestamp,
        previous_severity=previous,
    )


def apply(
    states: Mapping[tuple[str, str], AlertState], results: Iterable[CheckResult], policy: AlertPolicy
) -> tuple[dict[tuple[str, str], AlertState], list[AlertEvent]]:
    """Step every result against its alert; returns the states that changed and the events, in order."""
    changed: dict[tuple[str, str], AlertState] = {}
    events: list[AlertEvent] = []
    for result in results:
        current = changed.get(result.key) or states.get(result.key) or AlertState(result.tenant, result.check)
        new, event = step(current, result, policy)
        if new != current:
            changed[result.key] = new
        if event is not None:
            events.append(event)
    return changed, events


def retire(state: AlertState, at: datetime, reason: str) -> tuple[AlertState, AlertEvent | None]:
    """Resolve an alert whose tenant or check no longer exists, so it does not fire forever."""
    if not state.firing:
        return state, None
    assert state.severity is not None and state.started_at is not None
    event = AlertEvent(
        kind="resolved", tenant=state.tenant, check=state.check, severity=state.severity, summary=reason,
        status=Status.UNKNOWN, starts_at=state.started_at, ends_at=at, at=at,
    )
    return AlertState(state.tenant, state.check, summary=reason, updated_at=at), event
