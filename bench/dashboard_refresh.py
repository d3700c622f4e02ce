"""How long the dashboard blocks its event loop when every row of a 1,000-tenant table changes.

Runs the real OpsdashApp headless (Textual's ``run_test``) over N tenants holding a full set of latest
results, then drives refreshes the way the engine does: a batch in which every tenant changed is posted
from another thread (``post_results``), the overview's refresh tick fires, its worker computes the rows
off the loop, the diff is applied and the screen repaints. A loop-lag probe (a 1 ms ``call_later`` chain)
records the longest time the event loop could not run a callback over the whole refresh, so message
handlers, the diff, compositor renders, garbage collection and GIL hand-offs all count. The target
(issue 8) is <= 50 ms.

    python bench/dashboard_refresh.py [--tenants 1000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.config.fleet import load_fleet
from opsdash.engine.store import ResultStore
from opsdash.testing.fleetfile import TenantFiles, write_fleet

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
CHECKS = (
    "config:whatsapp",
    "config:whatsapp_otp",
    "config:cloudinary",
    "config:auth",
    "config:email",
    "config:business",
    "fallback:whatsapp",
    "fallback:whatsapp_otp",
    "fallback:cloudinary",
    "fallback:auth",
    "whatsapp",
    "cloudinary",
    "smtp",
    "auth",
    "isolation",
    "whatsapp:fallback",
    "cloudinary:fallback",
    "auth:fallback",
)
"""With ``db``, the 19 latest results a fully flagged tenant holds."""

SIZES: tuple[tuple[int, int], ...] = ((80, 24), (160, 48))
PROBE_INTERVAL_S = 0.001


def tenant_names(n: int) -> list[str]:
    return [f"tenant-{i:04d}" for i in range(n)]


def results_for(
    names: list[str], latency: float, bad_every: int = 0, at: datetime = NOW
) -> list[CheckResult]:
    """Latest results for every tenant: a db result whose latency is ``latency`` (+ i % 7) and 18 others;
    with ``bad_every`` every k-th tenant's db is CRIT, which reorders the table."""
    out = []
    for i, name in enumerate(names):
        status = Status.CRIT if bad_every and i % bad_every == 0 else Status.OK
        out.append(
            CheckResult(
                tenant=name,
                check="db",
                status=status,
                summary="ok" if status is Status.OK else "connection refused",
                details={"latency_ms": latency + i % 7, "server_version": "7.0.12", "companies": 1},
                timestamp=at,
                duration_s=0.012,
                error_class=None if status is Status.OK else "connect",
            )
        )
        for check in CHECKS:
            details: dict[str, Any] = {}
            if check.startswith("config:"):
                details = {"source": "db", "completeness": 1.0, "flag": None, "problems": {}, "findings": []}
            elif check.startswith("fallback:"):
                details = {"target": "env", "ready": True, "problems": {}}
            out.append(
                CheckResult(
                    tenant=name,
                    check=check,
                    status=Status.OK,
                    summary="ok",
                    details=details,
                    timestamp=at - timedelta(seconds=5),
                    duration_s=0.05,
                )
            )
    return out


class LoopLagProbe:
    """The longest stretch the running loop could not run a callback: a ``call_later`` chain records the
    largest gap between consecutive ticks, less the tick interval."""

    def __init__(self, interval_s: float = PROBE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.worst_s = 0.0
        self._last = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.worst_s = 0.0
        self._last = time.perf_counter()
        self._handle = asyncio.get_running_loop().call_later(self.interval_s, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst_s = max(self.worst_s, now - self._last - self.interval_s)
        self._last = now
        self._handle = asyncio.get_running_loop().call_later(self.interval_s, self._tick)

    def stop(self) -> float:
        """Stop ticking; the longest block seen, in ms."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._tick_final()
        return self.worst_s * 1000

    def _tick_final(self) -> None:
        self.worst_s = max(self.worst_s, time.perf_counter() - self._last - self.interval_s)


@dataclass
class Timings:
    """Worst times seen, in ms: the probe's longest block and the parts it is made of."""

    block_ms: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    def part(self, label: str, ms: float) -> None:
        self.parts[label] = max(self.parts.get(label, 0.0), ms)


def _timed(timings: Timings, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings.part(label, (time.perf_counter() - started) * 1000)

    return wrapper


async def _refresh_once(app: Any, pilot: Any, batch: list[CheckResult], probe: LoopLagProbe) -> float:
    """Post ``batch`` from another thread, fire the overview's refresh tick, wait until the rows are applied
    and painted; the longest block in ms."""
    screen = app.screen
    last = batch[-1]
    probe.start()
    poster = threading.Thread(target=app.post_results, args=(batch, []))
    poster.start()
    while app.latest.get(last.key) is not last:
        await asyncio.sleep(0.001)
    poster.join()
    screen._tick()
    await app.workers.wait_for_complete()
    await pilot.pause()
    deadline = time.monotonic() + 10
    while getattr(screen, "pending_rows", 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    await pilot.pause()
    await asyncio.sleep(0.05)
    return probe.stop()


async def measure(tenants: int, rounds: int, size: tuple[int, int]) -> Timings:
    """Worst event-loop block over ``rounds`` all-rows-changed refreshes (half of them also reorder)."""
    from opsdash.screens.app import OpsdashApp

    names = tenant_names(tenants)
    timings = Timings()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_fleet(Path(tmp), [TenantFiles(n, f"mongodb://127.0.0.1:1/{n}") for n in names])
        fleet = load_fleet(path)
        store = ResultStore(Path(tmp) / "s.sqlite3")
        store.record(results_for(names, 10))
        app = OpsdashApp(fleet, store, clock=lambda: NOW + timedelta(seconds=30), refresh_s=3600)
        async with app.run_test(size=size) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            screen.apply_rendering = _timed(timings, "apply diff", screen.apply_rendering)
            screen._compositor_refresh = _timed(timings, "compositor refresh", screen._compositor_refresh)
            screen._refresh_layout = _timed(timings, "layout refresh", screen._refresh_layout)
            app.absorb = _timed(timings, "absorb results", app.absorb)
            probe = LoopLagProbe()
            for r in range(rounds):
                reorder = (3 + r % 2) if r % 2 else 0
                batch = results_for(names, 20 + r * 10, bad_every=reorder, at=NOW + timedelta(seconds=r + 1))
                block = await _refresh_once(app, pilot, batch, probe)
                del batch
                timings.block_ms = max(timings.block_ms, block)
                first = screen._rendered.get(names[1])
                assert first is not None and any(f"{21 + r * 10}ms" in c for c in first), first
        store.close()
    return timings


def measure_refresh_block_ms(n: int = 1000, size: tuple[int, int] = (80, 24), rounds: int = 4) -> float:
    """The longest single event-loop block, in ms, during all-rows-changed refreshes of an n-row table."""
    return asyncio.run(measure(n, rounds, size)).block_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    for size in SIZES:
        timings = asyncio.run(measure(args.tenants, args.rounds, size))
        where = f"{args.tenants} tenants {size[0]}x{size[1]}"
        label = "longest event-loop block during a refresh"
        print(f"{where}  {label:<47} {timings.block_ms:7.1f} ms  (target <= 50)")
        for label, ms in timings.parts.items():
            print(f"{where}    worst single {label:<32} {ms:7.1f} ms")


if __name__ == "__main__":
    main()
