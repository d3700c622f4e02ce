"""The Alertmanager book: what is posted for firing, escalated, resolved and remembered alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsdash.alerts.alertmanager import apply_event, book_from_states, payload, prune
from opsdash.alerts.state import AlertEvent, AlertState
from opsdash.checks.base import Status

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def event(kind: str, severity: str = "critical", at: int = 0, previous: str | None = None) -> AlertEvent:
    return AlertEvent(
        kind=kind, tenant="acme", check="db", severity=severity, summary=f"{kind} summary",  # type: ignore[arg-type]
        status=Status.CRIT if kind == "firing" else Status.OK, starts_at=T0,
        at=T0 + timedelta(seconds=at), ends_at=T0 + timedelta(seconds=at) if kind == "resolved" else None,
        previous_severity=previous,  # type: ignore[arg-type]
    )


def test_firing_has_labels_summary_and_no_end() -> None:
    book: dict = {}
    apply_event(book, event("firing"))
    [alert] = payload(book, "http://opsdash")
    assert alert["labels"] == {"alertname": "OpsdashCheckFailing", "tenant": "acme", "check": "db",
                               "severity": "critical"}
    assert alert["annotations"] == {"summary": "firing summary"}
    assert alert["startsAt"] == T0.isoformat() and "endsAt" not in alert
    assert alert["generatorURL"] == "http://opsdash"


def test_resolved_is_sent_with_ends_at_then_pruned() -> None:
    book: dict = {}
    apply_event(book, event("firing"))
    apply_event(book, event("resolved", at=60))
    [alert] = payload(book)
    assert alert["endsAt"] == (T0 + timedelta(seconds=60)).isoformat()
    prune(book, T0 + timedelta(seconds=200), keep_resolved_for=300)
    assert len(book) == 1
    prune(book, T0 + timedelta(seconds=400), keep_resolved_for=300)
    assert book == {}


def test_escalation_ends_the_warning_alert() -> None:
    book: dict = {}
    apply_event(book, event("firing", "warning"))
    apply_event(book, event("firing", "critical", at=30, previous="warning"))
    by_severity = {a["labels"]["severity"]: a for a in payload(book)}
    assert "endsAt" in by_severity["warning"] and "endsAt" not in by_severity["critical"]


def test_book_from_states_keeps_only_firing_with_their_start() -> None:
    states = [
        AlertState("acme", "db", firing=True, severity="critical", started_at=T0, summary="down"),
        AlertState("beta", "db"),
    ]
    [alert] = payload(book_from_states(states))
    assert alert["labels"]["tenant"] == "acme" and alert["startsAt"] == T0.isoformat()
