"""The ``db`` check: ping, latency, server version, Company count and size on disk of a tenant database.

The size is asked once per client (per cluster and credentials), kept for ``reuse.FACTS_MAX_AGE_S`` and
shared by every tenant on it: one ``listDatabases`` when the pass (or the fleet, outside a pass) has
several databases on the client, so that a fleet sweep sends one command per tenant, not two; a
``dbStats`` when it has one, which costs a server nothing however many databases it holds. Either way
it is the database's storage with its indexes (``sizeOnDisk``, ``totalSize``), which is what fills a disk
or a plan's quota. A user without the ``listDatabases`` privilege still sees the databases it may read.
The size is informational: failing to learn it never makes a check fail; the check reports the reason
instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from opsdash.checks.base import CheckResult, ErrorClass, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import Deadline, Verdict, to_result
from opsdash.config.fleet import Tenant
from opsdash.engine import pass_cache
from opsdash.engine.mongo import (
    COMPANY_READ_LIMIT,
    classify_mongo_error,
    describe_mongo_error,
    start_build_info,
    start_company_read,
)
from opsdash.engine.pass_cache import joined, shared

CHECK_ID = "db"
SIZES_RETRY_S = 60.0
"""How long a failed ask for the sizes stands before it is sent again."""


@dataclass(frozen=True)
class DbProbe:
    """What the probe saw; ``error`` set means it stopped there."""

    target: str
    database: str
    latency_ms: float | None = None
    version: str | None = None
    company_count: int | None = None
    size_on_disk: int | None = None
    error: str | None = None
    error_class: ErrorClass | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def company_findings(count: int | None, error: str | None) -> list[dict[str, Any]]:
    """Tenant-wide findings, with the same codes the resolution uses."""
    if error is not None:
        return [
            {
                "code": "db_unreachable",
                "severity": "crit",
                "service": None,
                "field": None,
                "message": f"Company read failed ({error}): services resolve to env, as the app falls back",
            }
        ]
    if count == 0:
        return [
            {
                "code": "no_company",
                "severity": "crit",
                "service": None,
                "field": None,
                "message": "no Company document: DB-backed services fall to env",
            }
        ]
    if count is not None and count > 1:
        return [
            {
                "code": "multiple_company",
                "severity": "warn",
                "service": None,
                "field": None,
                "message": f"{count} Company documents: the app's findFirst() without orderBy "
                "picks one arbitrarily",
            }
        ]
    return []


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def decide(probe: DbProbe) -> Verdict:
    """Pure: unreachable or failing CRIT; 0 Company CRIT; more than one WARN; else OK."""
    details: dict[str, Any] = {
        "target": probe.target,
        "database": probe.database,
        "latency_ms": probe.latency_ms,
        "version": probe.version,
        "company_count": probe.company_count,
        "size_on_disk": probe.size_on_disk,
        "findings": company_findings(probe.company_count, probe.error),
        **probe.extra,
    }
    if probe.error is not None:
        return Verdict(
            Status.CRIT, f"{probe.target}: {probe.error}", probe.error_class or "protocol", details
        )
    latency = f"{probe.latency_ms:.0f} ms" if probe.latency_ms is not None else "? ms"
    tail = f"{probe.target}, MongoDB {probe.version or '?'}, {latency}, {_size(probe.size_on_disk)} on disk"
    if probe.company_count == 0:
        return Verdict(Status.CRIT, f"no Company document ({tail})", "condition", details)
    if probe.company_count is not None and probe.company_count > 1:
        return Verdict(
            Status.WARN,
            f"{probe.company_count} Company documents: findFirst() picks one arbitrarily ({tail})",
            "condition",
            details,
        )
    return Verdict(Status.OK, f"ok: {tail}", None, details)


def _last_server_error(client: AsyncMongoClient[dict[str, Any]]) -> BaseException | None:
    """Why the driver could not select a server yet (refused, DNS...), when our own deadline fired first."""
    try:
        descriptions = client.topology_description.server_descriptions().values()
    except Exception:
        return None
    return next((d.error for d in descriptions if d.error is not None), None)


async def _timed_ping(
    client: AsyncMongoClient[dict[str, Any]], timeout_s: float
) -> float | PyMongoError:
    try:
        with pymongo.timeout(timeout_s):
            sent = time.perf_counter()
            await client.admin.command("ping")
            return (time.perf_counter() - sent) * 1000
    except PyMongoError as exc:
        return exc


def databases_by_client(tenants: Iterable[Tenant]) -> dict[tuple[Any, ...], list[str]]:
    """Pure: the tenants' database names by client (cluster and credentials), sorted."""
    names: dict[tuple[Any, ...], set[str]] = {}
    for tenant in tenants:
        names.setdefault(tenant.mongo.cluster_key, set()).add(tenant.mongo.database)
    return {key: sorted(databases) for key, databases in names.items()}


