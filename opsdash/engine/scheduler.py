"""The engine: polls every tenant's check groups on a schedule and hands each batch to the store.

One APScheduler job per (tenant, group). The first picture is one sweep: the db and config checks of
every tenant in one pass, each tenant's env and Company documents read once and shared by both groups
and the fleet-wide check (as ``run_once`` does), each tenant's results handed on as soon as they are in.
Each tenant's db and config jobs then run every interval, the next run within one interval of the end
of its sweep (``resume_offset``). The integration probes start staggered across a short start window
(without every tenant hitting its SaaS endpoints in the same instant), then run every interval.

Two semaphores cap concurrent runs: one for the runs that read tenant databases (db, config, the
fleet-wide check), one for the integration probes, so that slow SaaS or SMTP endpoints never hold back
the database checks. A hard deadline ends a hung run with ``timeout_results``; a run never overlaps its
own previous run; a failing target backs off exponentially. The results of the scheduled runs that end
within ``PUBLISH_EVERY_S`` go together to ``store.record()`` and then to ``on_results(results,
transitions)``, also when the store refuses them (without transitions then); a ``run_once`` pass is one
batch of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CHECK_GROUPS, CheckContext, CheckGroup, group_deadline, group_interval
from opsdash.config.fleet import Fleet, Tenant
from opsdash.engine import pass_cache
from opsdash.engine.backoff import DEFAULT_JITTER, backoff_delay, is_target_failure
from opsdash.engine.fanout import each_bounded
from opsdash.engine.gc_policy import pace_for_sweeps
from opsdash.engine.store import ResultStore, Transition
from opsdash.redact import scrub

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

logger = logging.getLogger(__name__)

FLEET_JOB = "fleet"
ISOLATION_CHECK = "isolation"
PRUNE_EVERY_S = 3600.0
STAGGER_PER_TENANT_S = 0.005
"""Start window per tenant for the integration probes: 1,000 tenants' first probes start within 5 s."""
STAGGER_MIN_S = 1.0
PUBLISH_EVERY_S = 0.2
"""Scheduled runs' results are recorded and handed on together at most this often: one store transaction
and one callback for all the runs that ended in the window, rather than one per run (1,000 tenants start
3,000 runs within seconds)."""
RECORD_RETRY_S = 5.0
"""After the store refuses a batch, the results wait this long in memory before it is tried again, so a
store locked for good holds the loop up for its busy timeout once per this, not once per batch."""
UNRECORDED_MAX = 100_000
"""Results kept in memory for a store that refuses them, at most; the oldest go first."""
FLUSH_BUSY_TIMEOUT_S = 0.5
"""How long a scheduled batch (or the hourly prune) waits for another process's write lock on the store
before it is refused (a batch is kept for later): the wait holds up the engine's loop, and every check
with it, where the store's own wait is 10 s."""
CLUSTER_GROUPS: tuple[CheckGroup, ...] = ("db", "config")
"""The groups whose runs read the tenant's cluster: they fail, back off and come back with it. The
engine's first sweep runs these."""
ResultsCallback = Callable[[list[CheckResult], list[Transition]], None]
JobGroup = CheckGroup | Literal["fleet"]


class Runner(Protocol):
    """What the engine needs from ``opsdash.checks.runner`` (a module, or a fake in tests)."""

    async def run_group(
        self, ctx: CheckContext, tenant: Tenant, group: CheckGroup, deadline_s: float
    ) -> list[CheckResult]: ...

    async def run_fleet(self, ctx: CheckContext, deadline_s: float) -> list[CheckResult]: ...

    def group_check_ids(self, fleet: Fleet, group: CheckGroup) -> tuple[str, ...]: ...

    def timeout_results(
        self,
        tenant: Tenant,
        fleet: Fleet,
        group: CheckGroup,
        deadline_s: float,
        started: datetime,
        *,
        ctx: CheckContext | None = None,
    ) -> list[CheckResult]: ...


