"""The results store: latest, history, transitions, uptime, retention, restart and thread safety."""

from __future__ import annotations

import random
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.engine import store as store_module
from opsdash.engine.checkpointer import Checkpointer
from opsdash.engine.store import (
    _SCHEMA_VERSION,
    TS,
    ResultStore,
    Transition,
    _epoch,
    _moment,
    content_source,
    duration_exact,
    plan_batch,
    stamp_exact,
    uptime_share,
)
from tests.engine.fakes import make_fleet

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


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
        assert other.execute("SELECT count(*) FROM series").fetchone()[0] == 1


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


def test_a_failed_transaction_writes_nothing(store: ResultStore) -> None:
    store.record([result(Status.OK, T0)])
    with pytest.raises(sqlite3.Error), store.transaction() as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
        conn.execute("INSERT INTO mine VALUES (1)")
        conn.execute("INSERT INTO nonexistent VALUES (1)")
    with sqlite3.connect(store.path) as other:
        assert other.execute("SELECT count(*) FROM sqlite_master WHERE name = 'mine'").fetchone()[0] == 0
    transitions = store.record([result(Status.CRIT, T0 + timedelta(seconds=1))])
    assert [(t.old, t.new) for t in transitions] == [(Status.OK, Status.CRIT)]


def test_a_batch_that_fails_to_serialise_writes_nothing(store: ResultStore) -> None:
    store.record([result(Status.OK, T0)])
    broken = result(Status.CRIT, T0 + timedelta(seconds=1), check="smtp", details={"x": object()})
    with pytest.raises(ValueError):
        store.record([result(Status.WARN, T0 + timedelta(seconds=1)), broken])
    assert [r.status for r in store.history("acme", "db")] == [Status.OK]
    assert store.latest_one("acme", "smtp") is None
    transitions = store.record([result(Status.CRIT, T0 + timedelta(seconds=2))])
    assert [(t.old, t.new) for t in transitions] == [(Status.OK, Status.CRIT)]


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


# --- history without repeated bodies (schema 2) -------------------------------------------------------


def as_read_back(recorded: CheckResult) -> str:
    """What reading a result back must give, compared type for type: its own JSON round trip."""
    return CheckResult.model_validate_json(recorded.model_dump_json()).model_dump_json()


def body_rows(store: ResultStore) -> int:
    with sqlite3.connect(store.path) as other:
        return other.execute("SELECT count(*) FROM bodies").fetchone()[0]


FIELDS = {"whatsappPermanentToken": {"source": "db", "value": "<set sha256:4e26d4cd>", "secret": True,
                                     "env_var": "WHATSAPP_PERMANENT_TOKEN", "error": None},
          "whatsappApiVersion": {"source": "default", "value": "v23.0", "secret": False,
                                 "env_var": None, "error": None}}


def config_result(at: datetime, status: Status = Status.OK, **details: object) -> CheckResult:
    return result(status, at, check="config:whatsapp", source="db", duration_s=0.0,
                  details={"source": "db", "completeness": 1.0, "problems": {}, "fields": FIELDS,
                           "findings": [], **details})


def tricky_sequence() -> list[CheckResult]:
    """Bodies that change, come back, differ only in types or key order, and rows that cannot be
    rebuilt from their columns (offset and naive timestamps, a -0.0 duration)."""
    at = [T0 + timedelta(seconds=30 * i, microseconds=7 * i) for i in range(16)]
    return [
        config_result(at[0]),
        config_result(at[1]),
        config_result(at[2], completeness=1),
        config_result(at[3], completeness=True),
        config_result(at[4], Status.CRIT, completeness=0.5),
        config_result(at[5], Status.OK, completeness=0.5),
        config_result(at[6]),
        result(Status.OK, at[7], check="config:whatsapp", source="db", duration_s=0.0,
               details={"problems": {}, "source": "db", "completeness": 1.0, "fields": FIELDS,
                        "findings": []}),
        config_result(at[8]).model_copy(update={"duration_s": 1.25}),
        config_result(at[9]).model_copy(update={"duration_s": -0.0}),
        config_result(at[10]).model_copy(update={"duration_s": 1e-7}),
        config_result(at[11]).model_copy(update={"timestamp": at[11].astimezone(PLUS_TWO)}),
        config_result(at[12]).model_copy(update={"timestamp": at[12].replace(tzinfo=None)}),
        config_result(at[13]).model_copy(update={"summary": "changed summary", "error_class": "condition"}),
        config_result(at[14]).model_copy(update={"source": "env"}),
        config_result(at[15]),
    ]


