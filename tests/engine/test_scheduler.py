"""The engine with a fake runner: pace, stagger, no overlap, concurrency cap, deadlines, backoff, restart."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckGroup, group_deadline
from opsdash.config.fleet import Fleet, Tenant
from opsdash.engine import pass_cache
from opsdash.engine.scheduler import Engine, JobInfo, resume_offset, stagger_offsets, start_window
from opsdash.engine.store import ResultStore, Transition
from tests.engine.fakes import CHECK_IDS, FakeRunner, Outcome, Target, make_fleet

LONG = {"db_interval": 600, "config_interval": 600, "integration_interval": 600}


class Collector:
    """An on_results callback that remembers every batch and wakes the runner's waiters."""

    def __init__(self, runner: FakeRunner) -> None:
        self.runner = runner
        self.batches: list[tuple[list[CheckResult], list[Transition]]] = []
        self.hook: Callable[[list[CheckResult]], None] | None = None

    def __call__(self, results: list[CheckResult], transitions: list[Transition]) -> None:
        self.batches.append((results, transitions))
        if self.hook is not None:
            self.hook(results)
        self.runner.poke()

    def results(self, tenant: str | None = None, check: str | None = None) -> list[CheckResult]:
        return [
            r for batch, _ in self.batches for r in batch
            if (tenant is None or r.tenant == tenant) and (check is None or r.check == check)
        ]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ResultStore]:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


def engine_for(
    fleet: Fleet, store: ResultStore, runner: FakeRunner, **kwargs: object
) -> tuple[Engine, Collector]:
    collector = Collector(runner)
    return Engine(fleet, store=store, runner=runner, on_results=collector, **kwargs), collector  # type: ignore[arg-type]


def test_stagger_spreads_first_runs_evenly_over_the_interval() -> None:
    assert stagger_offsets(4, 20.0) == [0.0, 5.0, 10.0, 15.0]
    assert stagger_offsets(2, 10.0, phase=0.5) == [2.5, 7.5]
    assert stagger_offsets(0, 10.0) == []


def test_the_start_window_grows_with_the_fleet_within_one_second_and_the_interval() -> None:
    assert start_window(4, 600.0) == 1.0
    assert start_window(1000, 300.0) == pytest.approx(5.0)
    assert start_window(1000, 2.0) == 2.0
    assert start_window(0, 0.5) == 0.5


def test_after_the_first_sweep_a_tenants_next_run_comes_in_the_second_half_of_one_interval() -> None:
    assert [resume_offset(i, 4, 600.0, 0) for i in range(4)] == pytest.approx([325.0, 400.0, 475.0, 550.0])
    assert [resume_offset(i, 4, 600.0, 1) for i in range(4)] == pytest.approx([350.0, 425.0, 500.0, 575.0])
    assert resume_offset(0, 1, 30.0, 1) == pytest.approx(25.0)


async def test_the_first_picture_is_one_sweep_then_each_tenants_next_run_within_one_interval(
    tmp_path: Path, store: ResultStore
) -> None:
    """db and config of every tenant in one pass (its reads shared), the fleet-wide check on it; then each
    tenant's next db and config runs within one interval, spread over its second half. The integration
    probes start staggered over the start window."""
    names = ["a", "b", "c", "d"]
    fleet = make_fleet(tmp_path, names, poll=LONG)
    passes: dict[tuple[str, str], object] = {}

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        passes[(tenant.name, group)] = pass_cache.current()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, collector = engine_for(fleet, store, runner)
    before = datetime.now(UTC)
    await engine.start()
    try:
        probes = [engine.job(name, "integrations").next_run for name in names]
        assert all(p is not None and before <= p < before + timedelta(seconds=1.1) for p in probes)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(probes)]  # type: ignore[operator]
        assert all(gap == pytest.approx(0.25, abs=0.01) for gap in gaps), gaps
        await runner.wait_until(lambda: len(collector.results(check="isolation")) == len(names))
        swept = datetime.now(UTC)
        assert {(n, g): runner.finished(n, g) for n in names for g in ("db", "config")} == {
            (n, g): 1 for n in names for g in ("db", "config")
        }
        sweeps = {passes[(n, g)] for n in names for g in ("db", "config")}
        assert len(sweeps) == 1 and None not in sweeps
        for group in ("db", "config"):
            nexts = sorted(engine.job(name, group).next_run for name in names)  # type: ignore[type-var]
            assert all(
                before + timedelta(seconds=300) < n <= swept + timedelta(seconds=600) for n in nexts
            ), (group, nexts)
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(nexts)]
            assert all(gap == pytest.approx(75, abs=1) for gap in gaps), (group, gaps)
        assert all(engine.job(n, "db").next_run != engine.job(n, "config").next_run for n in names)
    finally:
        await engine.stop()


