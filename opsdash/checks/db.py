"""The ``db`` check: ping, latency, server version, Company count and data size of a tenant database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from opsdash.checks.base import CheckResult, ErrorClass, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import Deadline, Verdict, to_result
from opsdash.config.fleet import Tenant
from opsdash.engine.mongo import (
    COMPANY_READ_LIMIT,
    build_info,
    classify_mongo_error,
    company_documents,
    describe_mongo_error,
)
from opsdash.engine.pass_cache import memo

CHECK_ID = "db"


@dataclass(frozen=True)
class DbProbe:
    """What the probe saw; ``error`` set means it stopped there."""

    target: str
    database: str
    latency_ms: float | None = None
    version: str | None = None
    company_count: int | None = None
    data_size: int | None = None
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
        "data_size": probe.data_size,
        "findings": company_findings(probe.company_count, probe.error),
        **probe.extra,
    }
    if probe.error is not None:
        return Verdict(
            Status.CRIT, f"{probe.target}: {probe.error}", probe.error_class or "protocol", details
        )
    latency = f"{probe.latency_ms:.0f} ms" if probe.latency_ms is not None else "? ms"
    tail = f"{probe.target}, MongoDB {probe.version or '?'}, {latency}, data {_size(probe.data_size)}"
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


async def cluster_latency_ms(
    ctx: CheckContext, tenant: Tenant, timeout_s: float
) -> float | PyMongoError:
    """Round trip of a ping to the tenant's cluster (or the driver's error); once per cluster per pass,
    as latency is a property of the path to the cluster, not of one database on it."""
    client = ctx.clients.client_for(tenant.mongo)
    return await memo(("ping", tenant.mongo.cluster_key), lambda: _timed_ping(client, timeout_s))


def _first_failure(outcomes: Iterable[object]) -> BaseException | None:
    return next((o for o in outcomes if isinstance(o, BaseException)), None)


async def _probe(ctx: CheckContext, tenant: Tenant, deadline: Deadline, secrets: Iterable[str]) -> DbProbe:
    """Ping, the Company read, dbStats and buildInfo in one round trip. Within a pass the Company read is
    shared with the config checks, and ping and buildInfo with the other tenants of the cluster."""
    target = tenant.mongo
    base = DbProbe(target=target.display, database=target.database)
    client = ctx.clients.client_for(target)
    db = client[target.database]
    try:
        async with asyncio.timeout(deadline.backstop()):
            with pymongo.timeout(deadline.remaining()):
                timeout_s = deadline.remaining()
                outcomes = await asyncio.gather(
                    cluster_latency_ms(ctx, tenant, timeout_s),
                    company_documents(ctx.clients, tenant, timeout_s),
                    db.command("dbStats"),
                    build_info(ctx.clients, target, timeout_s),
                    return_exceptions=True,
                )
                failure = _first_failure(outcomes)
                if failure is not None:
                    raise failure
                latency_ms, documents, stats, info = outcomes
                assert isinstance(documents, tuple) and isinstance(info, dict) and isinstance(stats, dict)
                count = len(documents)
                if count >= COMPANY_READ_LIMIT:
                    count = await db[tenant.company_collection].count_documents({})
    except (PyMongoError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError):
            last = _last_server_error(client)
            if last is None:
                return DbProbe(base.target, base.database, error="timed out", error_class="timeout")
            reason = describe_mongo_error(last, secrets)
            return DbProbe(
                base.target,
                base.database,
                error=f"timed out; last error: {reason}",
                error_class=classify_mongo_error(last),
            )
        return DbProbe(
            base.target,
            base.database,
            error=describe_mongo_error(exc, secrets),
            error_class=classify_mongo_error(exc),
        )
    return DbProbe(
        target=base.target,
        database=base.database,
        latency_ms=round(float(latency_ms), 2),
        version=str(info.get("version")) if info.get("version") else None,
        company_count=int(count),
        data_size=int(stats.get("dataSize") or 0),
        extra={"storage_size": int(stats.get("storageSize") or 0), "collections": stats.get("collections")},
    )


async def run(
    ctx: CheckContext, tenant: Tenant, deadline_s: float, secrets: Iterable[str] = ()
) -> CheckResult:
    """Probe the tenant database within ``deadline_s``; never OK unless the server answered."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    probe = await _probe(ctx, tenant, deadline, list(secrets))
    return to_result(tenant.name, CHECK_ID, decide(probe), started=started, duration_s=deadline.elapsed())