def _databases_to_size(ctx: CheckContext, tenant: Tenant) -> list[str]:
    """The databases on the tenant's client that this pass covers (the fleet's, outside a pass), the
    tenant's own among them; listed once per pass or fleet, as a fleet of tenants with credentials of
    their own has a client per tenant."""
    cache = pass_cache.current()
    scope = cache.tenants if cache is not None and cache.tenants is not None else ctx.fleet.tenants
    kept = ctx.reuse.databases_by_client
    if kept is None or kept[0] is not scope:
        kept = (scope, databases_by_client(scope))
        ctx.reuse.databases_by_client = kept
    names = kept[1].get(tenant.mongo.cluster_key, [])
    return names if tenant.mongo.database in names else [tenant.mongo.database, *names]


def size_command(names: list[str]) -> str:
    """Pure: ``dbStats`` for one database, ``listDatabases`` for several (it has no name filter: a
    server may compute every database's size first, or match a long ``$in`` name by name)."""
    return "dbStats" if len(names) == 1 else "listDatabases"


def stats_on_disk(stats: Mapping[str, Any]) -> int:
    """Pure: a ``dbStats`` reply's storage with indexes (``totalSize``, or its parts before 4.4)."""
    total = stats.get("totalSize") or (stats.get("storageSize") or 0) + (stats.get("indexSize") or 0)
    return int(total)


def listed_on_disk(reply: Mapping[str, Any], names: Iterable[str]) -> dict[str, int]:
    """Pure: ``sizeOnDisk`` of each of ``names`` a ``listDatabases`` reply lists."""
    listed = {str(entry.get("name")): entry for entry in reply.get("databases", ())}
    return {name: int(listed[name].get("sizeOnDisk") or 0) for name in names if name in listed}


async def _ask_sizes(ctx: CheckContext, tenant: Tenant, timeout_s: float) -> dict[str, Any]:
    """The sizes of the databases the tenant's client serves in this pass, kept for the passes that
    follow: ``asked`` (those names), ``command``, and ``on_disk`` (the size of each one the server
    gave), or ``error`` (kept for ``SIZES_RETRY_S``, so that a cluster that cannot answer does not hold
    every check to its deadline)."""
    names = _databases_to_size(ctx, tenant)
    command = size_command(names)
    sizes: dict[str, Any] = {"asked": frozenset(names), "command": command}
    client = ctx.clients.client_for(tenant.mongo)
    try:
        with pymongo.timeout(timeout_s):
            if command == "dbStats":
                stats = await client[names[0]].command("dbStats")
                sizes["on_disk"] = {names[0]: stats_on_disk(stats)}
            else:
                reply = await client.admin.command("listDatabases", nameOnly=False)
                sizes["on_disk"] = listed_on_disk(reply, names)
    except PyMongoError as exc:
        sizes["error"] = exc
    ctx.reuse.remember_fact(sizes_key(tenant), sizes)
    return sizes


def sizes_key(tenant: Tenant) -> tuple[Any, ...]:
    """Where the sizes of the tenant's client are kept (``Reuse.facts``, ``Reuse.fact_reads``)."""
    return ("sizes", tenant.mongo.cluster_key)


def _kept_sizes(ctx: CheckContext, tenant: Tenant) -> tuple[dict[str, Any], float] | None:
    """The sizes kept for the tenant's client, with their age, if they are fresh and cover its database."""
    kept = ctx.reuse.fresh_fact(sizes_key(tenant))
    if kept is None or tenant.mongo.database not in kept[0]["asked"]:
        return None
    if "error" in kept[0] and kept[1] > SIZES_RETRY_S:
        return None
    return kept


def _last_sizes(ctx: CheckContext, tenant: Tenant) -> tuple[dict[str, Any], float] | None:
    """The last sizes the tenant's client was given, however old, if they cover its database: what a check
    reports, with their age, while they are asked again, rather than wait for a cluster that may take
    seconds to list its databases. A failed ask is not reported again while it is retried."""
    kept = ctx.reuse.last_fact(sizes_key(tenant))
    if kept is None or "error" in kept[0] or tenant.mongo.database not in kept[0]["asked"]:
        return None
    return kept