async def test_runs_the_schedule_starts_while_the_first_sweep_is_open_read_afresh(
    tmp_path: Path, store: ResultStore
) -> None:
    """A tenant whose cluster fails in the first sweep is tried again on its backoff while the sweep waits
    for a slow tenant. Those runs must read the cluster again, not the sweep's failed read: they had
    inherited the sweep's pass through the scheduler's wakeup, and kept the tenant CRIT after its cluster
    answered (for good once the sweep had ended, in a dashboard started during an outage)."""
    fleet = make_fleet(
        tmp_path, ["flaky", "slow"],
        poll={"db_interval": 0.1, "backoff_max": 0.1, "db_timeout": 30, "config_interval": 600,
              "integration_interval": 600},
    )
    answering = False
    release = asyncio.Event()

    async def reach() -> bool:
        return answering

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name == "slow" and group == "config":
            await release.wait()
        if tenant.name == "flaky" and group == "db":
            if await pass_cache.memo(("reach", tenant.name), reach):
                return Status.OK, None
            return Status.CRIT, "connect"
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, collector = engine_for(fleet, store, runner, jitter=False, publish_every_s=0)
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.finished("flaky", "db") >= 3)
        answering = True
        await runner.wait_until(
            lambda: any(r.status is Status.OK for r in collector.results("flaky", "db")), timeout=5
        )
        assert not release.is_set() and runner.finished("slow", "config") == 0
    finally:
        release.set()
        await engine.stop()


async def test_every_group_runs_and_each_batch_reaches_store_then_callback(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(
        tmp_path, ["a", "b"],
        poll={"db_interval": 0.2, "config_interval": 0.3, "integration_interval": 0.4},
    )
    runner = FakeRunner()
    engine, collector = engine_for(fleet, store, runner)
    seen_in_store_at_callback: list[bool] = []
    collector.hook = lambda results: seen_in_store_at_callback.append(
        all(store.latest_one(*key) == r for key, r in {r.key: r for r in results}.items())
    )
    await engine.start()
    try:
        await runner.wait_until(
            lambda: all(runner.finished(t, g) >= 2 for t in "ab" for g in CHECK_IDS)
            and len(collector.results(check="isolation")) >= 2
        )
    finally:
        await engine.stop()
    assert all(seen_in_store_at_callback)
    latest = {(r.tenant, r.check) for r in store.latest()}
    expected = {(t, c) for t in "ab" for ids in CHECK_IDS.values() for c in ids} | {
        ("a", "isolation"), ("b", "isolation")
    }
    assert latest == expected
    first_transitions = [t for _, ts in collector.batches for t in ts]
    assert {(t.tenant, t.check) for t in first_transitions} == expected
    assert all(t.old is None and t.new is Status.OK for t in first_transitions)


async def test_check_now_never_overlaps_a_run_in_progress(tmp_path: Path, store: ResultStore) -> None:
    fleet = make_fleet(
        tmp_path, ["slow", "quick"],
        poll={"db_interval": 0.1, "db_timeout": 30, "config_interval": 600, "integration_interval": 600},
        tenant_poll={"slow": {"db_interval": 10}},
    )
    release = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name == "slow":
            await release.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, collector = engine_for(fleet, store, runner)
    await engine.start()
    try:
        await runner.wait_until(lambda: bool(runner.starts("slow", "db")))
        for _ in range(3):
            engine.check_now("slow")
        ticks = runner.finished("quick", "db")
        await runner.wait_until(lambda: runner.finished("quick", "db") >= ticks + 3)
        assert len(runner.starts("slow", "db")) == 1
        assert engine.job("slow", "db").running
        release.set()
        await runner.wait_until(lambda: len(collector.results("slow", "db")) == 1)
        engine.check_now("slow")
        await runner.wait_until(lambda: len(collector.results("slow", "db")) == 2)
    finally:
        await engine.stop()
    assert max(runner.max_running_per_key.values()) == 1


async def test_a_scheduled_job_waiting_for_a_slot_is_skipped_not_stacked(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(
        tmp_path, ["hog", "queued"],
        poll={"max_concurrency": 1, "db_interval": 0.1, "db_timeout": 30, "config_interval": 600,
              "integration_interval": 600},
        tenant_poll={"hog": {"db_interval": 10}},
    )
    release = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name == "hog" and group == "db" and len(runner.starts("hog", "db")) > 1:
            await release.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner)
    skipped = 0

    def on_skip(event: JobEvent) -> None:
        nonlocal skipped
        if event.job_id == "db:queued":
            skipped += 1
            runner.poke()

    await engine.start()
    assert engine.scheduler is not None
    engine.scheduler.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES)
    try:
        await runner.wait_until(lambda: len(runner.starts("hog", "db")) == 2)
        queued_before, skipped_before = len(runner.starts("queued", "db")), skipped
        await runner.wait_until(lambda: skipped >= skipped_before + 3)
        assert len(runner.starts("queued", "db")) == queued_before
        assert engine.job("queued", "db").running
        release.set()
        await runner.wait_until(lambda: runner.finished("queued", "db") >= queued_before + 3)
    finally:
        await engine.stop()
    assert max(runner.max_running_per_key.values()) == 1
    assert runner.max_running_per_lane["reads"] == 1


