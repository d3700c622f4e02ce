"""Blocking calls that never return (env files on a hung mount, DNS lookups a resolver drops) must not
starve the other tenants' database checks: the engine's loop has a thread for every run it allows."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.config import envsource
from opsdash.config.fleet import Fleet
from opsdash.engine.engine_thread import EngineThread
from opsdash.engine.loop import run_bounded
from opsdash.engine.store import ResultStore, Transition
from opsdash.headless.check import one_pass
from tests.engine.fakes import seeded_fleet

STUCK = [f"stuck{i}" for i in range(8)]
"""More tenants with a hung env file than asyncio's default executor has threads on a small machine."""
HEALTHY = ["ok0", "ok1"]


def hang_env_files(directory: Path, names: list[str]) -> list[Path]:
    """Replace these tenants' env files (already loaded with the fleet) by FIFOs: a read blocks."""
    fifos = []
    for name in names:
        env_file = directory / "env" / f"{name}.env"
        env_file.unlink()
        os.mkfifo(env_file)
        fifos.append(env_file)
    return fifos


class DbResults:
    """An on_results callback keeping every db result; the test thread waits on a condition."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []
        self._changed = threading.Condition()

    def __call__(self, results: list[CheckResult], transitions: list[Transition]) -> None:
        with self._changed:
            self.results.extend(r for r in results if r.check == "db")
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[CheckResult]], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.results), timeout=30)


@contextlib.contextmanager
def engine_running(fleet: Fleet, directory: Path, collector: DbResults, fifos: list[Path]) -> Iterator[None]:
    """The engine in its thread, as the dashboard runs it; once it has stopped (no read can start any
    more), every read still blocked on a FIFO is released."""
    with ResultStore(directory / "state" / "opsdash.sqlite3") as store:
        engine_thread = EngineThread(fleet, store, collector, jitter=False)
        engine_thread.start()
        try:
            yield
        finally:
            try:
                engine_thread.stop()
            finally:
                release(fifos)


def release(fifos: list[Path]) -> None:
    """Let every read blocked on these FIFOs finish (end of file)."""
    for fifo in fifos:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_tenants_whose_env_reads_hang_do_not_starve_the_others(tmp_path: Path, mongo_url: str) -> None:
    fleet = seeded_fleet(
        tmp_path, mongo_url, [*STUCK, *HEALTHY],
        poll={"db_interval": 5, "db_timeout": 3, "config_interval": 600, "integration_interval": 600},
        tenant_poll={name: {"db_interval": 600} for name in STUCK},
    )
    fifos = hang_env_files(tmp_path, STUCK)

    collector = DbResults()
    with engine_running(fleet, tmp_path, collector, fifos):
        collector.wait_for(lambda results: {r.tenant for r in results} >= set(HEALTHY))

    healthy_db = {r.tenant: r for r in collector.results if r.tenant in HEALTHY}
    assert {name: (r.status, r.error_class) for name, r in healthy_db.items()} == dict.fromkeys(
        HEALTHY, (Status.OK, None)
    ), {name: r.summary for name, r in healthy_db.items()}


def threads_reading_env_files() -> int:
    """Threads whose stack is inside an env file read right now."""
    return sum(
        1
        for frame in sys._current_frames().values()
        if any(f.f_code.co_filename == envsource.__file__ for f in _stack(frame))
    )


def _stack(frame: object) -> list[object]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[attr-defined]
    return frames


def test_a_hung_env_file_holds_one_thread_however_often_its_checks_run(
    tmp_path: Path, mongo_url: str
) -> None:
    names = ["stuck0", "stuck1"]
    fleet = seeded_fleet(
        tmp_path, mongo_url, names,
        poll={"db_interval": 0.5, "db_timeout": 5, "config_interval": 0.5, "integration_interval": 0.5,
              "integration_timeout": 5},
    )
    fifos = hang_env_files(tmp_path, names)

    collector = DbResults()
    with engine_running(fleet, tmp_path, collector, fifos):
        collector.wait_for(lambda results: len(results) >= 3 * len(names))
        most = threads_reading_env_files()

    runs = collector.results
    assert {(r.status, r.error_class) for r in runs} == {(Status.CRIT, "timeout")}
    assert most == len(names)


@contextlib.contextmanager
def stats_hang(paths: list[Path]) -> Iterator[None]:
    """``stat`` of these files blocks, as on a hung mount (a FIFO's stat does not), until the block ends;
    opsdash stats an env file through ``envsource.file_stamp``. The fleet must be loaded before."""
    released = threading.Event()
    real_stamp = envsource.file_stamp

    def hanging_stamp(path: os.PathLike[str] | str) -> envsource.FileStamp | None:
        if Path(path) in paths:
            released.wait()
        return real_stamp(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envsource, "file_stamp", hanging_stamp)
        try:
            yield
        finally:
            released.set()


def test_a_pass_whose_env_file_stat_hangs_still_checks_the_others_and_ends(
    tmp_path: Path, mongo_url: str
) -> None:
    names = ["ok0", "stuck0", "ok1", "ok2"]
    fleet = seeded_fleet(tmp_path, mongo_url, names, poll={"db_timeout": 2})
    outcome: list[list[CheckResult]] = []
    with stats_hang([tmp_path / "env" / "stuck0.env"]):
        passing = threading.Thread(
            target=lambda: outcome.append(run_bounded(one_pass(fleet, names, ["db", "config"]))), daemon=True
        )
        passing.start()
        passing.join(timeout=60)
        assert not passing.is_alive(), "the pass never ended: a stat blocked its event loop"
    db = {r.tenant: (r.status, r.error_class) for r in outcome[0] if r.check == "db"}
    assert db == {"ok0": (Status.OK, None), "stuck0": (Status.CRIT, "timeout"), "ok1": (Status.OK, None),
                  "ok2": (Status.OK, None)}


def test_a_scheduled_run_whose_env_file_stat_hangs_does_not_stop_the_other_tenants_or_the_engine(
    tmp_path: Path, mongo_url: str
) -> None:
    names = ["ok0", "stuck0"]
    fleet = seeded_fleet(
        tmp_path, mongo_url, names,
        poll={"db_interval": 0.5, "db_timeout": 2, "config_interval": 600, "integration_interval": 600},
    )

    def scheduled_runs_seen(results: list[CheckResult]) -> bool:
        by_tenant = [r.tenant for r in results]
        return by_tenant.count("stuck0") >= 2 and by_tenant.count("ok0") >= 6

    collector = DbResults()
    with stats_hang([tmp_path / "env" / "stuck0.env"]), engine_running(fleet, tmp_path, collector, []):
        collector.wait_for(scheduled_runs_seen)

    outcomes = {(r.tenant, r.status, r.error_class) for r in collector.results}
    assert outcomes == {("ok0", Status.OK, None), ("stuck0", Status.CRIT, "timeout")}
