"""Alertmanager v2 sink: ``POST /api/v2/alerts`` with every firing alert, re-sent before resolve_timeout.

The sink keeps a small book of alerts keyed by their labels. Each delivery posts the whole book:
firing alerts without ``endsAt`` (Alertmanager expires them after its resolve_timeout unless re-sent),
resolved ones with ``endsAt`` (kept and re-sent for ``resolved_resend_for`` seconds). Posting the
same labels again is idempotent, so retries and restarts never duplicate an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from opsdash.alerts.delivery import backoff_delay, describe_url, diagnose, send
from opsdash.alerts.policy import AlertPolicy
from opsdash.alerts.state import AlertEvent, AlertState, alert_labels

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BookedAlert:
    labels: Mapping[str, str]
    summary: str
    starts_at: datetime
    ends_at: datetime | None = None


def _key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


def book_from_states(states: Iterable[AlertState]) -> dict[LabelKey, BookedAlert]:
    """Firing alerts remembered from the state store (after a restart)."""
    book = {}
    for s in states:
        if s.firing and s.severity and s.started_at:
            labels = alert_labels(s.tenant, s.check, s.severity)
            book[_key(labels)] = BookedAlert(labels, s.summary, s.started_at)
    return book


def apply_event(book: dict[LabelKey, BookedAlert], event: AlertEvent) -> None:
    """Record a firing (or escalated) or resolved alert in the book."""
    labels = event.labels()
    if event.kind == "firing":
        book[_key(labels)] = BookedAlert(labels, event.summary, event.starts_at)
        if event.previous_severity:
            old = alert_labels(event.tenant, event.check, event.previous_severity)
            previous = book.get(_key(old))
            if previous is not None:
                book[_key(old)] = replace(previous, ends_at=event.at)
        return
    current = book.get(_key(labels))
    book[_key(labels)] = BookedAlert(
        labels, event.summary, current.starts_at if current else event.starts_at, event.ends_at or event.at
    )


def prune(book: dict[LabelKey, BookedAlert], now: datetime, keep_resolved_for: float) -> None:
    """Forget resolved alerts once they have been re-sent long enough."""
    horizon = now - timedelta(seconds=keep_resolved_for)
    for key in [k for k, a in book.items() if a.ends_at is not None and a.ends_at < horizon]:
        del book[key]


def payload(book: Mapping[LabelKey, BookedAlert], generator_url: str | None = None) -> list[dict[str, Any]]:
    """The ``POST /api/v2/alerts`` body."""
    alerts = []
    for alert in book.values():
        item: dict[str, Any] = {
            "labels": dict(alert.labels),
            "annotations": {"summary": alert.summary},
            "startsAt": alert.starts_at.isoformat(),
        }
        if alert.ends_at is not None:
            item["endsAt"] = alert.ends_at.isoformat()
        if generator_url:
            item["generatorURL"] = generator_url
        alerts.append(item)
    return alerts


class AlertmanagerSink:
    """Delivers the book on every change and every ``resend_interval``; retries failures with backoff."""

    def __init__(
        self,
        url: str,
        policy: AlertPolicy,
        http: httpx.AsyncClient,
        firing: Iterable[AlertState] = (),
    ) -> None:
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.policy = policy
        self.http = http
        self.book = book_from_states(firing)
        self.posts = 0
        self._generation = 1 if self.book else 0
        self._delivered_generation = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="opsdash-alertmanager")
        if self.book:
            self._wake.set()

    def publish(self, events: Iterable[AlertEvent]) -> None:
        changed = False
        for event in events:
            apply_event(self.book, event)
            changed = True
        if changed:
            self._generation += 1
            self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            wait = self.policy.resend_interval if failures == 0 else backoff_delay(failures, self.policy)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
            error = await self._post()
            if error is None:
                failures = 0
            else:
                failures += 1
                diagnose(f"alertmanager {describe_url(self.endpoint)}: {error}; retry {failures}")

    async def _post(self) -> str | None:
        prune(self.book, datetime.now(UTC), self.policy.resolved_resend_for)
        if not self.book:
            return None
        generation = self._generation
        error = await send(
            self.http, "POST", self.endpoint, payload(self.book, self.policy.generator_url),
            self.policy.delivery_timeout,
        )
        if error is None:
            self.posts += 1
            self._delivered_generation = max(self._delivered_generation, generation)
        return error

    @property
    def settled(self) -> bool:
        """Every change so far has reached Alertmanager."""
        return self._delivered_generation >= self._generation

    async def close(self, deadline_s: float) -> None:
        """Stop the resend loop; post once more if a change has not been delivered yet."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self.settled:
            try:
                error = await asyncio.wait_for(self._post(), timeout=deadline_s)
            except TimeoutError:
                error = "timed out"
            if error is not None:
                where = describe_url(self.endpoint)
                diagnose(f"alertmanager {where}: last update undelivered at exit ({error})")