async def test_hung_integration_probes_do_not_hold_back_the_database_checks(
    tmp_path: Path, store: ResultStore
) -> None:
    names = [f"t{i}" for i in range(4)]
    fleet = make_fleet(
        tmp_path, names,
        poll={"db_interval": 0.2, "config_interval": 600, "integration_interval": 600,
              "integration_timeout": 60, "max_concurrency": 2, "integration_concurrency": 2},
    )
    release = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if group == "integrations":
            await release.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner, jitter=False)
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.running_per_lane["probes"] == 2)
        await runner.wait_until(lambda: all(runner.finished(n, "db") >= 3 for n in names))
        assert runner.running_per_lane["probes"] == 2
        assert all(runner.finished(n, "integrations") == 0 for n in names)
    finally:
        release.set()
        await engine.stop()
    assert runner.max_running_per_lane["probes"] == 2


async def test_the_concurrency_cap_holds_in_run_once(tmp_path: Path, store: ResultStore) -> None:
    names = [f"t{i}" for i in range(6)]
    fleet = make_fleet(tmp_path, names, poll={**LONG, "max_concurrency": 2, "db_timeout": 30})
    gates = {name: asyncio.Event() for name in names}

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        await gates[tenant.name].wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner)
    one_pass = asyncio.create_task(engine.run_once(groups=["db"]))
    for released in range(len(names)):
        await runner.wait_until(lambda n=released: len(runner.runs) >= min(n + 2, len(names)))
        assert runner.running == min(2, len(names) - released)
        oldest = next(r for r in runner.runs if r.ended is None)
        gates[oldest.tenant].set()
        await runner.wait_until(lambda run=oldest: run.ended is not None)
    results = await asyncio.wait_for(one_pass, 10)
    await engine.stop()
    assert runner.max_running == 2
    assert sorted(r.tenant for r in results) == names
    assert engine.in_flight() == frozenset()


async def test_the_concurrency_cap_holds_when_everything_is_checked_at_once(
    tmp_path: Path, store: ResultStore
) -> None:
    names = [f"t{i}" for i in range(5)]
    slow = {"db_interval": 10, "config_interval": 10, "integration_interval": 10}
    fleet = make_fleet(
        tmp_path, names,
        poll={**slow, "max_concurrency": 2, "integration_concurrency": 1, "db_timeout": 30},
    )
    hold, release = asyncio.Event(), asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if hold.is_set():
            await release.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner)
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.fleet_runs == 1 and not engine.in_flight())  # swept
        hold.set()
        engine.check_now()
        await runner.wait_until(lambda: len(engine.in_flight()) == 5 * 3 + 1 and runner.running == 3)
        assert dict(runner.running_per_lane) == {"reads": 2, "probes": 1}
        release.set()
        await runner.wait_until(lambda: all(runner.finished(n, g) >= 1 for n in names for g in CHECK_IDS))
    finally:
        await engine.stop()
    assert dict(runner.max_running_per_lane) == {"reads": 2, "probes": 1}


