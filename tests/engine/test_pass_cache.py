"""One pass, one read: within ``Engine.run_once`` each tenant's Company documents are read once, each
cluster is pinged and asked for buildInfo once, and the results are the same as without sharing."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring

from opsdash.checks import runner
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.config import envsource
from opsdash.engine import pass_cache
from opsdash.engine.mongo import COMPANY_READ_LIMIT, MongoClients
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.engine.fakes import make_fleet, wedged_driver_read


class CommandCounter(monitoring.CommandListener):
    """Counts the commands a client sends, by name (what the server sees)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def count_commands(ctx: CheckContext, timeout_s: float = 10, **options: Any) -> CommandCounter:
    """Give ``ctx`` clients whose every command is counted; return the counter."""
    counter = CommandCounter()
    ctx.clients = MongoClients(timeout_s=timeout_s, event_listeners=[counter], **options)
    return counter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


@pytest.mark.parametrize("in_a_pass", [False, True])
async def test_a_read_that_raises_when_cancelled_is_not_reported_as_never_retrieved(
    in_a_pass: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A read its callers no longer wait for is cancelled without being awaited (the db check's own reads
    when it gives up; a pass's leftovers when the engine stops). The async driver, cancelled in the middle
    of a server selection, can end it with an error of its own, which asyncio used to log as "never
    retrieved", with a traceback, once the task was collected."""
    caplog.set_level(logging.DEBUG)
    started = asyncio.Event()
    with pass_cache.sweep() if in_a_pass else contextlib.nullcontext():
        task = pass_cache.shared("company", wedged_driver_read(started))
        await started.wait()
        task.cancel()
        await asyncio.wait([task])
    assert task.done() and not task.cancelled()
    del task
    gc.collect()
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "never retrieved" in m], messages
    assert "a shared read ended with RuntimeError" in messages


async def test_a_read_runs_once_per_pass_and_every_time_outside_one() -> None:
    calls = 0
    gate = asyncio.Event()

    async def read() -> int:
        nonlocal calls
        calls += 1
        mine = calls
        await gate.wait()
        return mine

    async def two_readers() -> list[int]:
        readers = [asyncio.ensure_future(pass_cache.memo("k", read)) for _ in range(2)]
        await asyncio.sleep(0)
        gate.set()
        return list(await asyncio.gather(*readers))

    with pass_cache.sweep():
        assert await two_readers() == [1, 1]
        assert await pass_cache.memo("k", read) == 1
    assert pass_cache.current() is None
    gate.clear()
    assert await two_readers() == [2, 3]


async def test_a_caller_that_gives_up_leaves_the_shared_read_to_the_others() -> None:
    gate = asyncio.Event()

    async def read() -> str:
        await gate.wait()
        return "documents"

    with pass_cache.sweep():
        impatient = asyncio.ensure_future(pass_cache.memo("k", read))
        patient = asyncio.ensure_future(pass_cache.memo("k", read))
        await asyncio.sleep(0)
        impatient.cancel()
        gate.set()
        assert await patient == "documents"
    assert impatient.cancelled()


async def test_a_finished_pass_is_freed_at_once_not_left_to_the_cycle_collector() -> None:
    async def read() -> str:
        return "documents"

    gc.disable()
    try:
        with pass_cache.sweep() as cache:
            assert await pass_cache.memo("k", read) == "documents"
            gone = weakref.ref(cache)
        del cache
        assert gone() is None
    finally:
        gc.enable()


async def test_reads_still_running_after_their_callers_are_kept_for_the_engine_to_wait_for() -> None:
    gate = asyncio.Event()

    async def read() -> str:
        await gate.wait()
        return "late"

    with pass_cache.sweep():
        in_pass = pass_cache.shared("slow", read)
    outside = pass_cache.shared("slow", read)
    assert set(pass_cache.running_reads()) == {in_pass, outside}
    gate.set()
    assert await in_pass == await outside == "late"
    assert pass_cache.running_reads() == []


def seeded_fleet(tmp_path: Path, base_url: str, companies: dict[str, int]) -> Any:
    urls = {}
    for name, count in companies.items():
        database = f"pass_{tmp_path.name[-12:]}_{name}"
        seed_company(base_url, database, *[healthy_company(fullName=f"{name} {i}") for i in range(count)])
        urls[name] = database_url(base_url, database)
    return make_fleet(tmp_path, list(companies), urls=urls, poll={"db_timeout": 10})


async def test_a_db_and_config_pass_reads_each_company_once_and_asks_the_cluster_once(
    tmp_path: Path, store: ResultStore, mongo_url: str
) -> None:
    fleet = seeded_fleet(tmp_path, mongo_url, {"a": 1, "b": 1, "c": 2})
    ctx = CheckContext.create(fleet)
    counter = count_commands(ctx)
    engine = Engine(fleet, store=store, ctx=ctx, jitter=False)
    try:
        results = await engine.run_once(groups=["db", "config"])
    finally:
        await engine.stop()
        await ctx.aclose()
    expected_ids = {
        *runner.group_check_ids(fleet, "db"), *runner.group_check_ids(fleet, "config"), "isolation"
    }
    for name in "abc":
        assert {r.check for r in results if r.tenant == name} == expected_ids
    db = {r.tenant: r for r in results if r.check == "db"}
    assert {t: (r.status, r.details["company_count"]) for t, r in db.items()} == {
        "a": (Status.OK, 1), "b": (Status.OK, 1), "c": (Status.WARN, 2)
    }
    assert all(r.details["latency_ms"] >= 0 and r.details["size_on_disk"] > 0 for r in db.values())
    assert counter.sent["find"] == 3
    assert counter.sent["listDatabases"] == 1
    assert counter.sent["dbStats"] == 0
    assert counter.sent["ping"] == 1
    assert counter.sent["buildInfo"] == 1
    assert counter.sent["aggregate"] == counter.sent["count"] == 0


def cloudinary_source(results: list[CheckResult]) -> str | None:
    """Where tenant a's Cloudinary config came from in these results."""
    return next(r.source for r in results if r.tenant == "a" and r.check == "config:cloudinary")


async def test_a_pass_looks_at_each_env_file_once_and_reads_only_a_file_changed_since_it_was_read(
    tmp_path: Path, store: ResultStore, mongo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load read every env file: a new engine's first pass reads none again, the next only the one
    that changed."""
    fleet = seeded_fleet(tmp_path, mongo_url, {"a": 1, "b": 1})
    looked_at: Counter[str] = Counter()
    read: Counter[str] = Counter()
    real_stamp, real_read = envsource.file_stamp, envsource.DotenvFile.read

    def counting_stamp(path: Any) -> Any:
        looked_at[Path(path).name] += 1
        return real_stamp(path)

    def counting_read(source: envsource.DotenvFile) -> Any:
        read[source.path.name] += 1
        return real_read(source)

    monkeypatch.setattr(envsource, "file_stamp", counting_stamp)
    monkeypatch.setattr(envsource.DotenvFile, "read", counting_read)
    engine = Engine(fleet, store=store, jitter=False)
    try:
        before = cloudinary_source(await engine.run_once(groups=["db", "config"]))
        first_looks, first_reads = dict(looked_at), dict(read)
        env_a = fleet.tenant("a").env_file
        assert env_a is not None
        flipped = "false" if before == "db" else "true"
        env_a.write_text(env_a.read_text() + f"USE_DB_CLOUDINARY={flipped}\n")
        looked_at.clear()
        after = cloudinary_source(await engine.run_once(groups=["db", "config"]))
    finally:
        await engine.stop()
    assert (first_looks, first_reads) == ({"a.env": 1, "b.env": 1}, {})
    assert dict(looked_at) == {"a.env": 1, "b.env": 1}
    assert dict(read) == {"a.env": 1}
    assert {before, after} == {"db", "env"}


async def test_more_company_documents_than_one_read_holds_are_counted_exactly(
    tmp_path: Path, store: ResultStore, mongo_url: str
) -> None:
    fleet = seeded_fleet(tmp_path, mongo_url, {"crowded": COMPANY_READ_LIMIT + 2})
    engine = Engine(fleet, store=store, jitter=False)
    try:
        [db] = [r for r in await engine.run_once(groups=["db"]) if r.check == "db"]
    finally:
        await engine.stop()
    assert (db.status, db.details["company_count"]) == (Status.WARN, COMPANY_READ_LIMIT + 2)


async def test_a_pass_over_one_tenant_asks_its_size_alone_with_dbstats(
    tmp_path: Path, store: ResultStore, mongo_url: str
) -> None:
    fleet = seeded_fleet(tmp_path, mongo_url, {"a": 1, "b": 1, "c": 1})
    ctx = CheckContext.create(fleet)
    counter = count_commands(ctx)
    engine = Engine(fleet, store=store, ctx=ctx, jitter=False)
    try:
        [result] = await engine.run_once(tenants=["b"], groups=["db"])
        whole = await engine.run_once(groups=["db"])
    finally:
        await engine.stop()
        await ctx.aclose()
    assert result.details["size_on_disk"] > 0
    assert all(r.details["size_on_disk"] > 0 for r in whole)
    assert counter.sent["dbStats"] == 1
    assert counter.sent["listDatabases"] == 1