def test_history_reads_back_exactly_what_was_recorded(store: ResultStore) -> None:
    sequence = tricky_sequence()
    for item in sequence:
        store.record([item])
    history = store.history("acme", "config:whatsapp")
    assert history == sequence
    assert [r.model_dump_json() for r in history] == [as_read_back(r) for r in sequence]
    assert store.latest_one("acme", "config:whatsapp").model_dump_json() == as_read_back(sequence[-1])  # type: ignore[union-attr]
    assert [(t.old, t.new) for t in store.transitions()] == [
        (None, Status.OK), (Status.OK, Status.CRIT), (Status.CRIT, Status.OK),
    ]


def test_an_unchanged_result_adds_no_body(store: ResultStore) -> None:
    store.record([config_result(T0)])
    for i in range(1, 20):
        store.record([config_result(T0 + timedelta(seconds=30 * i)).model_copy(update={"duration_s": i / 8})])
    assert body_rows(store) == 1
    store.record([config_result(T0 + timedelta(seconds=600), completeness=0.9)])
    assert body_rows(store) == 2
    assert len(store.history("acme", "config:whatsapp")) == 21


@pytest.mark.parametrize("start", [0, 1, 5, 6, 7, 9, 11, 12, 15])
def test_since_and_limit_windows_starting_on_any_row_read_back_exactly(
    store: ResultStore, start: int
) -> None:
    sequence = tricky_sequence()
    store.record(sequence)
    expected = [as_read_back(r) for r in sequence]
    since = sequence[start].timestamp
    def read(**window: object) -> list[str]:
        return [r.model_dump_json() for r in store.history("acme", "config:whatsapp", **window)]  # type: ignore[arg-type]

    assert read(since=since) == expected[start:]
    assert read(limit=len(sequence) - start) == expected[start:]
    assert read(since=since, limit=2) == expected[max(start, len(sequence) - 2):]


def test_history_reaches_back_across_many_buckets(store: ResultStore) -> None:
    hourly = [config_result(T0 + timedelta(hours=h)) for h in range(100)]
    store.record(hourly)
    assert store.history("acme", "config:whatsapp", limit=60) == hourly[-60:]
    assert store.history("acme", "config:whatsapp", limit=500) == hourly
    assert store.history("acme", "config:whatsapp", since=T0 + timedelta(hours=98, minutes=1)) == hourly[99:]
    assert store.history("acme", "config:whatsapp", limit=0) == []


