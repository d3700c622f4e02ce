"""A results store that refuses a batch (here: its file locked by another process past its busy timeout,
as a full disk or a broken file would refuse it) never costs the batch its place on the screen and in
the alerts: ``on_results`` still gets every result, the log says so once, and the results are recorded
once the store takes them again (or reported lost when the engine stops first)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.engine import scheduler
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore, Transition
from tests.engine.fakes import seeded_fleet

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


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


async def test_passes_the_store_refuses_are_delivered_and_recorded_once_it_takes_them_again(
    tmp_path: Path, mongo_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "RECORD_RETRY_S", 0.0)
    fleet = seeded_fleet(tmp_path, mongo_url, NAMES)
    delivered = Delivered()
    with ResultStore(tmp_path / "opsdash.sqlite3", busy_timeout_s=0.2) as store:
        engine = Engine(fleet, store=store, on_results=delivered, jitter=False)
        try:
            refusal_before = engine.store_refusal
            with caplog.at_level(logging.WARNING, logger=scheduler.__name__), locked(store.path):
                refused = await engine.run_once(groups=["db"]) + await engine.run_once(groups=["db"])
            refusals = messages(caplog)
            refusal_while_locked = engine.store_refusal
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger=scheduler.__name__):
                await engine.run_once(groups=["db"])
            refusal_after = engine.store_refusal
        finally:
            await engine.stop()
        history = {name: store.history(name, "db") for name in NAMES}
    first_two = [(len(results), transitions) for results, transitions in delivered.batches[:2]]
    assert first_two == [(2, []), (2, [])]
    assert {(r.tenant, r.status) for r in refused} == {("acme", Status.OK), ("beta", Status.OK)}
    assert len(refusals) == 1
    assert refusals[0].startswith(
        f"the results store {store.path} refused 2 results (OperationalError: database is locked)"
    )
    assert messages(caplog) == [
        f"the results store {store.path} records again: 4 results it refused are recorded now"
    ]
    assert {name: len(rows) for name, rows in history.items()} == {"acme": 3, "beta": 3}
    assert (refusal_before, refusal_while_locked, refusal_after) == (
        None, "OperationalError: database is locked", None
    )


async def test_what_the_store_still_refuses_when_the_engine_stops_is_reported_lost(
    tmp_path: Path, mongo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = seeded_fleet(tmp_path, mongo_url, NAMES)
    with ResultStore(tmp_path / "opsdash.sqlite3", busy_timeout_s=0.2) as store, locked(store.path):
        engine = Engine(fleet, store=store, jitter=False)
        with caplog.at_level(logging.WARNING, logger=scheduler.__name__):
            try:
                results = await engine.run_once(groups=["db"])
            finally:
                await engine.stop()
    assert len(results) == 2
    assert messages(caplog)[-1] == f"the results store {store.path} refused 2 results; they are not kept"


async def test_the_scheduled_engine_delivers_what_a_locked_store_refuses(
    tmp_path: Path, mongo_url: str
) -> None:
    """The store keeps its own 10 s wait for a write lock; the scheduled engine's batches and its prune
    wait ``FLUSH_BUSY_TIMEOUT_S``, and every result still reaches ``on_results``."""
    fleet = seeded_fleet(
        tmp_path, mongo_url, NAMES,
        poll={"db_interval": 0.5, "db_timeout": 2, "config_interval": 600, "integration_interval": 600},
    )
    delivered = Delivered()

    def db_results() -> list[CheckResult]:
        return [r for results, _ in delivered.batches for r in results if r.check == "db"]

    with ResultStore(tmp_path / "opsdash.sqlite3") as store, locked(store.path):
        engine = Engine(fleet, store=store, on_results=delivered, jitter=False)
        await engine.start()
        try:
            while not all(sum(r.tenant == name for r in db_results()) >= 3 for name in NAMES):
                delivered.arrived.clear()
                await asyncio.wait_for(delivered.arrived.wait(), timeout=60)
        finally:
            await engine.stop(grace=5)
    assert {(r.tenant, r.status, r.error_class) for r in db_results()} == {
        ("acme", Status.OK, None), ("beta", Status.OK, None)
    }
