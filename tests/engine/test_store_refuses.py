"""A results store that refuses a batch (here: its file locked by another process past its busy timeout,
as a full disk or a broken file would refuse it) costs the batch its history, never its place on the
screen and in the alerts: ``on_results`` still gets every result, and the log says so once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore, Transition
from tests.engine.fakes import make_fleet, seeded_urls

NAMES = ["acme", "beta"]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds the store file's write lock for the duration."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


class Delivered:
    """``on_results``: every batch, and an event per batch for the scheduled engine."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[CheckResult], list[Transition]]] = []
        self.arrived = asyncio.Event()

    def __call__(self, results: list[CheckResult], transitions: list[Transition]) -> None:
        self.batches.append((list(results), list(transitions)))
        self.arrived.set()


async def test_a_pass_the_store_refuses_is_still_delivered_and_the_store_catches_up(
    tmp_path: Path, mongo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = make_fleet(tmp_path, NAMES, urls=seeded_urls(mongo_url, NAMES, tmp_path.name[-16:]))
    delivered = Delivered()
    with ResultStore(tmp_path / "opsdash.sqlite3", busy_timeout_s=0.2) as store:
        engine = Engine(fleet, store=store, on_results=delivered, jitter=False)
        try:
            with caplog.at_level(logging.WARNING, logger="opsdash.engine.scheduler"), locked(store.path):
                refused = await engine.run_once(groups=["db"])
                again = await engine.run_once(groups=["db"])
            refusals = [r.getMessage() for r in caplog.records]
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="opsdash.engine.scheduler"):
                await engine.run_once(groups=["db"])
        finally:
            await engine.stop()
        kept = {(r.tenant, r.check) for r in store.latest()}
    first_two = [(len(results), transitions) for results, transitions in delivered.batches[:2]]
    assert first_two == [(2, []), (2, [])]
    assert {(r.tenant, r.status) for r in refused + again} == {("acme", Status.OK), ("beta", Status.OK)}
    assert len(refusals) == 1
    assert refusals[0].startswith(
        f"the results store {store.path} did not record 2 results (OperationalError: database is locked)"
    )
    assert [r.getMessage() for r in caplog.records] == [
        f"the results store {store.path} records again; 4 results were not kept"
    ]
    assert kept == {("acme", "db"), ("beta", "db")}
    assert len(delivered.batches[2][1]) == 2


async def test_the_scheduled_engine_delivers_what_a_locked_store_refuses(
    tmp_path: Path, mongo_url: str
) -> None:
    fleet = make_fleet(
        tmp_path, NAMES, urls=seeded_urls(mongo_url, NAMES, tmp_path.name[-16:]),
        poll={"db_interval": 600, "config_interval": 600, "integration_interval": 600},
    )
    delivered = Delivered()
    with ResultStore(tmp_path / "opsdash.sqlite3", busy_timeout_s=0.2) as store, locked(store.path):
        engine = Engine(fleet, store=store, on_results=delivered, jitter=False)
        await engine.start()
        try:
            while not {("acme", "db"), ("beta", "db")} <= {
                (r.tenant, r.check) for results, _ in delivered.batches for r in results
            }:
                delivered.arrived.clear()
                await asyncio.wait_for(delivered.arrived.wait(), timeout=30)
        finally:
            await engine.stop(grace=5)
    db = {r.tenant: r.status for results, _ in delivered.batches for r in results if r.check == "db"}
    assert db == {"acme": Status.OK, "beta": Status.OK}