def size_on_disk(
    sizes: dict[str, Any], database: str, secrets: Iterable[str]
) -> tuple[int | None, str | None]:
    """The database's size on disk, or None and why it is not known."""
    if "late" in sizes:
        return None, "the server did not give the size within this check's deadline"
    if "error" in sizes:
        return None, f"{sizes['command']} failed: {describe_mongo_error(sizes['error'], secrets)}"
    if database not in sizes["asked"]:
        return None, "not asked yet"
    size: int | None = sizes["on_disk"].get(database)
    if size is None:
        return None, f"not listed by {sizes['command']}"
    return size, None


def _build_info_key(tenant: Tenant) -> tuple[Any, ...]:
    return ("buildInfo", tenant.mongo.cluster_key)


def cluster_latency_ms(
    ctx: CheckContext, tenant: Tenant, timeout_s: float
) -> asyncio.Future[float | PyMongoError]:
    """Round trip of a ping to the tenant's cluster (or the driver's error); once per cluster per pass,
    as latency is a property of the path to the cluster, not of one database on it."""
    client = ctx.clients.client_for(tenant.mongo)
    return shared(
        ("ping", tenant.mongo.cluster_key),
        lambda: ctx.clients.read(tenant.mongo, lambda: _timed_ping(client, timeout_s)),
    )


async def _answers(
    ctx: CheckContext, tenant: Tenant, timeout_s: float, wait_for_sizes: bool = True
) -> tuple[Any, ...]:
    """Latency, Company documents, buildInfo and (the client's sizes, their age), or raise the first
    failure. Every read is sent before any is awaited, and every one is awaited before a failure is
    raised: each ends on the driver's own timeout, and cancelling a driver operation mid-way (server
    selection) can leave the async driver's topology lock held. A caller that gives up leaves its reads
    running (``pass_cache.joined``), inside a pass or outside one. buildInfo and the sizes are asked only
    when the kept ones are old (``reuse.FACTS_MAX_AGE_S``). The sizes' ask is shared by every caller on
    the client (``Reuse.fact_read``) and outlives them all. While it runs, a caller takes the last sizes,
    however old, if they cover its database; else, unless ``wait_for_sizes``, it takes the ask itself;
    else it waits for it until ``timeout_s`` is up, so one that joined an ask started with a longer
    deadline still ends on time."""
    until = time.monotonic() + timeout_s
    kept_info = ctx.reuse.fresh_fact(_build_info_key(tenant))
    kept_sizes = _kept_sizes(ctx, tenant)
    sizes_read = (
        None if kept_sizes is not None
        else ctx.reuse.fact_read(sizes_key(tenant), lambda: _ask_sizes(ctx, tenant, timeout_s))
    )
    reads: list[asyncio.Future[Any]] = [
        cluster_latency_ms(ctx, tenant, timeout_s),
        start_company_read(ctx.clients, tenant, timeout_s),
    ]
    if kept_info is None:
        reads.append(start_build_info(ctx.clients, tenant.mongo, timeout_s))
    answers = [await joined(read) for read in reads]
    failure = next((a for a in answers if isinstance(a, BaseException)), None)
    if failure is not None:
        raise failure
    latency_ms, documents, *rest = answers
    if kept_info is None:
        info = rest.pop(0)
        ctx.reuse.remember_fact(_build_info_key(tenant), info)
    else:
        info = kept_info[0]
    if sizes_read is None:
        return latency_ms, documents, info, kept_sizes
    if not sizes_read.done():
        last_sizes = _last_sizes(ctx, tenant)
        if last_sizes is not None:
            return latency_ms, documents, info, last_sizes
        if not wait_for_sizes:
            return latency_ms, documents, info, sizes_read
    return latency_ms, documents, info, (await _sizes_by(sizes_read, until), 0.0)


async def _sizes_by(read: asyncio.Future[dict[str, Any]], until: float) -> dict[str, Any]:
    """The sizes' ask's answer, or ``late`` when it has none at ``until`` (the ask goes on)."""
    if not read.done():
        await asyncio.wait({read}, timeout=max(0.0, until - time.monotonic()))
    return read.result() if read.done() else {"late": True}


