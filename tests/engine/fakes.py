"""A fake check runner (same functions as opsdash.checks.runner) and fleet helpers for engine tests."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsdash.checks.base import CheckResult, ErrorClass, Status
from opsdash.checks.context import CheckContext, CheckGroup
from opsdash.config.fleet import Fleet, Tenant, load_fleet
from opsdash.engine import pass_cache
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company

CHECK_IDS: dict[str, tuple[str, ...]] = {
    "db": ("db",),
    "config": ("config:whatsapp", "config:email"),
    "integrations": ("whatsapp",),
}
_pokes: set[asyncio.Task[None]] = set()
Outcome = tuple[Status, ErrorClass | None]
Behaviour = Callable[[Tenant, CheckGroup], Awaitable[Outcome]]


async def healthy(tenant: Tenant, group: CheckGroup) -> Outcome:
    return Status.OK, None


@dataclass
class Run:
    tenant: str
    group: str
    started: float
    ended: float | None = None
    pass_id: int | None = None
    """``id`` of the pass (``pass_cache``) the run read in, None outside one."""


def _pass_id() -> int | None:
    current = pass_cache.current()
    return None if current is None else id(current)


@dataclass
class FakeRunner:
    """Records every run; ``behaviour`` decides each run's outcome (and may block on events)."""

    behaviour: Behaviour = healthy
    runs: list[Run] = field(default_factory=list)
    running: int = 0
    max_running: int = 0
    running_per_key: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    max_running_per_key: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    running_per_lane: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    max_running_per_lane: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Runs at once per concurrency lane: "probes" (integrations) and "reads" (the other groups)."""
    fleet_runs: int = 0
    fleet_passes: list[int | None] = field(default_factory=list)
    """The pass each fleet run read in (``Run.pass_id``)."""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def poke(self) -> None:
        """Re-check waiters from synchronous code on the loop (e.g. an on_results callback)."""
        task = asyncio.get_running_loop().create_task(self._notify())
        _pokes.add(task)
        task.add_done_callback(_pokes.discard)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (with a deadline) until ``predicate`` holds; re-checked on every runner event."""
        async with asyncio.timeout(timeout):
            async with self.changed:
                await self.changed.wait_for(predicate)

    def starts(self, tenant: str, group: str) -> list[float]:
        return [r.started for r in self.runs if r.tenant == tenant and r.group == group]

    def finished(self, tenant: str, group: str) -> int:
        return sum(1 for r in self.runs if r.tenant == tenant and r.group == group and r.ended is not None)

    async def run_group(
        self, ctx: CheckContext, tenant: Tenant, group: CheckGroup, deadline_s: float
    ) -> list[CheckResult]:
        key = (tenant.name, group)
        run = Run(tenant.name, group, time.monotonic(), pass_id=_pass_id())
        self.runs.append(run)
        self.running += 1
        self.running_per_key[key] += 1
        self.max_running = max(self.max_running, self.running)
        self.max_running_per_key[key] = max(self.max_running_per_key[key], self.running_per_key[key])
        lane = "probes" if group == "integrations" else "reads"
        self.running_per_lane[lane] += 1
        self.max_running_per_lane[lane] = max(self.max_running_per_lane[lane], self.running_per_lane[lane])
        await self._notify()
        try:
            status, error_class = await self.behaviour(tenant, group)
        finally:
            self.running -= 1
            self.running_per_key[key] -= 1
            self.running_per_lane[lane] -= 1
            run.ended = time.monotonic()
            await asyncio.shield(self._notify())
        return [
            CheckResult(tenant=tenant.name, check=check, status=status, summary=f"{check} {status}",
                        error_class=error_class, source="db")
            for check in CHECK_IDS[group]
        ]

    async def run_fleet(self, ctx: CheckContext, deadline_s: float) -> list[CheckResult]:
        self.fleet_runs += 1
        self.fleet_passes.append(_pass_id())
        await self._notify()
        return [
            CheckResult(tenant=t.name, check="isolation", status=Status.OK, summary="isolated")
            for t in ctx.fleet.tenants
        ]

    def group_check_ids(self, fleet: Fleet, group: CheckGroup) -> tuple[str, ...]:
        return CHECK_IDS[group]

    def timeout_results(
        self, tenant: Tenant, fleet: Fleet, group: CheckGroup, deadline_s: float, started: datetime,
        *, ctx: CheckContext | None = None,
    ) -> list[CheckResult]:
        now = datetime.now(UTC)
        return [
            CheckResult(tenant=tenant.name, check=check, status=Status.CRIT, error_class="timeout",
                        summary=f"no answer within {deadline_s:g}s",
                        duration_s=(now - started).total_seconds(), timestamp=now)
            for check in CHECK_IDS[group]
        ]


def seeded_urls(base_url: str, names: Sequence[str], prefix: str) -> dict[str, str]:
    """A healthy Company in a database of its own (``<prefix>_<name>``) for each tenant; their URLs."""
    urls = {}
    for name in names:
        database = f"{prefix}_{name}"
        seed_company(base_url, database, healthy_company())
        urls[name] = database_url(base_url, database)
    return urls


def make_fleet(
    directory: Path,
    names: Sequence[str],
    *,
    poll: Mapping[str, Any] | None = None,
    urls: Mapping[str, str] | None = None,
    tenant_poll: Mapping[str, Mapping[str, Any]] | None = None,
) -> Fleet:
    """A fleet of tenants with distinct databases (on an unused loopback port unless ``urls`` says)."""
    tenants = [
        TenantFiles(
            name,
            (urls or {}).get(name, f"mongodb://127.0.0.1:9/{name}"),
            extra={"poll": dict(tenant_poll[name])} if tenant_poll and name in tenant_poll else {},
        )
        for name in names
    ]
    tables = {"poll": dict(poll)} if poll else None
    tables = {**(tables or {}), "state": {"dir": "state"}}
    return load_fleet(write_fleet(directory, tenants, tables=tables))


def seeded_fleet(
    directory: Path,
    mongo_url: str,
    names: Sequence[str],
    *,
    poll: Mapping[str, Any] | None = None,
    tenant_poll: Mapping[str, Mapping[str, Any]] | None = None,
) -> Fleet:
    """``make_fleet`` whose every tenant has a healthy Company in a database of its own on ``mongo_url``,
    named after ``directory`` (a test's ``tmp_path``) so that tests sharing a server never share one."""
    urls = seeded_urls(mongo_url, names, directory.name[-16:])
    return make_fleet(directory, names, poll=poll, urls=urls, tenant_poll=tenant_poll)


@dataclass
class Target:
    """A target that refuses (CRIT "connect") until ``answering`` is set; ``behaviour`` for FakeRunner."""

    answering: bool = False

    async def behaviour(self, tenant: Tenant, group: CheckGroup) -> Outcome:
        return (Status.OK, None) if self.answering else (Status.CRIT, "connect")


def wedged_driver_read(started: asyncio.Event) -> Callable[[], Awaitable[object]]:
    """A read that waits until cancelled, then does what the async MongoDB driver does when cancelled in
    the middle of a server selection: raises ``RuntimeError: Lock is not acquired`` from its topology
    lock instead of the cancellation. ``started`` is set once it waits."""

    async def read() -> object:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("Lock is not acquired") from None
        return None

    return read