@dataclass(frozen=True)
class JobInfo:
    """One scheduled job as the engine sees it; ``tenant`` is None for the fleet-wide job."""

    tenant: str | None
    group: JobGroup
    interval: float
    delay: float
    """Seconds between runs right now: the interval, or the backoff delay while the target fails."""
    failures: int
    next_run: datetime | None
    running: bool


def utc_now() -> datetime:
    return datetime.now(UTC)


def io_threads(fleet: Fleet) -> int:
    """Threads for the loop's default executor: one blocking call (DNS lookup, env read) per run the
    engine lets happen at once, in both lanes (see ``opsdash.engine.loop.widen_default_executor``)."""
    return fleet.poll.max_concurrency + fleet.poll.integration_concurrency


def start_window(tenants: int, interval: float) -> float:
    """Seconds over which first runs are spread: about 5 ms per tenant, at least 1 s, at most the interval."""
    return min(interval, max(STAGGER_MIN_S, tenants * STAGGER_PER_TENANT_S))


def resume_offset(index: int, count: int, interval: float, group_index: int) -> float:
    """Seconds from the end of a tenant's part of the first sweep to its next run of a swept group.

    The ``index``-th of ``count`` tenants is spread over the second half of one interval, and the
    groups of one tenant are a share of a slot apart. So the fleet's runs stay spread rather than
    arriving together, every tenant's next result comes within one interval of its first, and a sweep
    shorter than half an interval runs no tenant twice while it lasts: re-running the tenants done
    first spread over the whole interval made the first picture at 1,000 tenants 0.7 s slower
    (5.35 s against 4.65 s, medians of eight alternating rounds of ``bench/scheduled.py``)."""
    phase = (group_index + 1) / (len(CLUSTER_GROUPS) + 1)
    return interval * (1 + (index + phase) / count) / 2


def stagger_offsets(count: int, interval: float, phase: float = 0.0) -> list[float]:
    """First-run offsets (seconds) spreading ``count`` jobs evenly over one interval.

    ``phase`` (0..1) shifts the whole set by a share of one slot, so different groups of the same
    tenant do not start together.
    """
    return [interval * ((i + phase) / count) for i in range(count)]


def failed_run_results(
    tenant: str,
    check_ids: Sequence[str],
    *,
    status: Status,
    error_class: Literal["timeout", "protocol"] | None,
    summary: str,
    started: datetime,
    now: datetime,
) -> list[CheckResult]:
    """One result per check id for a run that produced none of its own (it crashed or timed out)."""
    duration = max(0.0, (now - started).total_seconds())
    return [
        CheckResult(
            tenant=tenant,
            check=check,
            status=status,
            summary=summary,
            error_class=error_class,
            duration_s=duration,
            timestamp=now,
        )
        for check in check_ids
    ]


def _quiet_executor() -> Any:
    """APScheduler's asyncio executor, except that shutdown leaves job tasks alone: ``Engine.stop`` owns the
    runs in flight (waits, then cancels them), and a job cancelled by the executor would be logged as a
    failure with a traceback. Jobs that start after shutdown return at once. (APScheduler is imported
    here, not at module level: ``opsdash check`` uses ``run_once`` only.)"""
    from apscheduler.executors.asyncio import AsyncIOExecutor

    class EngineExecutor(AsyncIOExecutor):  # type: ignore[misc]
        def shutdown(self, wait: bool = True) -> None:
            self._pending_futures.clear()

    return EngineExecutor()


def _move(job: Any, next_run: datetime) -> None:
    """Give a job its next run. Outside any pass: the scheduler's wakeup that this asks for inherits the
    caller's context, and so would every run and wakeup after it (``pass_cache.outside``)."""
    pass_cache.outside(job.modify, next_run_time=next_run)


def _default_runner() -> Runner:
    from opsdash.checks import runner

    return runner  # type: ignore[return-value]


