"""Engine start and stop as an on-call engineer sees them: data within seconds of start, then the normal
pace; a clean stop leaves nothing in the logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsdash.checks.base import Status
from opsdash.checks.context import CheckGroup
from opsdash.config.fleet import Tenant
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from tests.engine.fakes import FakeRunner, Outcome, make_fleet

SLOW = {"db_interval": 600, "config_interval": 600, "integration_interval": 600}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


async def test_every_group_reports_within_seconds_of_start_then_keeps_its_interval(
    tmp_path: Path, store: ResultStore
) -> None:
    names = ["a", "b", "c"]
    fleet = make_fleet(tmp_path, names, poll=SLOW)
    runner = FakeRunner()
    engine = Engine(fleet, store=store, runner=runner, jitter=False)  # type: ignore[arg-type]
    started = datetime.now(UTC)
    await engine.start()
    try:
        await runner.wait_until(
            lambda: all(runner.finished(n, g) >= 1 for n in names for g in ("db", "config", "integrations")),
            timeout=5,
        )
        reported = datetime.now(UTC)
        swept = [engine.job(n, g).next_run for n in names for g in ("db", "config")]
        probes = [engine.job(n, "integrations").next_run for n in names]
    finally:
        await engine.stop()
    assert reported - started < timedelta(seconds=3)
    assert {r.key for r in store.latest()} >= {(n, "whatsapp") for n in names}
    assert all(n is not None and started < n <= reported + timedelta(seconds=600) for n in swept), swept
    assert all(
        n is not None and started + timedelta(seconds=599) <= n <= started + timedelta(seconds=602)
        for n in probes
    ), probes


async def test_a_clean_stop_with_runs_in_flight_and_due_logs_nothing(
    tmp_path: Path, store: ResultStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="apscheduler")
    caplog.set_level(logging.DEBUG, logger="opsdash")
    names = [f"t{i}" for i in range(6)]
    poll = {**SLOW, "db_interval": 50, "db_timeout": 30, "max_concurrency": 1}
    fleet = make_fleet(tmp_path, names, poll=poll)
    never = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        await never.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine = Engine(fleet, store=store, runner=runner, jitter=False)  # type: ignore[arg-type]
    await engine.start()
    await runner.wait_until(lambda: runner.running == 1)
    await engine.stop(grace=0.1)
    await engine.start()
    await engine.stop(grace=0.1)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]
    assert not engine.running and engine.in_flight() == frozenset()
