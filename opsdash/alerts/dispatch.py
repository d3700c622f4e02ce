"""Glue between the engine and the sinks: results -> state machine -> persisted state -> events out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from opsdash.alerts.persist import AlertStateStore
from opsdash.alerts.policy import AlertPolicy
from opsdash.alerts.state import AlertEvent, AlertState, apply, retire
from opsdash.checks.base import CheckResult


class Sink(Protocol):
    async def start(self) -> None: ...
    def publish(self, events: Iterable[AlertEvent]) -> None: ...
    async def close(self, deadline_s: float) -> None: ...


class AlertDispatcher:
    """Holds every alert's state (loaded from, and saved to, the store) and fans events out to sinks.

    ``handle`` is synchronous and cheap: sinks only queue, so delivery never blocks the checks.
    """

    def __init__(self, store: AlertStateStore, policy: AlertPolicy, sinks: Sequence[Sink] = ()) -> None:
        self.store = store
        self.policy = policy
        self.sinks = list(sinks)
        self.states: dict[tuple[str, str], AlertState] = store.load()

    def firing(self) -> list[AlertState]:
        return [s for s in self.states.values() if s.firing]

    def handle(self, results: Iterable[CheckResult]) -> list[AlertEvent]:
        changed, events = apply(self.states, results, self.policy)
        return self._commit(changed, events)

    def retire_tenants(self, known: Iterable[str], now: datetime | None = None) -> list[AlertEvent]:
        """Resolve alerts of tenants no longer in the fleet."""
        keep = set(known)
        at = now or datetime.now(UTC)
        changed: dict[tuple[str, str], AlertState] = {}
        events: list[AlertEvent] = []
        for key, state in self.states.items():
            if state.tenant in keep:
                continue
            new, event = retire(state, at, f"tenant '{state.tenant}' is no longer in the fleet")
            if event is not None:
                changed[key] = new
                events.append(event)
        return self._commit(changed, events)

    def _commit(
        self, changed: dict[tuple[str, str], AlertState], events: list[AlertEvent]
    ) -> list[AlertEvent]:
        if changed:
            self.store.save(changed.values())
            self.states.update(changed)
        if events:
            for sink in self.sinks:
                sink.publish(events)
        return events