class Engine:
    """Schedules and runs checks for a fleet on the running asyncio loop."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        store: ResultStore,
        ctx: CheckContext | None = None,
        on_results: ResultsCallback | None = None,
        runner: Runner | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: bool = True,
        publish_every_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self.fleet = fleet
        self.store = store
        self.on_results = on_results
        self.runner: Runner = runner if runner is not None else _default_runner()
        self._ctx = ctx
        self._owns_ctx = ctx is None
        self._clock = clock
        self._jitter = DEFAULT_JITTER if jitter else 0.0
        self._slots = asyncio.Semaphore(fleet.poll.max_concurrency)
        self._probe_slots = asyncio.Semaphore(fleet.poll.integration_concurrency)
        self._scheduler: AsyncIOScheduler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[tuple[str | None, JobGroup]] = set()
        self._failures: dict[tuple[str, CheckGroup], int] = {}
        self._peers: dict[tuple[Any, ...], list[Tenant]] | None = None
        self._delays: dict[tuple[str, CheckGroup], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._publish_every_s = publish_every_s
        self._pending: list[CheckResult] = []
        self._unrecorded: list[CheckResult] = []
        """Results the store refused, oldest first, to record with the next batch it takes."""
        self._unrecorded_dropped = 0
        self._refused_at = 0.0
        """When the store last refused a batch (monotonic seconds)."""
        self._store_refusal: str | None = None
        self._sweep_waiting: set[str] = set()
        """Tenants the first sweep has yet to start on."""
        self._sweeping = False
        self._flush_handle: asyncio.TimerHandle | None = None
        self._stopping = False
        pace_for_sweeps(len(fleet.tenants))

    @property
    def ctx(self) -> CheckContext:
        """The shared drivers (one MongoDB client per cluster and credentials), created on first use."""
        if self._ctx is None:
            self._ctx = CheckContext.create(self.fleet)
        return self._ctx

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        """The APScheduler instance while running (to add listeners); None when stopped."""
        return self._scheduler

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def in_flight(self) -> frozenset[tuple[str | None, JobGroup]]:
        """(tenant, group) pairs running or waiting for a concurrency slot; tenant None is the fleet job."""
        return frozenset(self._in_flight)

    async def start(self) -> None:
        """Schedule every (tenant, group) job and the fleet job on the running loop and start the first
        sweep (``_first_sweep``): the db and config jobs and the fleet job wait for it; the integration
        probes start staggered over ``start_window``."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        if self._scheduler is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        scheduler = AsyncIOScheduler(
            event_loop=self._loop,
            executors={"default": _quiet_executor()},
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        now = utc_now()
        tenants = self.fleet.tenants
        for group_index, group in enumerate(CHECK_GROUPS):
            phase = group_index / len(CHECK_GROUPS)
            for tenant, offset in zip(
                tenants, stagger_offsets(len(tenants), 1.0, phase), strict=True
            ):
                interval = group_interval(tenant.poll, group)
                first_run = None
                if group not in CLUSTER_GROUPS:
                    first_run = now + timedelta(seconds=offset * start_window(len(tenants), interval))
                scheduler.add_job(
                    self._fire_group,
                    IntervalTrigger(seconds=interval, start_date=now, timezone=UTC),
                    args=(tenant, group),
                    id=self._job_id(tenant.name, group),
                    name=f"{group} checks of {tenant.name}",
                    next_run_time=first_run,
                )
        fleet_interval = group_interval(self.fleet.poll, "config")
        scheduler.add_job(
            self._fire_fleet,
            IntervalTrigger(seconds=fleet_interval, start_date=now, timezone=UTC),
            id=FLEET_JOB,
            name="fleet-wide checks",
            next_run_time=None if tenants else now,
        )
        scheduler.add_job(
            self._prune,
            IntervalTrigger(seconds=PRUNE_EVERY_S, start_date=now, timezone=UTC),
            id="prune",
            name="results store retention",
            next_run_time=now,
        )
        scheduler.start()
        self._scheduler = scheduler
        if tenants:
            self._spawn(self._first_sweep())

    async def _first_sweep(self) -> None:
        """The first picture: one pass over the db and config checks of every tenant (a tenant's reads
        shared by both groups and the fleet-wide check, as in ``run_once``), each tenant's results handed
        on as they come in (a db result that left its size behind, once the size is in), then the
        fleet-wide check on what the pass read. Each tenant's db and config jobs resume as its part ends
        (``_sweep_tenant``), the fleet job once the pass has ended. A pass costs far less than the same
        runs each reading for itself: at 1,000 tenants the first picture comes in 1.7-4.6 s, by the
        machine's load, instead of 6.5-8.2 s (bench/scheduled.py)."""
        tenants = self.fleet.tenants
        self._sweeping, self._sweep_waiting = True, {t.name for t in tenants}
        self._load_heads_alongside(tenants)
        try:
            with pass_cache.sweep(tenants) as cache:
                await each_bounded(
                    list(enumerate(tenants)),
                    lambda indexed: self._sweep_tenant(indexed[1], indexed[0]),
                    self._workers(CLUSTER_GROUPS),
                )
                await cache.finish_later()
                await self._run_fleet(None)
        finally:
            self._sweeping, self._sweep_waiting = False, set()
            self._resume(FLEET_JOB, group_interval(self.fleet.poll, "config"))

    async def _sweep_tenant(self, tenant: Tenant, index: int) -> None:
        """The tenant's part of the first sweep, published; its jobs resume however it ends (a stop
        resumes nothing)."""
        self._sweep_waiting.discard(tenant.name)
        try:
            results = await self._run_tenant(tenant, CLUSTER_GROUPS)
            cache = pass_cache.current()
            whole = []
            for result in results:
                rest = cache.left((result.tenant, result.check)) if cache is not None else None
                if rest is None:
                    whole.append(result)
                else:
                    rest.add_done_callback(self._publish_rest)
            self._publish_soon(whole)
        finally:
            self._resume_after_sweep(tenant, index)

    def _publish_rest(self, rest: asyncio.Future[CheckResult]) -> None:
        """Publish a result whose check left its rest behind, once it is whole (not if the sweep was
        stopped)."""
        if not rest.cancelled() and rest.exception() is None:
            self._publish_soon([rest.result()])

    def _resume_after_sweep(self, tenant: Tenant, index: int) -> None:
        """Give the tenant's swept jobs their next run (``resume_offset``), unless a backoff already did."""
        count = len(self.fleet.tenants)
        for group_index, group in enumerate(CLUSTER_GROUPS):
            interval = group_interval(tenant.poll, group)
            self._resume(self._job_id(tenant.name, group), resume_offset(index, count, interval, group_index))

    def _resume(self, job_id: str, delay: float) -> None:
        """Start a job that waits for the first sweep, ``delay`` seconds from now."""
        scheduler = self._scheduler
        if scheduler is None or self._stopping:
            return
        job = scheduler.get_job(job_id)
        if job is not None and job.next_run_time is None:
            _move(job, utc_now() + timedelta(seconds=delay))

    async def stop(self, grace: float | None = None) -> None:
        """Stop scheduling, wait for in-flight runs and the reads they left (up to ``grace`` seconds, then
        cancel them, and any read a cancelled run leaves), and close the drivers this engine created.
        Idempotent; a stopped engine can still ``run_once``."""
        self._stopping = True
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        loop, current = asyncio.get_running_loop(), asyncio.current_task()
        until = None if grace is None else loop.time() + grace
        while pending := {
            t for t in (*self._tasks, *pass_cache.running_reads()) if not t.done() and t is not current
        }:
            _, late = await asyncio.wait(pending, timeout=None if until is None else until - loop.time())
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._flush()
        if self._unrecorded:
            self._record([], FLUSH_BUSY_TIMEOUT_S)
        if self._unrecorded:
            logger.error(
                "the results store %s refused %d results; they are not kept", self.store.path,
                len(self._unrecorded) + self._unrecorded_dropped,
            )
            self._unrecorded, self._unrecorded_dropped = [], 0
        if self._owns_ctx and self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            await ctx.aclose()
        self._stopping = False

    async def run_once(
        self,
        tenants: Sequence[str] | None = None,
        groups: Sequence[CheckGroup] | None = None,
        *,
        fleet_wide: bool = True,
    ) -> list[CheckResult]:
        """One pass over the chosen tenants and groups, concurrently under the cap; recorded (one batch,
        one transaction) and returned.

        Within the pass each tenant's env and Company documents are read once (``pass_cache``) and a
        tenant's groups share one concurrency slot: db then config (which only reads what db read), with
        integrations alongside. The fleet-wide isolation check runs after them with the "config" group
        (limited to the chosen tenants), from the reads already made, unless ``fleet_wide`` is False: for
        a few tenants it reads every other tenant's Company. A db check whose reads are in while its
        cluster still lists its databases' sizes leaves the size behind (``db.run``), and the pass adds it
        before anything is recorded. The pass is recorded before it ends, so that the store reuses the
        content its checks serialised to scrub it (``opsdash.checks.content``). A pair already running
        (started by the schedule) is skipped. Shared reads still running when the pass ends (a caller gave
        up at its deadline; each ends on the driver's own timeout) are left to finish, and ``stop`` waits
        for them before closing the clients they use.
        """
        selected = self.fleet.select(tenants)
        chosen = tuple(groups) if groups else CHECK_GROUPS
        heads_loaded = self._load_heads_alongside(selected)
        with pass_cache.sweep(selected) as cache:
            batches = await each_bounded(
                selected, lambda tenant: self._run_tenant(tenant, chosen), self._workers(chosen)
            )
            finished = await cache.finish_later()
            if finished:
                position = {tenant.name: i for i, tenant in enumerate(selected)}
                for (tenant_name, check), whole in finished.items():
                    batch = batches[position[tenant_name]]
                    batch[:] = [whole if r.check == check else r for r in batch]
            if fleet_wide and "config" in chosen:
                batches.append(await self._run_fleet(frozenset(t.name for t in selected), publish=False))
            results = [result for batch in batches for result in batch]
            await heads_loaded
            transitions = self._record(results) if results else []
        self._announce(results, transitions)
        return results

    def _load_heads_alongside(self, tenants: Sequence[Tenant]) -> asyncio.Future[bool]:
        """Read the store's heads of these tenants (``ResultStore.load_heads``) in a thread, while the pass
        starting now waits for its first answers, rather than in the pass's record, after its last. A loop
        that can start no thread now leaves them to the record."""
        names = [tenant.name for tenant in tenants]
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(None, self.store.load_heads, names)
        except RuntimeError:
            skipped: asyncio.Future[bool] = loop.create_future()
            skipped.set_result(False)
            return skipped

    @property
    def store_refusal(self) -> str | None:
        """Why the results store refused the last batch it was given (``OperationalError: database is
        locked``), until it records one again; None while it records."""
        return self._store_refusal

    def check_now(self, tenant: str | None = None) -> None:
        """Run every group of one tenant (or of all, plus the fleet check) now; safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._scheduler is None:
            raise RuntimeError("the engine is not running")
        if tenant is not None:
            self.fleet.tenant(tenant)
        loop.call_soon_threadsafe(self._check_now_on_loop, tenant)

    def jobs(self) -> list[JobInfo]:
        """Every (tenant, group) job and the fleet job, with its pace and next run."""
        scheduler = self._scheduler
        next_runs: dict[str, datetime | None] = {}
        if scheduler is not None:
            next_runs = {job.id: job.next_run_time for job in scheduler.get_jobs()}
        infos = []
        for tenant in self.fleet.tenants:
            for group in CHECK_GROUPS:
                key = (tenant.name, group)
                interval = group_interval(tenant.poll, group)
                infos.append(
                    JobInfo(
                        tenant=tenant.name,
                        group=group,
                        interval=interval,
                        delay=self._delays.get(key, interval),
                        failures=self._failures.get(key, 0),
                        next_run=next_runs.get(self._job_id(tenant.name, group)),
                        running=key in self._in_flight,
                    )
                )
        fleet_interval = group_interval(self.fleet.poll, "config")
        infos.append(
            JobInfo(None, FLEET_JOB, fleet_interval, fleet_interval, 0, next_runs.get(FLEET_JOB),
                    (None, FLEET_JOB) in self._in_flight)
        )
        return infos

    def job(self, tenant: str, group: CheckGroup) -> JobInfo:
        return next(j for j in self.jobs() if j.tenant == tenant and j.group == group)

    @staticmethod
    def _job_id(tenant: str, group: CheckGroup) -> str:
        return f"{group}:{tenant}"

    def _spawn(self, run: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task of the engine's, started outside any pass (the first sweep opens its own)."""
        task: asyncio.Task[Any] = pass_cache.outside(asyncio.ensure_future, run)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _fire_group(self, tenant: Tenant, group: CheckGroup) -> None:
        # Shielded, and a cancellation is the end of the job, not its failure: stop() decides about runs.
        if self._scheduler is None:
            return
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._spawn(self._run_group(tenant, group)))

    async def _fire_fleet(self) -> None:
        if self._scheduler is None:
            return
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._spawn(self._run_fleet(None)))

    def _check_now_on_loop(self, tenant: str | None) -> None:
        """Spawn the runs ``check_now`` asks for. While the first sweep runs, a check of everyone leaves
        it the db and config checks of the tenants it has yet to start on, and the fleet-wide check it
        ends with: run apart from it, each would read for itself what the sweep reads once."""
        if self._stopping or self._scheduler is None:
            return
        everyone = tenant is None
        for chosen in self.fleet.select(None if everyone else [tenant]):
            left_to_sweep = everyone and chosen.name in self._sweep_waiting
            for group in CHECK_GROUPS:
                if not (left_to_sweep and group in CLUSTER_GROUPS):
                    self._spawn(self._run_group(chosen, group))
        if everyone and not self._sweeping:
            self._spawn(self._run_fleet(None))

    async def _run_group(
        self, tenant: Tenant, group: CheckGroup, *, publish: bool = True
    ) -> list[CheckResult]:
        key = (tenant.name, group)
        if key in self._in_flight:
            return []
        self._in_flight.add(key)
        try:
            async with self._lane(group):
                results = await self._execute(tenant, group)
        finally:
            self._in_flight.discard(key)
        self._pace(tenant, group, results)
        if publish:
            self._publish_soon(results)
        return results

    def _workers(self, groups: Sequence[CheckGroup]) -> int:
        """Tenants a pass over these groups keeps in flight: enough to fill every lane they use."""
        poll = self.fleet.poll
        lanes = poll.max_concurrency if any(g != "integrations" for g in groups) else 0
        return lanes + (poll.integration_concurrency if "integrations" in groups else 0)

    def _lane(self, group: CheckGroup) -> asyncio.Semaphore:
        """The concurrency cap a group's runs share: integration probes have their own."""
        return self._probe_slots if group == "integrations" else self._slots

    async def _run_tenant(self, tenant: Tenant, groups: Sequence[CheckGroup]) -> list[CheckResult]:
        """Some groups of one tenant (for ``run_once``), not published: db then config in one slot of
        the database lane, the integration probes alongside in one slot of theirs."""
        mine = [g for g in groups if (tenant.name, g) not in self._in_flight]
        if not mine:
            return []
        keys = [(tenant.name, g) for g in mine]
        self._in_flight.update(keys)
        reads = [g for g in mine if g != "integrations"]
        try:
            if "integrations" not in mine:
                chain, probes = await self._execute_in_order(tenant, reads), None
            elif not reads:
                chain, probes = [], await self._probe(tenant)
            else:
                chain, probes = await asyncio.gather(
                    self._execute_in_order(tenant, reads), self._probe(tenant)
                )
        finally:
            self._in_flight.difference_update(keys)
        by_group = dict(zip(reads, chain, strict=True))
        if probes is not None:
            by_group["integrations"] = probes
        for group in mine:
            self._pace(tenant, group, by_group[group])
        return [result for group in mine for result in by_group[group]]

    async def _execute_in_order(
        self, tenant: Tenant, groups: Sequence[CheckGroup]
    ) -> list[list[CheckResult]]:
        if not groups:
            return []
        async with self._slots:
            return [await self._execute(tenant, g) for g in groups]

    async def _probe(self, tenant: Tenant) -> list[CheckResult]:
        async with self._probe_slots:
            return await self._execute(tenant, "integrations")

    async def _execute(self, tenant: Tenant, group: CheckGroup) -> list[CheckResult]:
        """One group's results within its hard deadline: ``timeout_results`` when it blows it, UNKNOWN
        results when the runner crashes."""
        deadline = group_deadline(tenant.poll, group)
        started = self._clock()
        try:
            async with asyncio.timeout(deadline):
                return await self.runner.run_group(self.ctx, tenant, group, deadline)
        except TimeoutError:
            return self.runner.timeout_results(tenant, self.fleet, group, deadline, started, ctx=self._ctx)
        except Exception as exc:
            logger.exception("check group %s of tenant %s crashed", group, tenant.name)
            return failed_run_results(
                tenant.name,
                self.runner.group_check_ids(self.fleet, group),
                status=Status.UNKNOWN,
                error_class=None,
                summary=scrub(f"opsdash could not run this check: {type(exc).__name__}: {exc}",
                              [p for p in [tenant.mongo.password] if p])[:300],
                started=started,
                now=self._clock(),
            )

    async def _run_fleet(self, only: frozenset[str] | None, *, publish: bool = True) -> list[CheckResult]:
        """The fleet-wide check; a scheduled run gets a pass of its own (one address lookup per cluster,
        the tenants' recent loads reused), ``run_once`` shares its pass."""
        if pass_cache.current() is not None:
            return await self._run_fleet_in_pass(only, publish=publish)
        with pass_cache.sweep():
            return await self._run_fleet_in_pass(only, publish=publish)

    async def _run_fleet_in_pass(
        self, only: frozenset[str] | None, *, publish: bool = True
    ) -> list[CheckResult]:
        key = (None, FLEET_JOB)
        if key in self._in_flight:
            return []
        self._in_flight.add(key)
        try:
            async with self._slots:
                deadline = group_deadline(self.fleet.poll, "config")
                started = self._clock()
                try:
                    results = await asyncio.wait_for(self.runner.run_fleet(self.ctx, deadline), deadline)
                except TimeoutError:
                    results = self._fleet_failure(
                        Status.UNKNOWN, "timeout", f"isolation check did not finish within {deadline:g}s",
                        started,
                    )
                except Exception as exc:
                    logger.exception("fleet check crashed")
                    results = self._fleet_failure(
                        Status.UNKNOWN, None, f"opsdash could not run this check: {type(exc).__name__}",
                        started,
                    )
        finally:
            self._in_flight.discard(key)
        if only is not None:
            results = [r for r in results if r.tenant in only]
        if publish:
            self._publish_soon(results)
        return results

    def _fleet_failure(
        self, status: Status, error_class: Literal["timeout"] | None, summary: str, started: datetime
    ) -> list[CheckResult]:
        now = self._clock()
        return [
            result
            for tenant in self.fleet.tenants
            for result in failed_run_results(
                tenant.name, (ISOLATION_CHECK,), status=status, error_class=error_class,
                summary=summary, started=started, now=now,
            )
        ]

    def _pace(self, tenant: Tenant, group: CheckGroup, results: list[CheckResult]) -> None:
        """Count consecutive target failures and move the job's next run to match the backoff."""
        key = (tenant.name, group)
        interval = group_interval(tenant.poll, group)
        previous = self._failures.get(key, 0)
        failures = previous + 1 if is_target_failure(results) else 0
        delay = backoff_delay(failures, interval, tenant.poll.backoff_max, jitter=self._jitter)
        self._failures[key] = failures
        self._delays[key] = delay
        scheduler = self._scheduler
        if scheduler is None or self._stopping or (failures == 0 and previous == 0):
            return
        job = scheduler.get_job(self._job_id(tenant.name, group))
        if job is not None:
            _move(job, utc_now() + timedelta(seconds=delay))
        if failures == 0 and group == "db":
            self._cluster_answered(tenant)

    def _cluster_answered(self, tenant: Tenant) -> None:
        """The tenant's cluster answered after failing: the runs that read it and back off (the tenant's
        own, and those of every tenant reaching it with the same credentials) run now, so that a cluster
        back from an outage is seen within a run rather than a backoff step (up to ``backoff_max``)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        now = utc_now()
        for peer in self._cluster_peers().get(tenant.mongo.cluster_key, ()):
            for group in CLUSTER_GROUPS:
                key = (peer.name, group)
                if self._failures.get(key, 0) == 0 or key in self._in_flight:
                    continue
                job = scheduler.get_job(self._job_id(peer.name, group))
                if job is not None and job.next_run_time is not None and job.next_run_time > now:
                    _move(job, now)

    def _cluster_peers(self) -> dict[tuple[Any, ...], list[Tenant]]:
        if self._peers is None:
            peers: dict[tuple[Any, ...], list[Tenant]] = {}
            for tenant in self.fleet.tenants:
                peers.setdefault(tenant.mongo.cluster_key, []).append(tenant)
            self._peers = peers
        return self._peers

    def _publish_soon(self, results: list[CheckResult]) -> None:
        """Publish with the other results of the next ``publish_every_s`` (default ``PUBLISH_EVERY_S``)."""
        if not results:
            return
        self._pending.extend(results)
        if self._flush_handle is None:
            self._flush_handle = pass_cache.outside(
                asyncio.get_running_loop().call_later, self._publish_every_s, self._flush
            )

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        pending, self._pending = self._pending, []
        try:
            self._publish(pending, busy_timeout_s=FLUSH_BUSY_TIMEOUT_S)
        except Exception:
            logger.exception("recording %d check results failed", len(pending))

    def _publish(self, results: list[CheckResult], busy_timeout_s: float | None = None) -> None:
        if results:
            self._announce(results, self._record(results, busy_timeout_s))

    def _announce(self, results: list[CheckResult], transitions: list[Transition]) -> None:
        if not results or self.on_results is None:
            return
        try:
            self.on_results(results, transitions)
        except Exception:
            logger.exception("on_results callback failed")

    def _record(self, results: list[CheckResult], busy_timeout_s: float | None = None) -> list[Transition]:
        """Record a batch, after the results an earlier batch could not record.

        A store that refuses (a full disk, a file locked past its busy timeout, a broken file) never costs
        a batch its place on the screen and in the alerts, only its transitions. Its results wait in
        memory (``UNRECORDED_MAX`` at most) and are tried again with a batch at least ``RECORD_RETRY_S``
        later, whose transitions then include theirs. One error when the store starts refusing, one
        warning when it records again."""
        waiting = self._unrecorded
        if waiting and time.monotonic() - self._refused_at < RECORD_RETRY_S:
            self._keep_unrecorded(results)
            return []
        try:
            transitions = self.store.record([*waiting, *results], busy_timeout_s=busy_timeout_s)
        except (sqlite3.Error, OSError) as exc:
            self._store_refusal = f"{type(exc).__name__}: {exc}"
            if not waiting:
                logger.error(
                    "the results store %s refused %d results (%s); they are shown and alerted on, and"
                    " kept in memory for now", self.store.path, len(results), self._store_refusal,
                )
            self._refused_at = time.monotonic()
            self._keep_unrecorded(results)
            return []
        self._store_refusal = None
        if waiting:
            dropped = self._unrecorded_dropped
            logger.warning(
                "the results store %s records again: %d results it refused are recorded now%s",
                self.store.path, len(waiting), f"; {dropped} older ones were dropped" if dropped else "",
            )
            self._unrecorded, self._unrecorded_dropped = [], 0
        return transitions

    def _keep_unrecorded(self, results: list[CheckResult]) -> None:
        self._unrecorded.extend(results)
        excess = len(self._unrecorded) - UNRECORDED_MAX
        if excess > 0:
            del self._unrecorded[:excess]
            self._unrecorded_dropped += excess

    async def _prune(self) -> None:
        if self._scheduler is None:
            return
        try:
            removed = self.store.prune(busy_timeout_s=FLUSH_BUSY_TIMEOUT_S)
        except (sqlite3.Error, OSError) as exc:
            logger.warning(
                "the results store %s was not pruned (%s: %s); next try in %g s", self.store.path,
                type(exc).__name__, exc, PRUNE_EVERY_S,
            )
            return
        if removed:
            logger.info("pruned %d old rows from the results store", removed)