async def test_a_hung_group_ends_crit_timeout_at_its_deadline_while_others_keep_their_pace(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(
        tmp_path, ["hung", "b", "c"],
        poll={"db_interval": 0.3, "db_timeout": 30, "config_interval": 600, "integration_interval": 600},
        tenant_poll={"hung": {"db_interval": 2.5}},
    )
    never = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if (tenant.name, group) == ("hung", "db"):
            await never.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, collector = engine_for(fleet, store, runner, jitter=False)
    deadline = group_deadline(fleet.tenant("hung").poll, "db")
    assert deadline == 2.0
    await engine.start()
    try:
        await runner.wait_until(lambda: bool(collector.results("hung", "db")), timeout=15)
    finally:
        await engine.stop()
    (hung,) = collector.results("hung", "db")
    assert (hung.status, hung.error_class) == (Status.CRIT, "timeout")
    assert hung.duration_s <= deadline * 1.2
    assert store.latest_one("hung", "db") == hung
    (hung_run,) = [r for r in runner.runs if (r.tenant, r.group) == ("hung", "db")]
    assert hung_run.ended is not None
    assert hung_run.ended - hung_run.started <= deadline * 1.2
    for other in ("b", "c"):
        during = [s for s in runner.starts(other, "db") if hung_run.started <= s <= hung_run.ended]
        assert len(during) >= 3, (other, during)
        gaps = [b - a for a, b in itertools.pairwise(during)]
        assert max(gaps) < 1.0, gaps


async def test_backoff_grows_caps_and_resets_when_the_target_answers(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(
        tmp_path, ["down"],
        poll={"db_interval": 0.1, "backoff_max": 0.4, "config_interval": 600, "integration_interval": 600},
    )
    target = Target()
    runner = FakeRunner(target.behaviour)
    engine, collector = engine_for(fleet, store, runner, jitter=False, publish_every_s=0)
    paces: list[tuple[JobInfo, datetime]] = []

    def remember_pace(results: list[CheckResult]) -> None:
        if results[0].check == "db":
            paces.append((engine.job("down", "db"), datetime.now(UTC)))

    collector.hook = remember_pace
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.finished("down", "db") >= 5)
        target.answering = True
        await runner.wait_until(lambda: runner.finished("down", "db") >= 7)
    finally:
        await engine.stop()
    db_paces = [job for job, _ in paces]
    assert [(j.failures, j.delay) for j in db_paces[:5]] == [
        (1, 0.2), (2, 0.4), (3, 0.4), (4, 0.4), (5, 0.4)
    ]
    assert (db_paces[5].failures, db_paces[5].delay) == (0, 0.1)
    for job, at in paces[:5]:
        assert job.next_run is not None
        assert (job.next_run - at).total_seconds() == pytest.approx(job.delay, abs=0.05)
    starts = runner.starts("down", "db")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert [gap >= want * 0.95 for gap, want in zip(gaps, [0.2, 0.4, 0.4, 0.4], strict=False)] == [True] * 4


async def test_a_cluster_that_answers_again_brings_back_at_once_the_tenants_on_it_that_back_off(
    tmp_path: Path, store: ResultStore
) -> None:
    """a and b share a cluster, c is on another; all three back off (next runs a minute away). When a's
    db run finds its cluster answering again, b's db and config runs follow at once; c keeps its pace."""
    fleet = make_fleet(
        tmp_path, ["a", "b", "c"], urls={"c": "mongodb://127.0.0.2:9/c"},
        poll={"db_interval": 30, "backoff_max": 600, "config_interval": 600, "integration_interval": 600},
    )
    target = Target()
    runner = FakeRunner(target.behaviour)
    engine, _ = engine_for(fleet, store, runner, jitter=False, publish_every_s=0)
    await engine.start()
    try:
        await runner.wait_until(
            lambda: all(engine.job(n, g).failures == 1 for n in "abc" for g in ("db", "config"))
        )
        target.answering = True
        engine.check_now("a")
        await runner.wait_until(
            lambda: engine.job("b", "db").failures == engine.job("b", "config").failures == 0
        )
        c_db = engine.job("c", "db")
        now = datetime.now(UTC)
    finally:
        await engine.stop()
    assert runner.finished("b", "db") == runner.finished("b", "config") == 2
    assert c_db.failures == 1
    assert runner.finished("c", "db") == 1
    assert c_db.next_run is not None and c_db.next_run - now > timedelta(seconds=30)


@pytest.mark.parametrize("stop_when", ["published", "run_ended"])
async def test_stop_takes_care_of_the_reads_a_scheduled_run_left_at_its_deadline(
    tmp_path: Path, store: ResultStore, stop_when: str
) -> None:
    """A run that gives up at its deadline leaves its reads running (they end on the driver's timeout);
    stop waits for them (here: cancels them, grace 0) before it closes the clients they use, whether it
    comes once the run's results are out or as the run ends."""
    fleet = make_fleet(
        tmp_path, ["slow"],
        poll={"db_interval": 600, "db_timeout": 0.05, "config_interval": 600, "integration_interval": 600},
    )
    gate = asyncio.Event()
    reads: list[asyncio.Future[object]] = []

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if group == "db":
            reads.append(pass_cache.shared("company", gate.wait))
            await pass_cache.joined(reads[-1])
        return Status.OK, None

    runner = FakeRunner(behaviour)
    engine, collector = engine_for(fleet, store, runner, jitter=False, publish_every_s=0)
    await engine.start()
    try:
        if stop_when == "published":
            await runner.wait_until(lambda: len(collector.results("slow", "db")) == 1)
        else:
            await runner.wait_until(lambda: runner.finished("slow", "db") == 1)
        assert not reads[0].done()
    finally:
        await engine.stop(grace=0)
        gate.set()
    assert reads[0].cancelled()


async def test_a_crit_condition_is_not_backed_off(tmp_path: Path, store: ResultStore) -> None:
    fleet = make_fleet(tmp_path, ["empty"], poll={"db_interval": 0.1, **{
        "config_interval": 600, "integration_interval": 600}})

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        return Status.CRIT, "condition"

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner, jitter=False)
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.finished("empty", "db") >= 3)
        job = engine.job("empty", "db")
    finally:
        await engine.stop()
    assert (job.failures, job.delay) == (0, 0.1)


