"""The engine with the real check runner against real servers: shared clients and a hung tenant database."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pymongo import MongoClient

from opsdash.checks import runner as real_runner
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext, CheckGroup, group_deadline
from opsdash.config.fleet import Fleet, Tenant
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore, Transition
from opsdash.fakes.tcp import HangingListener
from opsdash.testing.mongo_server import SecantusServer, database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.engine.fakes import make_fleet, seeded_urls

BLOCKED_COMMANDS = ["ping", "buildInfo", "dbStats", "find", "count", "aggregate"]


@dataclass
class RecordingRunner:
    """The real runner, with each run's start and end noted (monotonic seconds) for the assertions."""

    runs: list[tuple[str, str, float, float]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run_group(
        self, ctx: CheckContext, tenant: Tenant, group: CheckGroup, deadline_s: float
    ) -> list[CheckResult]:
        started = time.monotonic()
        try:
            return await real_runner.run_group(ctx, tenant, group, deadline_s)
        finally:
            self.runs.append((tenant.name, group, started, time.monotonic()))

    async def run_fleet(self, ctx: CheckContext, deadline_s: float) -> list[CheckResult]:
        return await real_runner.run_fleet(ctx, deadline_s)

    def group_check_ids(self, fleet: Fleet, group: CheckGroup) -> tuple[str, ...]:
        return real_runner.group_check_ids(fleet, group)

    def timeout_results(self, *args: object, **kwargs: object) -> list[CheckResult]:
        return real_runner.timeout_results(*args, **kwargs)  # type: ignore[arg-type]

    def starts(self, tenant: str) -> list[float]:
        return [s for t, g, s, _ in self.runs if t == tenant and g == "db"]


@pytest.fixture
def hanging() -> Iterator[HangingListener]:
    listener = HangingListener()
    listener.start()
    yield listener
    listener.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


async def test_tenants_on_one_cluster_share_one_client(
    tmp_path: Path, store: ResultStore, mongo_url: str, hanging: HangingListener
) -> None:
    names = ["a", "b", "c"]
    urls = seeded_urls(mongo_url, names, tmp_path.name[-20:])
    fleet = make_fleet(tmp_path, names, poll={"db_timeout": 5}, urls=urls)
    engine = Engine(fleet, store=store)
    try:
        results = await engine.run_once(groups=["db", "config"])
        assert len(engine.ctx.clients) == 1
    finally:
        await engine.stop()
    assert {r.tenant: r.status for r in results if r.check == "db"} == dict.fromkeys(names, Status.OK)
    assert {r.key for r in store.latest()} == {r.key for r in results}

    host, port = hanging.address
    urls["hung"] = f"mongodb://{host}:{port}/hung?directConnection=true"
    fleet = make_fleet(tmp_path / "four", [*names, "hung"], poll={"db_timeout": 1}, urls=urls)
    engine = Engine(fleet, store=store)
    try:
        await engine.run_once(groups=["db"])
        assert len(engine.ctx.clients) == 2
    finally:
        await engine.stop()


async def assert_hung_tenant_does_not_blind_the_others(
    tmp_path: Path, store: ResultStore, urls: dict[str, str]
) -> None:
    fleet = make_fleet(
        tmp_path, ["hung", "b", "c"],
        poll={"db_interval": 0.5, "db_timeout": 3, "config_interval": 600, "integration_interval": 600},
        urls=urls,
        tenant_poll={"hung": {"db_interval": 2.5}},
    )
    deadline = group_deadline(fleet.tenant("hung").poll, "db")
    assert deadline == 2.0
    runner = RecordingRunner()
    seen: list[CheckResult] = []
    hung_reported = asyncio.Event()

    def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
        seen.extend(results)
        if any(r.key == ("hung", "db") for r in results):
            hung_reported.set()

    engine = Engine(fleet, store=store, runner=runner, on_results=on_results, jitter=False)  # type: ignore[arg-type]
    await engine.start()
    try:
        await asyncio.wait_for(hung_reported.wait(), 20)
    finally:
        await engine.stop(grace=0)

    hung = next(r for r in seen if r.key == ("hung", "db"))
    assert (hung.status, hung.error_class) == (Status.CRIT, "timeout"), hung.summary
    hung_start, hung_end = next((s, e) for t, g, s, e in runner.runs if t == "hung" and g == "db")
    assert hung_end - hung_start <= deadline * 1.2
    assert store.latest_one("hung", "db") == hung
    for other in ("b", "c"):
        during = [s for s in runner.starts(other) if hung_start <= s <= hung_end]
        assert len(during) >= 3, (other, during)
        assert max(b - a for a, b in itertools.pairwise(during)) < 1.25
        statuses = [r.status for r in seen if r.key == (other, "db")]
        assert statuses and set(statuses) == {Status.OK}


async def test_a_tenant_whose_db_never_answers_does_not_blind_the_others(
    tmp_path: Path, store: ResultStore, mongo_url: str, hanging: HangingListener
) -> None:
    urls = seeded_urls(mongo_url, ["b", "c"], tmp_path.name[-20:])
    host, port = hanging.address
    urls["hung"] = f"mongodb://{host}:{port}/hung?directConnection=true"
    await assert_hung_tenant_does_not_blind_the_others(tmp_path, store, urls)


async def test_a_tenant_whose_db_blocks_every_command_does_not_blind_the_others(
    tmp_path: Path, store: ResultStore, mongo_url: str
) -> None:
    urls = seeded_urls(mongo_url, ["b", "c"], tmp_path.name[-20:])
    with SecantusServer() as own:
        seed_company(own.url, "hung", healthy_company())
        with MongoClient(own.url, serverSelectionTimeoutMS=5000) as admin:
            admin.admin.command(
                "configureFailPoint", "failCommand", mode="alwaysOn",
                data={"failCommands": BLOCKED_COMMANDS, "blockConnection": True, "blockTimeMS": 30_000},
            )
        urls["hung"] = database_url(own.url, "hung")
        await assert_hung_tenant_does_not_blind_the_others(tmp_path, store, urls)


async def test_the_tenants_of_a_cluster_found_unreachable_do_not_each_wait_for_it(
    tmp_path: Path, store: ResultStore, mongo_url: str, hanging: HangingListener
) -> None:
    """Once a read finds a cluster unreachable, one read at a time tries it and its other tenants end at
    once with its error: twelve tenants on a wedged cluster, two slots, a 1 s timeout. Before, each held
    a slot for its whole timeout (12 s of the pass) while the healthy tenants waited behind them."""
    urls = seeded_urls(mongo_url, ["ok1", "ok2"], tmp_path.name[-20:])
    host, port = hanging.address
    dead = [f"dead{i}" for i in range(12)]
    urls.update({name: f"mongodb://{host}:{port}/{name}?directConnection=true" for name in dead})
    fleet = make_fleet(
        tmp_path, [*dead, "ok1", "ok2"], poll={"db_timeout": 1, "max_concurrency": 2}, urls=urls
    )
    runner = RecordingRunner()
    engine = Engine(fleet, store=store, runner=runner, jitter=False)  # type: ignore[arg-type]
    try:
        results = await engine.run_once(groups=["db", "config"])
    finally:
        await engine.stop()
    db = {r.tenant: r for r in results if r.check == "db"}
    assert {name: db[name].status for name in dead} == dict.fromkeys(dead, Status.CRIT)
    assert {db[name].error_class for name in dead} == {"timeout"}
    assert (db["ok1"].status, db["ok2"].status) == (Status.OK, Status.OK)
    waited = [t for t, g, s, e in runner.runs if t in dead and g == "db" and e - s >= 0.5]
    assert len(waited) <= 3, waited