def test_prune_keeps_a_body_rows_after_the_cutoff_still_use_and_drops_the_rest(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3", history_days=1) as store:
        old_run = [config_result(T0 - timedelta(hours=40 - h), completeness=0.5) for h in range(3)]
        long_run = [config_result(T0 - timedelta(hours=30 - h)) for h in range(31)]
        store.record(old_run + long_run)
        assert body_rows(store) == 2
        assert store.prune(now=T0) == 3 + 6 + 1  # rows older than 24 h, and the first transition
        assert body_rows(store) == 1
        kept = long_run[6:]
        assert [r.model_dump_json() for r in store.history("acme", "config:whatsapp")] == [
            as_read_back(r) for r in kept
        ]
        assert store.history("acme", "config:whatsapp", since=kept[0].timestamp, limit=1) == kept[-1:]
        store.record([config_result(T0 + timedelta(minutes=1))])
        newest = config_result(T0 + timedelta(minutes=1))
        assert store.history("acme", "config:whatsapp", limit=2) == [kept[-1], newest]


def test_latest_survives_a_prune_of_all_its_history(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3", history_days=1) as store:
        last = config_result(T0 - timedelta(days=3))
        store.record([config_result(T0 - timedelta(days=3, minutes=1)), last])
        store.prune(now=T0)
        assert store.history("acme", "config:whatsapp") == []
        assert store.latest_one("acme", "config:whatsapp") == last
        transitions = store.record([config_result(T0, Status.WARN)])
        assert [(t.old, t.new) for t in transitions] == [(Status.OK, Status.WARN)]
        assert store.history("acme", "config:whatsapp") == [config_result(T0, Status.WARN)]


def test_trimming_keeps_exactly_the_cap_when_it_is_small(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3", max_history_per_check=5) as store:
        recorded: list[CheckResult] = []
        for i in range(60):
            batch = [config_result(T0 + timedelta(seconds=97 * i), completeness=(i // 7) / 10)]
            if i % 11 == 5:
                batch.append(config_result(T0 + timedelta(seconds=97 * i - 500), Status.WARN))
            store.record(batch)
            recorded += batch
            newest = sorted(recorded, key=lambda r: r.timestamp)[-5:]
            assert [r.model_dump_json() for r in store.history("acme", "config:whatsapp")] == [
                as_read_back(r) for r in newest
            ]
        assert body_rows(store) <= 5 + 1


def test_trimming_a_large_cap_goes_a_bucket_at_a_time_and_stays_within_its_slack(tmp_path: Path) -> None:
    cap = 40
    with ResultStore(tmp_path / "s.sqlite3", max_history_per_check=cap) as store:
        recorded = []
        for i in range(200):
            item = result(Status.OK if i % 9 else Status.WARN, T0 + timedelta(seconds=30 * i),
                          details={"latency_ms": i})
            store.record([item])
            recorded.append(item)
            history = store.history("acme", "db")
            assert cap <= len(history) <= cap + cap // 10 or len(history) == len(recorded)
            assert history == recorded[-len(history):]
        assert body_rows(store) <= cap + cap // 10 + 1


def test_the_file_stays_small_when_results_repeat(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite3") as store:
        for i in range(50):
            at = T0 + timedelta(seconds=30 * i)
            store.record([config_result(at).model_copy(update={"tenant": f"t{n}"}) for n in range(40)])
        with sqlite3.connect(store.path) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = other.execute("PRAGMA page_count").fetchone()[0] - other.execute(
                "PRAGMA freelist_count").fetchone()[0]
            page_size = other.execute("PRAGMA page_size").fetchone()[0]
        whole_bodies = 2000 * len(config_result(T0).model_dump_json())
        assert pages * page_size < whole_bodies / 4


def test_row_timestamps_round_trip_to_the_microsecond() -> None:
    rng = random.Random(8)
    for _ in range(20_000):
        moment = datetime(1971, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(0, 130 * 365 * 86_400), microseconds=rng.randrange(0, 1_000_000)
        )
        assert _moment(_epoch(moment)) == moment


def test_stamp_and_duration_exact_say_when_a_result_needs_its_whole_body() -> None:
    assert stamp_exact(T0)
    assert stamp_exact(T0.astimezone(timezone(timedelta(0), "Z")))
    assert not stamp_exact(T0.replace(tzinfo=None))
    assert not stamp_exact(T0.astimezone(PLUS_TWO))
    assert duration_exact(0.5) and duration_exact(0.0)
    assert not duration_exact(-0.0)
    assert not duration_exact(float("nan"))


def test_plan_batch_shares_bodies_and_finds_transitions_without_io() -> None:
    first = plan_batch([config_result(T0), result(Status.OK, T0)], {}, next_series_id=1, next_body_id=1)
    assert [(t.check, t.old, t.new) for t in first.transitions] == [
        ("config:whatsapp", None, Status.OK), ("db", None, Status.OK),
    ]
    assert [b[0] for b in first.bodies] == [1, 2]
    second = plan_batch(
        [config_result(T0 + timedelta(seconds=30)), config_result(T0 + timedelta(seconds=60), Status.CRIT),
         config_result(T0 - timedelta(seconds=30))],
        first.heads, next_series_id=3, next_body_id=3,
    )
    assert [row[-1] for row in second.rows] == [1, 3, 4]  # same content; new summary; late: own body
    assert [b[:2] for b in second.bodies] == [(3, None), (4, _epoch(T0 - timedelta(seconds=30)))]
    assert second.finished_bodies == [(_epoch(T0 + timedelta(seconds=30)), 1)]
    assert [(t.old, t.new) for t in second.transitions] == [(Status.OK, Status.CRIT)]
    assert second.heads[("acme", "config:whatsapp")][TS] == _epoch(T0 + timedelta(seconds=60))
    assert second.created == set()


def test_a_restamped_verdict_shares_its_body_without_being_serialised_again(
    store: ResultStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = config_result(T0)
    store.record([first])
    serialised: list[str] = []
    real = store_module.content_json

    def counting(result: CheckResult) -> bytes:
        serialised.append(result.check)
        return real(result)

    monkeypatch.setattr(store_module, "content_json", counting)
    again = first.restamped(T0 + timedelta(seconds=15))
    store.record([again])
    assert serialised == []
    equal_not_same = config_result(T0 + timedelta(seconds=30))
    changed = config_result(T0 + timedelta(seconds=45), completeness=0.5)
    store.record([equal_not_same])
    store.record([changed])
    assert serialised == ["config:whatsapp", "config:whatsapp"]
    assert store.history("acme", "config:whatsapp") == [first, again, equal_not_same, changed]
    bodies = store._connection().execute("SELECT count(*) FROM bodies").fetchone()[0]
    assert bodies == 2


def test_plan_batch_trusts_only_the_very_objects_of_the_latest_content() -> None:
    first = plan_batch([config_result(T0)], {}, next_series_id=1, next_body_id=1)
    kept = config_result(T0)
    unknown_objects = plan_batch(
        [config_result(T0 + timedelta(seconds=15), completeness=0.5)], first.heads,
        next_series_id=2, next_body_id=2, sources={("acme", "config:whatsapp"): content_source(kept)},
    )
    assert [row[-1] for row in unknown_objects.rows] == [2]
    same_objects = plan_batch(
        [kept.restamped(T0 + timedelta(seconds=15))], first.heads,
        next_series_id=2, next_body_id=2, sources=first.sources,
    )
    assert [row[-1] for row in same_objects.rows] == [1]
    assert same_objects.bodies == []


# --- several writers on one file ------------------------------------------------------------------------


def test_transitions_stay_right_when_another_store_writes_in_between(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    with ResultStore(path) as dashboard, ResultStore(path) as check:
        assert [t.new for t in dashboard.record([config_result(T0)])] == [Status.OK]
        crit = check.record([config_result(T0 + timedelta(seconds=10), Status.CRIT)])
        assert [(t.old, t.new) for t in crit] == [(Status.OK, Status.CRIT)]
        back = dashboard.record([config_result(T0 + timedelta(seconds=30))])
        assert [(t.old, t.new) for t in back] == [(Status.CRIT, Status.OK)]
        late = config_result(T0 + timedelta(seconds=20), Status.WARN)
        assert check.record([late]) == []  # older than the latest: history only
        assert dashboard.record([config_result(T0 + timedelta(seconds=60))]) == []
        expected = [config_result(T0), config_result(T0 + timedelta(seconds=10), Status.CRIT),
                    config_result(T0 + timedelta(seconds=20), Status.WARN),
                    config_result(T0 + timedelta(seconds=30)), config_result(T0 + timedelta(seconds=60))]
        assert dashboard.history("acme", "config:whatsapp") == expected
        assert check.history("acme", "config:whatsapp") == expected
        assert [(t.old, t.new) for t in check.transitions()] == [
            (None, Status.OK), (Status.OK, Status.CRIT), (Status.CRIT, Status.OK),
        ]


def test_heads_read_ahead_are_not_trusted_once_another_store_wrote(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    with ResultStore(path) as earlier:
        earlier.record([config_result(T0)])
    with ResultStore(path) as dashboard, ResultStore(path) as check:
        assert dashboard.load_heads(["acme", "nobody"])
        check.record([config_result(T0 + timedelta(seconds=10), Status.CRIT)])
        back = dashboard.record([config_result(T0 + timedelta(seconds=30))])
        assert [(t.old, t.new) for t in back] == [(Status.CRIT, Status.OK)]


def test_heads_that_cannot_be_read_ahead_are_left_to_the_record(tmp_path: Path) -> None:
    closed = ResultStore(tmp_path / "closed.sqlite3")
    closed.close()
    assert closed.load_heads(["acme"]) is False
    with ResultStore(tmp_path / "opsdash.sqlite3") as store:
        store.record([config_result(T0)])
        store._connection().execute("DROP TABLE bodies")
        assert store.load_heads(["acme", "beta"]) is False
        with pytest.raises(sqlite3.OperationalError, match="bodies"):
            store.record([result(Status.OK, T0, tenant="beta")])


def test_two_stores_writing_at_random_agree_with_a_simple_model(tmp_path: Path) -> None:
    """Random batches (new, repeated, changed and late results, two checks) from two stores on one file:
    latest, transitions and the capped history match what a list of every result implies, whichever
    store read its heads ahead (``load_heads``) in between."""
    rng = random.Random(8)
    ahead = random.Random(9)
    """Heads read ahead (``load_heads``, as a pass does as it starts) by either store, now and then."""
    path = tmp_path / "opsdash.sqlite3"
    cap = 6
    recorded: list[tuple[float, int, CheckResult]] = []
    latest: dict[str, CheckResult] = {}
    expected_transitions: list[tuple[datetime, int, str, Status | None, Status]] = []
    one, two = ResultStore(path, max_history_per_check=cap), ResultStore(path, max_history_per_check=cap)
    with one, two:
        for step in range(120):
            batch = []
            for _ in range(rng.randint(1, 3)):
                check = rng.choice(["db", "config:whatsapp"])
                offset = step * 40 - (rng.choice([0, 0, 0, 90, 400]))
                status = rng.choice([Status.OK, Status.OK, Status.OK, Status.WARN, Status.CRIT])
                batch.append(result(status, T0 + timedelta(seconds=offset), check=check,
                                    details={"n": rng.choice([1, 1.0, 2])},
                                    duration_s=rng.choice([0.0, 0.5])))
            if ahead.random() < 0.3:
                ahead.choice([one, two]).load_heads(["acme"])
            writer = rng.choice([one, two])
            got = writer.record(batch)
            want = []
            for item in batch:
                recorded.append((_epoch(item.timestamp), len(recorded), item))
                previous = latest.get(item.check)
                if previous is not None and item.timestamp < previous.timestamp:
                    continue
                if previous is None or previous.status is not item.status:
                    want.append((item.timestamp, len(recorded), item.check,
                                 previous.status if previous else None, item.status))
                latest[item.check] = item
            assert [(t.check, t.old, t.new) for t in got] == [w[2:] for w in want]
            expected_transitions += want
            reader = rng.choice([one, two])
            for check in ("db", "config:whatsapp"):
                mine = sorted((r for r in recorded if r[2].check == check), key=lambda r: r[:2])[-cap:]
                assert [r.model_dump_json() for r in reader.history("acme", check)] == [
                    as_read_back(r[2]) for r in mine
                ]
                assert reader.latest_one("acme", check) == latest.get(check)
        assert [(t.check, t.old, t.new) for t in two.transitions()] == [
            w[2:] for w in sorted(expected_transitions, key=lambda w: w[:2])
        ]


def test_a_prune_by_another_store_leaves_the_writer_consistent(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    with ResultStore(path, history_days=1, max_history_per_check=4) as writer, \
            ResultStore(path, history_days=1, max_history_per_check=4) as pruner:
        writer.record([config_result(T0 - timedelta(days=2), completeness=0.5)])
        writer.record([config_result(T0 - timedelta(hours=1, minutes=m)) for m in (3, 2, 1)])
        assert pruner.prune(now=T0) == 1 + 1  # the oldest row and its transition
        for i in range(3):
            writer.record([config_result(T0 + timedelta(minutes=i))])
        assert writer.history("acme", "config:whatsapp") == (
            [config_result(T0 - timedelta(hours=1, minutes=1))]
            + [config_result(T0 + timedelta(minutes=i)) for i in range(3)]
        )
        assert body_rows(writer) == 1


def test_an_alert_store_writing_the_same_file_changes_nothing(tmp_path: Path) -> None:
    from opsdash.alerts.persist import AlertStateStore
    from opsdash.alerts.state import AlertState

    path = tmp_path / "opsdash.sqlite3"
    with ResultStore(path) as store:
        alerts = AlertStateStore(path)
        store.record([config_result(T0)])
        alerts.save([AlertState("acme", "config:whatsapp", failures=1, last_status=Status.CRIT)])
        crit = store.record([config_result(T0 + timedelta(seconds=30), Status.CRIT)])
        assert [(t.old, t.new) for t in crit] == [(Status.OK, Status.CRIT)]
        assert set(alerts.load()) == {("acme", "config:whatsapp")}
        alerts.close()


# --- schema 1 files ------------------------------------------------------------------------------------

SCHEMA_1 = """
CREATE TABLE results (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, check_id TEXT NOT NULL,
    status TEXT NOT NULL, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX results_by_key_ts ON results (tenant, check_id, ts);
CREATE INDEX results_by_ts ON results (ts);
CREATE TABLE latest (tenant TEXT NOT NULL, check_id TEXT NOT NULL, status TEXT NOT NULL, ts REAL NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (tenant, check_id));
CREATE TABLE transitions (id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, check_id TEXT NOT NULL, old TEXT,
    new TEXT NOT NULL, at REAL NOT NULL, summary TEXT NOT NULL);
CREATE INDEX transitions_by_tenant_at ON transitions (tenant, at);
CREATE INDEX transitions_by_at ON transitions (at);
CREATE TABLE opsdash_alert_state (tenant TEXT, check_id TEXT, firing INTEGER);
INSERT INTO opsdash_alert_state VALUES ('acme', 'db', 1);
PRAGMA user_version=1;
"""


def write_schema_1(path: Path, history: list[CheckResult], latest: list[CheckResult]) -> None:
    """A file as the schema-1 store wrote it: every result whole, in ``results`` and ``latest``."""
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA_1)
        conn.executemany(
            "INSERT INTO results (tenant, check_id, status, ts, body) VALUES (?, ?, ?, ?, ?)",
            [(r.tenant, r.check, r.status.value, _epoch(r.timestamp), r.model_dump_json()) for r in history],
        )
        conn.executemany(
            "INSERT INTO latest (tenant, check_id, status, ts, body) VALUES (?, ?, ?, ?, ?)",
            [(r.tenant, r.check, r.status.value, _epoch(r.timestamp), r.model_dump_json()) for r in latest],
        )
        conn.execute(
            "INSERT INTO transitions (tenant, check_id, old, new, at, summary) VALUES (?, ?, ?, ?, ?, ?)",
            ("acme", "db", None, "OK", _epoch(T0), "db is OK"),
        )


def test_a_schema_1_file_is_migrated_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    db_history = [result(Status.OK, T0 + timedelta(seconds=15 * i), details={"latency_ms": i})
                  for i in range(5)]
    db_history.insert(2, result(Status.CRIT, T0 + timedelta(seconds=1), error_class="timeout"))  # a late one
    config_history = tricky_sequence()
    orphan = [result(Status.WARN, T0, check="smtp")]  # history whose latest row is missing
    write_schema_1(path, db_history + config_history + orphan, [db_history[-1], config_history[-1]])

    with ResultStore(path) as store:
        assert store.latest() == [config_history[-1], db_history[-1]]
        assert store.history("acme", "db") == sorted(db_history, key=lambda r: r.timestamp)
        assert [r.model_dump_json() for r in store.history("acme", "config:whatsapp")] == [
            as_read_back(r) for r in config_history
        ]
        assert store.history("acme", "smtp") == orphan
        assert store.latest_one("acme", "smtp") is None
        assert store.history("acme", "db", limit=2) == db_history[-2:]
        assert store.transitions() == [Transition("acme", "db", None, Status.OK, T0, "db is OK")]
        transitions = store.record([
            result(Status.CRIT, T0 + timedelta(minutes=5)),
            result(Status.OK, T0 + timedelta(minutes=5), check="smtp"),
        ])
        assert [(t.check, t.old, t.new) for t in transitions] == [
            ("db", Status.OK, Status.CRIT), ("smtp", None, Status.OK),
        ]
        assert len(store.history("acme", "db")) == 7
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == _SCHEMA_VERSION
        assert conn.execute("SELECT * FROM opsdash_alert_state").fetchall() == [("acme", "db", 1)]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not names & {"latest", "results_v1", "latest_v1", "results_by_key_ts"}
    with ResultStore(path) as reopened:
        assert len(reopened.history("acme", "db")) == 7
        assert reopened.prune(now=T0 + timedelta(days=30)) == 7 + 16 + 2 + 3
        assert body_rows(reopened) == 3
        assert reopened.latest_one("acme", "config:whatsapp") == config_history[-1]


def test_a_file_from_a_newer_opsdash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer opsdash"):
        ResultStore(path)


@pytest.mark.parametrize(("slow_every", "older_row"), [(0, False), (0, True), (8, False)])
def test_a_fleet_over_the_cap_is_trimmed_bucket_by_bucket(
    tmp_path: Path, slow_every: int, older_row: bool
) -> None:
    """Eighty checks reporting together (every eighth, optionally, every fourth pass only; optionally with
    an older row of another check): each keeps its newest rows, between the cap and the cap plus its slack,
    and bodies go with their rows."""
    cap = 30
    tenants = [f"t{n:02d}" for n in range(80)]
    recorded: dict[str, list[CheckResult]] = {t: [] for t in tenants}
    with ResultStore(tmp_path / "s.sqlite3", max_history_per_check=cap) as store:
        if older_row:
            store.record([result(Status.OK, T0 - timedelta(days=1), check="smtp")])
        for i in range(150):
            batch = [
                result(Status.OK, T0 + timedelta(seconds=60 * i), tenant=t, details={"latency_ms": i % 4})
                for n, t in enumerate(tenants)
                if not (slow_every and n % slow_every == 0 and i % 4)
            ]
            store.record(batch)
            for item in batch:
                recorded[item.tenant].append(item)
        for tenant in tenants:
            history = store.history(tenant, "db")
            assert cap <= len(history) <= cap + cap // 10 or len(history) == len(recorded[tenant])
            assert history == recorded[tenant][-len(history):]
        assert body_rows(store) <= 80 * (cap + cap // 10) + older_row
        if older_row:
            assert store.history("acme", "smtp") == [result(Status.OK, T0 - timedelta(days=1), check="smtp")]


def test_commits_leave_checkpoints_to_a_thread_that_keeps_the_log_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit on the engine's loop never copies the log into the file; the store's checkpointer does,
    so the log stays about one batch long however many batches are written."""

    def write_batches(store: ResultStore) -> int:
        for batch in range(30):
            at = T0 + timedelta(minutes=batch)
            store.record(
                [result(Status.OK, at, tenant=f"t{i:03d}", check="config:email", details={"n": batch})
                 for i in range(200)]
            )
            assert store.checkpointer.wait_idle(10.0)
        return (store.path.parent / (store.path.name + "-wal")).stat().st_size

    with ResultStore(tmp_path / "kept" / "opsdash.sqlite3") as store:
        store.checkpointer.every_s = 0.0
        assert store._connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        kept_small = write_batches(store)
        assert store.checkpointer.checkpoints >= 1
    monkeypatch.setattr(Checkpointer, "wrote", lambda self: None)
    with ResultStore(tmp_path / "unkept" / "opsdash.sqlite3") as store:
        grown = write_batches(store)
    assert kept_small < 1_000_000 < grown