async def test_check_now_runs_one_tenant_or_everyone(tmp_path: Path, store: ResultStore) -> None:
    fleet = make_fleet(tmp_path, ["a", "b", "c"], poll=LONG)
    runner = FakeRunner()
    engine, _ = engine_for(fleet, store, runner)
    with pytest.raises(RuntimeError, match="not running"):
        engine.check_now()
    swept = ("db", "config")
    await engine.start()
    try:
        await runner.wait_until(lambda: runner.fleet_runs == 1 and not engine.in_flight())  # swept
        engine.check_now("c")
        await runner.wait_until(lambda: all(runner.finished("c", g) >= 2 for g in swept))
        assert all(runner.finished(t, g) == 1 for t in "ab" for g in swept)
        fleet_runs = runner.fleet_runs
        engine.check_now()
        await runner.wait_until(
            lambda: all(runner.finished(t, g) >= 2 for t in "ab" for g in swept)
            and runner.fleet_runs > fleet_runs
        )
        with pytest.raises(Exception, match="no tenant named 'zed'"):
            engine.check_now("zed")
    finally:
        await engine.stop()
        await engine.stop()


async def test_check_now_of_everyone_during_the_first_sweep_leaves_the_sweep_its_work(
    tmp_path: Path, store: ResultStore
) -> None:
    names = ["a", "b", "c", "d"]
    fleet = make_fleet(tmp_path, names, poll={**LONG, "max_concurrency": 1})
    first_read_held = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_first_read(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name == "a" and group == "db" and not release.is_set():
            first_read_held.set()
            await release.wait()
        return Status.OK, None

    runner = FakeRunner(behaviour=hold_the_first_read)
    engine, _ = engine_for(fleet, store, runner)
    await engine.start()
    try:
        await asyncio.wait_for(first_read_held.wait(), 10)
        engine.check_now()
        await runner.wait_until(lambda: all(runner.finished(t, "integrations") >= 1 for t in names))
        release.set()
        await runner.wait_until(lambda: runner.fleet_runs >= 1)
    finally:
        await engine.stop()
    swept = [r for r in runner.runs if r.group in ("db", "config")]
    assert sorted((r.tenant, r.group) for r in swept) == [(t, g) for t in names for g in ("config", "db")]
    sweep_passes = {r.pass_id for r in swept}
    assert len(sweep_passes) == 1 and None not in sweep_passes, "a check ran outside the sweep's shared reads"
    assert runner.fleet_passes == list(sweep_passes)


async def test_check_now_of_one_tenant_during_the_first_sweep_goes_ahead_of_the_rest(
    tmp_path: Path, store: ResultStore
) -> None:
    names = ["a", "b", "c", "d", "e"]
    fleet = make_fleet(tmp_path, names, poll={**LONG, "max_concurrency": 2})
    held = {"a": asyncio.Event(), "b": asyncio.Event()}
    release = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def hold_a_and_b(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name in held and group == "db" and not release[tenant.name].is_set():
            held[tenant.name].set()
            await release[tenant.name].wait()
        return Status.OK, None

    runner = FakeRunner(behaviour=hold_a_and_b)
    engine, _ = engine_for(fleet, store, runner)
    await engine.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in held.values())), 10)
        engine.check_now("e")
        await runner.wait_until(lambda: ("e", "db") in engine.in_flight())
        release["b"].set()
        await runner.wait_until(lambda: runner.finished("e", "db") >= 1)
        release["a"].set()
        await runner.wait_until(lambda: runner.fleet_runs == 1 and not engine.in_flight())
    finally:
        await engine.stop()
    db_order = [r.tenant for r in runner.runs if r.group == "db"]
    assert db_order.index("e") < db_order.index("c"), db_order


