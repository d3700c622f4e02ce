"""A cluster slow to list its databases' sizes does not hold up a pass: each tenant's db check ends once
its own reads are in, and the pass adds the size before it records or hands anything on (SecantusDB, with
``listDatabases`` held back by a failpoint)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.config.fleet import Fleet
from opsdash.engine.mongo import MongoClients
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.engine.fakes import make_fleet

HELD_MS = 1_500
NAMES = ["a", "b", "c"]


class Order(monitoring.CommandListener):
    """What the server was sent and answered, in order: ("sent", "find", "<database>"),
    ("answered", "listDatabases", "admin")."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.events.append(("sent", event.command_name, event.database_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.events.append(("answered", event.command_name, event.database_name))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.events.append(("failed", event.command_name, event.database_name))

    def index(self, kind: str, command: str, database: str | None = None) -> int:
        return next(
            i for i, (k, c, d) in enumerate(self.events)
            if k == kind and c == command and (database is None or d == database)
        )

    def assert_every_tenant_read_before_the_sizes(self, fleet: Fleet) -> None:
        sizes_in = self.index("answered", "listDatabases")
        for tenant in fleet.tenants:
            assert self.index("sent", "find", tenant.mongo.database) < sizes_in, self.events


class HandedOn:
    """An ``on_results`` callback that keeps every result handed on and sets ``enough`` once
    ``is_enough`` holds for them."""

    def __init__(self, is_enough: Callable[[list[CheckResult]], bool]) -> None:
        self.results: list[CheckResult] = []
        self.enough = asyncio.Event()
        self._is_enough = is_enough

    def __call__(self, results: list[CheckResult], _transitions: object) -> None:
        self.results.extend(results)
        if self._is_enough(self.results):
            self.enough.set()


@asynccontextmanager
async def first_sweep_until_enough(
    fleet: Fleet, ctx: CheckContext, store: ResultStore, handed_on: HandedOn, **options: Any
) -> AsyncIterator[Engine]:
    """A started engine, once ``handed_on`` has enough; stopped (and ``ctx`` closed) on the way out."""
    engine = Engine(fleet, store=store, ctx=ctx, jitter=False, on_results=handed_on, **options)
    await engine.start()
    try:
        await asyncio.wait_for(handed_on.enough.wait(), 30)
        yield engine
    finally:
        await engine.stop()
        await ctx.aclose()


@pytest.fixture
def app_name() -> str:
    return f"opsdash-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def slow_sizes(mongo_url: str, app_name: str) -> Iterator[None]:
    """This test's clients wait ``HELD_MS`` for every ``listDatabases`` answer."""
    admin: MongoClient[dict[str, object]] = MongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    admin.admin.command({
        "configureFailPoint": "failCommand", "mode": "alwaysOn",
        "data": {"appName": app_name, "failCommands": ["listDatabases"], "blockConnection": True,
                 "blockTimeMS": HELD_MS},
    })
    yield
    admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    admin.close()


def one_at_a_time_fleet(tmp_path: Path, mongo_url: str) -> Fleet:
    urls = {}
    for name in NAMES:
        database = f"sizes_{tmp_path.name[-12:]}_{name}"
        seed_company(mongo_url, database, healthy_company(fullName=name))
        urls[name] = database_url(mongo_url, database)
    long = {"db_interval": 600, "config_interval": 600, "integration_interval": 600}
    return make_fleet(tmp_path, NAMES, urls=urls, poll={**long, "max_concurrency": 1, "db_timeout": 10})


def watched_ctx(fleet: Fleet, app_name: str) -> tuple[CheckContext, Order]:
    ctx = CheckContext.create(fleet)
    order = Order()
    ctx.clients = MongoClients(timeout_s=10, event_listeners=[order], app_name=app_name)
    return ctx, order


def assert_every_tenant_has_its_size(db_results: list[CheckResult]) -> None:
    assert sorted(r.tenant for r in db_results) == NAMES
    for result in db_results:
        assert result.status == Status.OK, result.summary
        assert result.details["size_on_disk"] > 0, result.details
        assert "size_unknown" not in result.details
        assert "? on disk" not in result.summary


@pytest.mark.usefixtures("slow_sizes")
async def test_a_pass_goes_on_to_the_next_tenants_while_the_cluster_lists_its_sizes(
    tmp_path: Path, mongo_url: str, app_name: str
) -> None:
    """One tenant at a time: the second and third tenants are read before the sizes come in, and every
    db result the pass returns and records has its size."""
    fleet = one_at_a_time_fleet(tmp_path, mongo_url)
    ctx, order = watched_ctx(fleet, app_name)
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
        engine = Engine(fleet, store=store, ctx=ctx, jitter=False)
        try:
            results = await engine.run_once(groups=["db", "config"])
        finally:
            await engine.stop()
            await ctx.aclose()
        recorded = [r for r in store.latest() if r.check == "db"]
    order.assert_every_tenant_read_before_the_sizes(fleet)
    assert_every_tenant_has_its_size([r for r in results if r.check == "db"])
    assert_every_tenant_has_its_size(recorded)
    assert len([r for r in results if r.check == "db"]) == len(NAMES)


@pytest.mark.usefixtures("slow_sizes")
async def test_the_first_sweep_hands_on_each_db_result_once_with_its_size(
    tmp_path: Path, mongo_url: str, app_name: str
) -> None:
    fleet = one_at_a_time_fleet(tmp_path, mongo_url)
    ctx, order = watched_ctx(fleet, app_name)
    handed_on = HandedOn(lambda results: len([r for r in results if r.check == "db"]) >= len(NAMES))
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
        async with first_sweep_until_enough(fleet, ctx, store, handed_on):
            pass
    order.assert_every_tenant_read_before_the_sizes(fleet)
    first_config = min(i for i, r in enumerate(handed_on.results) if r.check.startswith("config:"))
    first_db = min(i for i, r in enumerate(handed_on.results) if r.check == "db")
    assert first_config < first_db, "config results waited for the sizes"
    assert_every_tenant_has_its_size([r for r in handed_on.results if r.check == "db"])


@pytest.mark.usefixtures("slow_sizes")
async def test_an_engine_stopped_while_the_sizes_are_asked_still_hands_on_every_db_result(
    tmp_path: Path, mongo_url: str, app_name: str
) -> None:
    """Stopped once every tenant's config results are in, while the db checks' rests still wait for the
    sizes: the stop waits for them, and nothing the sweep found is lost."""
    fleet = one_at_a_time_fleet(tmp_path, mongo_url)
    ctx, order = watched_ctx(fleet, app_name)
    handed_on = HandedOn(
        lambda results: {r.tenant for r in results if r.check == "config:business"} == set(NAMES)
    )
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
        async with first_sweep_until_enough(fleet, ctx, store, handed_on, publish_every_s=0.01):
            sizes_answers = [e for e in order.events if e[:2] == ("answered", "listDatabases")]
            assert not sizes_answers, "the sizes came in before the stop"
        recorded = [r for r in store.latest() if r.check == "db"]
    assert_every_tenant_has_its_size([r for r in handed_on.results if r.check == "db"])
    assert_every_tenant_has_its_size(recorded)