SizesAsk = asyncio.Future[dict[str, Any]]
Rest = Callable[[], Awaitable[CheckResult]]
"""The rest of a db check that ended before its cluster's sizes came in: the result with the size."""
SIZES_PENDING = "the cluster had not given the sizes when this check ended"


async def _probe(
    ctx: CheckContext, tenant: Tenant, deadline: Deadline, secrets: Iterable[str], wait_for_sizes: bool = True
) -> tuple[DbProbe, SizesAsk | None]:
    """Ping, the Company read and (when the kept ones are old) buildInfo and the client's sizes, all sent
    before any is awaited: one round trip. Within a pass the Company read is shared with the config
    checks, and ping and buildInfo with the other tenants of the cluster; the sizes always are. Unless
    ``wait_for_sizes``, a sizes' ask still running once the rest is in is returned with a probe that
    lacks the size (``size_fields`` gives it)."""
    target = tenant.mongo
    base = DbProbe(target=target.display, database=target.database)
    client = ctx.clients.client_for(target)
    try:
        async with asyncio.timeout(deadline.backstop()):
            latency_ms, documents, info, sizes = await _answers(
                ctx, tenant, deadline.remaining(), wait_for_sizes
            )
            count = len(documents)
            if count >= COMPANY_READ_LIMIT:
                with pymongo.timeout(deadline.remaining()):
                    count = await client[target.database][tenant.company_collection].count_documents({})
    except (PyMongoError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            last = _last_server_error(client)
            if last is None:
                return DbProbe(base.target, base.database, error="timed out", error_class="timeout"), None
            reason = describe_mongo_error(last, secrets)
            return DbProbe(
                base.target,
                base.database,
                error=f"timed out; last error: {reason}",
                error_class=classify_mongo_error(last),
            ), None
        return DbProbe(
            base.target,
            base.database,
            error=describe_mongo_error(exc, secrets),
            error_class=classify_mongo_error(exc),
        ), None
    left = sizes if isinstance(sizes, asyncio.Future) else None
    if left is None:
        size, extra = size_fields(sizes, target.database, secrets)
    else:
        size, extra = None, {"size_age_s": 0, "size_unknown": SIZES_PENDING}
    return DbProbe(
        target=base.target,
        database=base.database,
        latency_ms=round(float(latency_ms), 2),
        version=str(info.get("version")) if info.get("version") else None,
        company_count=int(count),
        size_on_disk=size,
        extra=extra,
    ), left


def size_fields(
    sizes: tuple[dict[str, Any], float], database: str, secrets: Iterable[str]
) -> tuple[int | None, dict[str, Any]]:
    """Pure: the database's size from its client's sizes (and their age), and the probe's extra details:
    the sizes' age, and why the size is not known when it is not."""
    known_sizes, sizes_age_s = sizes
    size, size_unknown = size_on_disk(known_sizes, database, secrets)
    extra: dict[str, Any] = {"size_age_s": round(sizes_age_s)}
    if size_unknown is not None:
        extra["size_unknown"] = size_unknown
    return size, extra


async def run(
    ctx: CheckContext,
    tenant: Tenant,
    deadline_s: float,
    secrets: Iterable[str] = (),
    *,
    leave_sizes: Callable[[Rest], None] | None = None,
) -> CheckResult:
    """Probe the tenant database within ``deadline_s``; never OK unless the server answered.

    With ``leave_sizes``, a check whose reads are in while its cluster's sizes are still being asked ends
    without them (its result says so) and hands ``leave_sizes`` the rest, which a pass runs alongside
    rather than hold the first tenants of a cold pass, with their places in it, while the cluster lists
    its databases. The rest waits for the sizes until the check's deadline and gives the whole result,
    with the same timestamp and duration."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    listed = list(secrets)
    probe, sizes_ask = await _probe(ctx, tenant, deadline, listed, wait_for_sizes=leave_sizes is None)
    duration_s = deadline.elapsed()
    if sizes_ask is not None and leave_sizes is not None:
        ask = sizes_ask

        async def rest() -> CheckResult:
            sizes = await _sizes_by(ask, time.monotonic() + deadline.remaining())
            size, extra = size_fields((sizes, 0.0), probe.database, listed)
            whole = replace(probe, size_on_disk=size, extra=extra)
            return to_result(tenant.name, CHECK_ID, decide(whole), started=started, duration_s=duration_s)

        leave_sizes(rest)
    return to_result(tenant.name, CHECK_ID, decide(probe), started=started, duration_s=duration_s)