async def test_run_once_runs_the_chosen_tenants_and_groups_and_records_them(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a", "b", "c"], poll=LONG)
    runner = FakeRunner()
    engine, collector = engine_for(fleet, store, runner)
    results = await engine.run_once(["a", "c"], ["db", "config"])
    await engine.stop()
    assert sorted((r.tenant, r.check) for r in results) == sorted(
        (t, c) for t in "ac" for c in ("db", "config:whatsapp", "config:email", "isolation")
    )
    assert sorted(r.key for r in store.latest()) == sorted(r.key for r in results)
    assert sorted(r.key for r in collector.results()) == sorted(r.key for r in results)
    only_db = await engine.run_once(groups=["db"])
    assert sorted(r.key for r in only_db) == [("a", "db"), ("b", "db"), ("c", "db")]


async def test_run_once_can_leave_out_the_fleet_wide_check(tmp_path: Path, store: ResultStore) -> None:
    fleet = make_fleet(tmp_path, ["a", "b", "c"], poll=LONG)
    runner = FakeRunner()
    engine, _ = engine_for(fleet, store, runner)
    results = await engine.run_once(["a"], ["db", "config"], fleet_wide=False)
    await engine.stop()
    assert sorted(r.check for r in results) == ["config:email", "config:whatsapp", "db"]
    assert runner.fleet_runs == 0


async def test_a_crashing_runner_gives_unknown_results_without_secrets(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a"], poll=LONG,
                       urls={"a": "mongodb://ops:canary-pw-123@127.0.0.1:9/a"})

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        raise ValueError(f"cannot reach {tenant.mongo.url} (password canary-pw-123)")

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner)
    results = await engine.run_once(groups=["db", "integrations"])
    await engine.stop()
    assert {(r.check, r.status) for r in results} == {("db", Status.UNKNOWN), ("whatsapp", Status.UNKNOWN)}
    assert all("ValueError" in r.summary and "canary-pw-123" not in r.summary for r in results)


async def test_a_failing_callback_does_not_stop_the_engine(tmp_path: Path, store: ResultStore) -> None:
    fleet = make_fleet(tmp_path, ["a"], poll={"db_interval": 0.1, "config_interval": 600,
                                                "integration_interval": 600})
    runner = FakeRunner()
    calls = 0

    def explode(results: list[CheckResult], transitions: list[Transition]) -> None:
        nonlocal calls
        calls += 1
        runner.poke()
        raise RuntimeError("callback bug")

    engine = Engine(fleet, store=store, runner=runner, on_results=explode)  # type: ignore[arg-type]
    await engine.start()
    try:
        await runner.wait_until(lambda: calls >= 4)
    finally:
        await engine.stop()
    assert len(store.history("a", "db")) >= 3


