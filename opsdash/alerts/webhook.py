"""Generic webhook sink: one JSON POST per alert event, in order, retried with backoff off the check path."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpx

from opsdash.alerts.delivery import backoff_delay, describe_url, diagnose, send
from opsdash.alerts.policy import AlertPolicy
from opsdash.alerts.state import AlertEvent

WEBHOOK_VERSION = 1


def webhook_body(event: AlertEvent) -> dict[str, Any]:
    """The JSON body a webhook receives."""
    return {"version": WEBHOOK_VERSION, "source": "opsdash", **event.to_dict()}


class WebhookSink:
    """Queues events; a background task delivers them one by one (10 s timeout, exponential backoff)."""

    def __init__(self, url: str, policy: AlertPolicy, http: httpx.AsyncClient) -> None:
        self.url = url
        self.policy = policy
        self.http = http
        self.delivered = 0
        self.dropped = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="opsdash-webhook")

    def publish(self, events: Iterable[AlertEvent]) -> None:
        bodies = [webhook_body(e) for e in events]
        if bodies:
            self._queue.extend(bodies)
            self._drained.clear()
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._deliver(self._queue[0])
                self._queue.popleft()
            self._drained.set()

    async def _deliver(self, body: dict[str, Any]) -> None:
        for attempt in range(1, self.policy.webhook_max_attempts + 1):
            error = await send(self.http, "POST", self.url, body, self.policy.delivery_timeout)
            if error is None:
                self.delivered += 1
                return
            if attempt == self.policy.webhook_max_attempts:
                break
            delay = backoff_delay(attempt, self.policy)
            diagnose(f"webhook {describe_url(self.url)}: {error}; retry {attempt} in {delay:g}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), timeout=delay)
        self.dropped += 1
        diagnose(
            f"webhook {describe_url(self.url)}: gave up on a {body['event']} message for "
            f"{body['tenant']}/{body['check']} after {self.policy.webhook_max_attempts} attempts"
        )

    async def close(self, deadline_s: float) -> None:
        """Deliver what is queued (retrying at once) until the deadline, then stop."""
        self._hurry.set()
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout=deadline_s)
        if self._queue:
            diagnose(f"webhook {describe_url(self.url)}: {len(self._queue)} message(s) undelivered at exit")
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
