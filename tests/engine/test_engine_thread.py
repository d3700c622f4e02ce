"""EngineThread: the engine on its own loop in a daemon thread, as the TUI uses it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult
from opsdash.engine.engine_thread import EngineThread
from opsdash.engine.store import ResultStore, Transition
from tests.engine.fakes import FakeRunner, make_fleet

LONG = {"db_interval": 600, "config_interval": 600, "integration_interval": 600}


class ThreadCollector:
    """Remembers batches and the thread each callback ran on; main-thread code waits on conditions."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.batches: list[list[CheckResult]] = []
        self.threads: set[int] = set()

    def __call__(self, results: list[CheckResult], transitions: list[Transition]) -> None:
        with self.cond:
            self.batches.append(results)
            self.threads.add(threading.get_ident())
            self.cond.notify_all()

    def seen(self) -> set[tuple[str, str]]:
        with self.cond:
            return {r.key for batch in self.batches for r in batch}

    def wait_for_key(self, key: tuple[str, str], timeout: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: key in {r.key for b in self.batches for r in b}, timeout), key


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


def test_start_returns_running_and_callbacks_run_on_the_engine_thread(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a", "b"], poll=LONG)
    collector = ThreadCollector()
    engine_thread = EngineThread(fleet, store, collector, runner=FakeRunner())  # type: ignore[arg-type]
    engine_thread.start()
    try:
        assert engine_thread.alive
        assert engine_thread.engine is not None and engine_thread.engine.running
        assert {(j.tenant, j.group) for j in engine_thread.jobs()} >= {("a", "db"), ("b", "integrations")}
        engine_thread.start()
        collector.wait_for_key(("a", "db"))
        assert ("b", "whatsapp") not in collector.seen()
        engine_thread.check_now("b")
        collector.wait_for_key(("b", "whatsapp"))
        assert collector.threads and threading.get_ident() not in collector.threads
        assert store.latest_one("b", "whatsapp") is not None
        results = engine_thread.run_once(["a"], ["config"]).result(timeout=10)
        assert {r.check for r in results} == {"config:whatsapp", "config:email", "isolation"}
    finally:
        engine_thread.stop()
    assert not engine_thread.alive
    assert engine_thread.engine is None
    engine_thread.stop()
    with pytest.raises(RuntimeError, match="not running"):
        engine_thread.check_now()


def test_stop_before_start_is_a_no_op_and_a_thread_can_start_again(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a"], poll=LONG)
    collector = ThreadCollector()
    engine_thread = EngineThread(fleet, store, collector, runner=FakeRunner())  # type: ignore[arg-type]
    engine_thread.stop()
    engine_thread.start()
    engine_thread.stop()
    engine_thread.start()
    try:
        engine_thread.check_now("a")
        collector.wait_for_key(("a", "config:email"))
    finally:
        engine_thread.stop()
    assert not [t for t in threading.enumerate() if t.name == "opsdash-engine"]
