"""The dispatcher: state persisted across instances, events fanned out, removed tenants resolved."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsdash.alerts.dispatch import AlertDispatcher
from opsdash.alerts.persist import AlertStateStore
from opsdash.alerts.policy import AlertPolicy
from opsdash.alerts.state import AlertEvent
from opsdash.checks.base import CheckResult, Status

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    async def start(self) -> None: ...

    def publish(self, events: Iterable[AlertEvent]) -> None:
        self.events.extend(events)

    async def close(self, deadline_s: float) -> None: ...


def crit(tenant: str, i: int) -> CheckResult:
    return CheckResult(tenant=tenant, check="db", status=Status.CRIT, summary="down",
                       timestamp=T0 + timedelta(seconds=i))


def test_a_new_dispatcher_on_the_same_file_does_not_refire(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    first, sink = AlertDispatcher(AlertStateStore(path), AlertPolicy()), Recorder()
    first.sinks = [sink]
    first.handle([crit("acme", 0)])
    first.handle([crit("acme", 1)])
    assert [e.kind for e in sink.events] == ["firing"]
    first.store.close()

    second, sink2 = AlertDispatcher(AlertStateStore(path), AlertPolicy()), Recorder()
    second.sinks = [sink2]
    assert [s.key for s in second.firing()] == [("acme", "db")]
    second.handle([crit("acme", 2), crit("acme", 3)])
    assert sink2.events == []
    second.handle([CheckResult(tenant="acme", check="db", status=Status.OK, summary="up", timestamp=T0)])
    assert [e.kind for e in sink2.events] == ["resolved"]
    second.store.close()


def test_alerts_of_removed_tenants_are_resolved(tmp_path: Path) -> None:
    dispatcher, sink = AlertDispatcher(AlertStateStore(tmp_path / "s.sqlite3"), AlertPolicy()), Recorder()
    dispatcher.sinks = [sink]
    dispatcher.handle([crit("gone", 0), crit("gone", 1), crit("kept", 0), crit("kept", 1)])
    sink.events.clear()
    events = dispatcher.retire_tenants(["kept"])
    assert [(e.kind, e.tenant) for e in events] == [("resolved", "gone")]
    assert sink.events == events
    assert [s.tenant for s in dispatcher.firing()] == ["kept"]
    dispatcher.store.close()
