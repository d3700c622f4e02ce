"""Blocking calls that never return (env files on a hung mount, DNS lookups a resolver drops) must not
starve the other tenants' database checks: the engine's loop has a thread for every run it allows."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

from opsdash.checks.base import CheckResult, Status
from opsdash.config import envsource
from opsdash.engine.engine_thread import EngineThread
from opsdash.engine.store import ResultStore, Transition
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.engine.fakes import make_fleet

STUCK = [f"stuck{i}" for i in range(8)]
"""More tenants with a hung env file than asyncio's default executor has threads on a small machine."""
HEALTHY = ["ok0", "ok1"]


def release(fifos: list[Path]) -> None:
    """Let every read blocked on these FIFOs finish (end of file)."""
    for fifo in fifos:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_tenants_whose_env_reads_hang_do_not_starve_the_others(tmp_path: Path, mongo_url: str) -> None:
    prefix = tmp_path.name[-16:]
    urls = {}
    for name in [*STUCK, *HEALTHY]:
        seed_company(mongo_url, f"{prefix}_{name}", healthy_company())
        urls[name] = database_url(mongo_url, f"{prefix}_{name}")
    fleet = make_fleet(
        tmp_path, [*STUCK, *HEALTHY],
        poll={"db_interval": 5, "db_timeout": 3, "config_interval": 600, "integration_interval": 600},
        urls=urls,
        tenant_poll={name: {"db_interval": 600} for name in STUCK},
    )
    fifos = []
    for name in STUCK:
        env_file = tmp_path / "env" / f"{name}.env"
        env_file.unlink()
        os.mkfifo(env_file)
        fifos.append(env_file)

    healthy_db: dict[str, CheckResult] = {}
    seen = threading.Condition()

    def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
        with seen:
            healthy_db.update((r.tenant, r) for r in results if r.check == "db" and r.tenant in HEALTHY)
            seen.notify_all()

    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
        engine_thread = EngineThread(fleet, store, on_results, jitter=False)
        engine_thread.start()
        try:
            with seen:
                assert seen.wait_for(lambda: set(healthy_db) == set(HEALTHY), timeout=30)
        finally:
            release(fifos)
            engine_thread.stop()

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
    prefix = tmp_path.name[-16:]
    names = ["stuck0", "stuck1"]
    urls = {}
    for name in names:
        seed_company(mongo_url, f"{prefix}_{name}", healthy_company())
        urls[name] = database_url(mongo_url, f"{prefix}_{name}")
    fleet = make_fleet(
        tmp_path, names,
        poll={"db_interval": 0.5, "db_timeout": 5, "config_interval": 0.5, "integration_interval": 0.5,
              "integration_timeout": 5},
        urls=urls,
    )
    fifos = []
    for name in names:
        env_file = tmp_path / "env" / f"{name}.env"
        env_file.unlink()
        os.mkfifo(env_file)
        fifos.append(env_file)

    runs: list[CheckResult] = []
    seen = threading.Condition()

    def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
        with seen:
            runs.extend(r for r in results if r.check == "db")
            seen.notify_all()

    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
        engine_thread = EngineThread(fleet, store, on_results, jitter=False)
        engine_thread.start()
        try:
            with seen:
                assert seen.wait_for(lambda: len(runs) >= 3 * len(names), timeout=30)
            most = threads_reading_env_files()
        finally:
            release(fifos)
            engine_thread.stop()
        deadline = time.monotonic() + 10
        while threads_reading_env_files() and time.monotonic() < deadline:
            release(fifos)
            time.sleep(0.05)

    assert {(r.status, r.error_class) for r in runs} == {(Status.CRIT, "timeout")}
    assert most == len(names)