async def test_history_latest_and_transitions_survive_an_engine_restart(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path, ["a"], poll={"db_interval": 0.4, "config_interval": 600,
                                                "integration_interval": 600})
    path = tmp_path / "state" / "opsdash.sqlite3"
    status = Status.OK

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        return status, None

    runner = FakeRunner(behaviour)
    store = ResultStore(path)
    engine, _ = engine_for(fleet, store, runner)
    await engine.start()
    await runner.wait_until(lambda: runner.finished("a", "db") >= 3)
    await engine.stop()
    before = (store.latest(), store.history("a", "db"), store.transitions())
    store.close()

    status = Status.WARN
    reopened = ResultStore(path)
    assert (reopened.latest(), reopened.history("a", "db"), reopened.transitions()) == before
    runner2 = FakeRunner(behaviour)
    engine2, collector2 = engine_for(fleet, reopened, runner2)
    await engine2.start()
    try:
        await runner2.wait_until(lambda: runner2.finished("a", "db") >= 2)
    finally:
        await engine2.stop()
    changes = [t for _, ts in collector2.batches for t in ts if t.check == "db"]
    assert [(t.old, t.new) for t in changes] == [(Status.OK, Status.WARN)]
    history = reopened.history("a", "db")
    assert history[: len(before[1])] == before[1]
    assert [t.new for t in reopened.transitions("a") if t.check == "db"] == [Status.OK, Status.WARN]
    reopened.close()


async def test_stop_waits_for_in_flight_runs_and_grace_cancels_stragglers(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a", "b"], poll={**LONG, "db_timeout": 30})
    release = asyncio.Event()

    async def behaviour(tenant: Tenant, group: CheckGroup) -> Outcome:
        if tenant.name == "a":
            release.set()
            return Status.OK, None
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    runner = FakeRunner(behaviour)
    engine, _ = engine_for(fleet, store, runner)
    await engine.start()
    engine.check_now()
    await runner.wait_until(lambda: runner.finished("a", "db") >= 1 and len(runner.starts("b", "db")) >= 1)
    started = time.monotonic()
    await engine.stop(grace=0.2)
    assert time.monotonic() - started < 5
    assert engine.in_flight() == frozenset()
    assert store.latest_one("b", "db") is None
    assert not engine.running


async def test_a_pass_reads_the_stores_heads_while_its_checks_run(tmp_path: Path) -> None:
    """What a cron'd ``opsdash check`` meets: a store file with history, opened afresh. The pass reads its
    tenants' heads in a thread while its checks wait for answers, so its record, after the last answer,
    reads none; the transitions are still judged against what the file holds."""
    path = tmp_path / "state" / "opsdash.sqlite3"
    fleet = make_fleet(tmp_path, ["a", "b"], poll=LONG)
    with ResultStore(path) as earlier:
        engine, _ = engine_for(fleet, earlier, FakeRunner())
        await engine.run_once(groups=["db", "config"])
        await engine.stop()
    heads_read = threading.Event()
    reads_on_the_loop: list[str] = []
    loop_thread = threading.get_ident()

    def trace(statement: str) -> None:
        if "FROM series s LEFT JOIN bodies" in statement:
            if threading.get_ident() == loop_thread:
                reads_on_the_loop.append(statement)
            heads_read.set()

    answered_after_the_heads: list[bool] = []

    async def answer_once_the_heads_are_read(tenant: Tenant, group: CheckGroup) -> Outcome:
        answered_after_the_heads.append(await asyncio.to_thread(heads_read.wait, 5.0))
        return Status.OK, None

    with ResultStore(path) as reopened:
        reopened._connection().set_trace_callback(trace)
        engine, collector = engine_for(fleet, reopened, FakeRunner(answer_once_the_heads_are_read))
        results = await engine.run_once(groups=["db", "config"])
        await engine.stop()
    assert len(results) == 8
    assert answered_after_the_heads == [True] * 4
    assert reads_on_the_loop == []
    assert [transitions for _, transitions in collector.batches] == [[]]


async def test_a_pass_whose_loop_can_start_no_thread_still_records(
    tmp_path: Path, store: ResultStore
) -> None:
    fleet = make_fleet(tmp_path, ["a", "b"], poll=LONG)
    engine, collector = engine_for(fleet, store, FakeRunner())
    await asyncio.get_running_loop().shutdown_default_executor()
    results = await engine.run_once(groups=["db"])
    await engine.stop()
    assert sorted(r.key for r in results) == [("a", "db"), ("b", "db")]
    assert sorted(r.key for r in store.latest()) == [("a", "db"), ("b", "db")]
    assert [[(t.tenant, t.new) for t in transitions] for _, transitions in collector.batches] == [
        [("a", Status.OK), ("b", Status.OK)]
    ]
