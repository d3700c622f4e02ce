"""The results store: latest, history, transitions, uptime, retention, restart and thread safety."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.engine.store import ResultStore, Transition, uptime_share
from tests.engine.fakes import make_fleet

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def result(
    status: Status, at: datetime, tenant: str = "acme", check: str = "db", **extra: object
) -> CheckResult:
    return CheckResult(tenant=tenant, check=check, status=status, summary=f"{check} is {status}",
                       timestamp=at, **extra)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


def test_latest_keeps_the_newest_result_per_tenant_and_check(store: ResultStore) -> None:
    store.record([result(Status.OK, T0), result(Status.OK, T0, tenant="beta")])
    newest = result(Status.CRIT, T0 + timedelta(seconds=15), error_class="timeout",
                    details={"latency_ms": 12.5, "nested": {"a": [1, 2]}}, duration_s=5.0, source="env")
    store.record([newest])
    assert store.latest_one("acme", "db") == newest
    assert [(r.tenant, r.status) for r in store.latest()] == [("acme", Status.CRIT), ("beta", Status.OK)]
    assert [r.tenant for r in store.latest("beta")] == ["beta"]
    assert store.latest_one("acme", "smtp") is None


def test_an_older_result_arriving_late_goes_to_history_only(store: ResultStore) -> None:
    store.record([result(Status.OK, T0 + timedelta(seconds=30))])
    assert store.record([result(Status.CRIT, T0)]) == []
    assert store.latest_one("acme", "db").status is Status.OK  # type: ignore[union-attr]
    assert [r.status for r in store.history("acme", "db")] == [Status.CRIT, Status.OK]


def test_transitions_are_status_changes_only(store: ResultStore) -> None:
    statuses = [Status.OK, Status.OK, Status.CRIT, Status.CRIT, Status.OK]
    returned: list[Transition] = []
    for i, status in enumerate(statuses):
        returned += store.record([result(status, T0 + timedelta(seconds=i))])
    assert [(t.old, t.new) for t in returned] == [
        (None, Status.OK), (Status.OK, Status.CRIT), (Status.CRIT, Status.OK),
    ]
    assert store.transitions("acme") == returned
    assert returned[1] == Transition("acme", "db", Status.OK, Status.CRIT, T0 + timedelta(seconds=2),
                                     "db is CRIT")
    assert store.transitions(since=T0 + timedelta(seconds=3)) == returned[2:]
    assert store.transitions("nobody") == []


def test_history_is_oldest_first_with_since_and_limit(store: ResultStore) -> None:
    store.record([result(Status.OK, T0 + timedelta(seconds=i)) for i in range(5)])
    stamps = [r.timestamp for r in store.history("acme", "db")]
    assert stamps == [T0 + timedelta(seconds=i) for i in range(5)]
    assert [r.timestamp for r in store.history("acme", "db", limit=2)] == stamps[3:]
    assert [r.timestamp for r in store.history("acme", "db", since=stamps[1], limit=10)] == stamps[1:]


def test_history_is_capped_per_check(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3", max_history_per_check=3) as store:
        for i in range(10):
            store.record([result(Status.OK, T0 + timedelta(seconds=i)),
                          result(Status.OK, T0 + timedelta(seconds=i), check="smtp")])
        assert [r.timestamp for r in store.history("acme", "db")] == [
            T0 + timedelta(seconds=i) for i in (7, 8, 9)
        ]
        assert len(store.history("acme", "smtp")) == 3


def test_prune_drops_history_and_transitions_older_than_retention(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3", history_days=1) as store:
        store.record([result(Status.CRIT, T0 - timedelta(days=2))])
        store.record([result(Status.OK, T0 - timedelta(hours=1))])
        assert store.prune(now=T0) == 2
        assert [r.status for r in store.history("acme", "db")] == [Status.OK]
        assert [(t.old, t.new) for t in store.transitions()] == [(Status.CRIT, Status.OK)]
        assert store.latest_one("acme", "db").status is Status.OK  # type: ignore[union-attr]


def test_uptime_is_the_share_of_ok_results_in_the_window(store: ResultStore) -> None:
    # last hour: 3 OK, 1 WARN; 2-3 hours ago: 4 CRIT; 3 days ago: 4 OK.
    batch = [result(Status.OK, T0 - timedelta(minutes=m)) for m in (1, 10, 20)]
    batch.append(result(Status.WARN, T0 - timedelta(minutes=30)))
    batch += [result(Status.CRIT, T0 - timedelta(hours=2, minutes=m)) for m in range(4)]
    batch += [result(Status.OK, T0 - timedelta(days=3, minutes=m)) for m in range(4)]
    store.record(batch)
    assert store.uptime("acme", "db", timedelta(hours=1), now=T0) == 0.75
    assert store.uptime("acme", "db", timedelta(hours=24), now=T0) == 3 / 8
    assert store.uptime("acme", "db", timedelta(days=7), now=T0) == 7 / 12
    assert store.uptimes("acme", "db", now=T0) == {"1h": 0.75, "24h": 3 / 8, "7d": 7 / 12}
    assert store.uptime("acme", "smtp", timedelta(hours=1), now=T0) is None
    assert store.uptime("acme", "db", timedelta(hours=1), now=T0 - timedelta(days=10)) is None


def test_uptime_share_is_pure() -> None:
    assert uptime_share([]) is None
    assert uptime_share([Status.OK, Status.UNKNOWN]) == 0.5


def test_everything_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "opsdash.sqlite3"
    store = ResultStore(path)
    store.record([result(Status.OK, T0)])
    store.record([result(Status.CRIT, T0 + timedelta(seconds=1), error_class="connect")])
    before = (store.latest(), store.history("acme", "db"), store.transitions())
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.latest()
    with ResultStore(path) as reopened:
        assert (reopened.latest(), reopened.history("acme", "db"), reopened.transitions()) == before
        transitions = reopened.record([result(Status.OK, T0 + timedelta(seconds=2))])
        assert [(t.old, t.new) for t in transitions] == [(Status.CRIT, Status.OK)]


def test_file_is_in_wal_mode_and_readable_by_another_connection(store: ResultStore) -> None:
    store.record([result(Status.OK, T0)])
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT count(*) FROM latest").fetchone()[0] == 1


def test_concurrent_writers_from_threads_lose_nothing(store: ResultStore) -> None:
    def write(tenant: str) -> None:
        for i in range(50):
            status = Status.OK if i % 2 else Status.WARN
            store.record([result(status, T0 + timedelta(seconds=i), tenant=tenant)])

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(4):
        assert len(store.history(f"t{n}", "db")) == 50
        assert len(store.transitions(f"t{n}")) == 50


def test_for_fleet_puts_the_file_in_the_state_dir(tmp_path: Path, state_dir: Path) -> None:
    fleet = make_fleet(tmp_path, ["acme"])
    with ResultStore.for_fleet(fleet) as store:
        assert store.path == state_dir / "opsdash.sqlite3"
        assert store.path.is_file()


def test_a_failed_batch_writes_nothing(store: ResultStore) -> None:
    store.record([result(Status.OK, T0)])
    with pytest.raises(sqlite3.Error), store.transaction() as conn:
        conn.execute("INSERT INTO results (tenant, check_id, status, ts, body) VALUES ('x','db','OK',1,'{}')")
        conn.execute("INSERT INTO nonexistent VALUES (1)")
    assert store.history("x", "db") == []


def test_retention_comes_from_tenants_toml(tmp_path: Path) -> None:
    from opsdash.config.fleet import load_fleet

    (tmp_path / "tenants.toml").write_text(
        f'[state]\ndir = "{tmp_path / "state"}"\nmax_history_per_check = 2\n'
    )
    store = ResultStore.for_fleet(load_fleet(tmp_path / "tenants.toml"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store.record(
        CheckResult(tenant="a", check="db", status=Status.OK, summary="ok", timestamp=start + timedelta(s))
        for s in range(3)
    )
    assert len(store.history("a", "db")) == 2
    store.close()
