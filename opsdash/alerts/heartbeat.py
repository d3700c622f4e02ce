"""Heartbeat: ping a URL (healthchecks-style) after a sweep, so the watcher itself is watched.

Beats are throttled to one per ``min_interval`` and sent from a background task; a failed ping is
reported on stderr and simply tried again at the next beat.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from opsdash.alerts.delivery import describe_url, diagnose, send


class Heartbeat:
    def __init__(self, url: str, http: httpx.AsyncClient, *, min_interval: float, timeout: float) -> None:
        self.url = url
        self.http = http
        self.min_interval = min_interval
        self.timeout = timeout
        self.sent = 0
        self._last: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="opsdash-heartbeat")

    def beat(self) -> None:
        """A sweep finished; ping soon (at most once per ``min_interval``)."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if self._last is not None:
                wait = self._last + self.min_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._wake.clear()
            self._last = loop.time()
            error = await send(self.http, "GET", self.url, None, self.timeout)
            if error is None:
                self.sent += 1
            else:
                diagnose(f"heartbeat {describe_url(self.url)}: {error}")

    async def close(self, deadline_s: float) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
