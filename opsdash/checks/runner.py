"""Run a tenant's check group (db, config or integrations) or the fleet-wide isolation check.

Reads each tenant's env and Company documents once per group run, resolves them purely, runs the
group's checks (integrations concurrently) within the deadline, and scrubs every result of the
tenant's secrets before returning it. A check that raises is reported UNKNOWN, never propagated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsdash.checks import auth, cloudinary, config, db, fallback, isolation, smtp, whatsapp
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext, CheckGroup
from opsdash.checks.verdict import FALLBACK_SUFFIX, Deadline, as_fallback, short
from opsdash.config.catalog import ResolutionMode, ServiceSpec
from opsdash.config.fleet import Fleet, Tenant
from opsdash.config.resolve import (
    CompanyRead,
    ServiceResolution,
    TenantResolution,
    resolve_service,
    resolve_tenant,
)
from opsdash.engine.mongo import read_company
from opsdash.engine.resolution import tenant_secrets
from opsdash.redact import scrub

log = logging.getLogger(__name__)

Probe = Callable[[CheckContext, str, ServiceResolution, float], Awaitable[CheckResult]]


@dataclass(frozen=True)
class LiveProbe:
    """A live integration check and the service whose config it probes."""

    check: str
    service: str
    run: Probe


LIVE_PROBES: tuple[LiveProbe, ...] = (
    LiveProbe(whatsapp.CHECK_ID, "whatsapp", whatsapp.run),
    LiveProbe(cloudinary.CHECK_ID, "cloudinary", cloudinary.run),
    LiveProbe(smtp.CHECK_ID, "email", smtp.run),
    LiveProbe(auth.CHECK_ID, "auth", auth.run),
)
COMPANY_READ_SHARE = 0.4
"""Share of an integrations deadline the Company read may use; the probes get the rest."""
WORK_SHARE = 0.85
"""Share of a group's deadline handed to drivers. The rest covers each probe's backstop and bookkeeping,
so that results are back before the scheduler's own hard deadline would discard them."""


def _flagged(spec: ServiceSpec | None) -> bool:
    return spec is not None and spec.mode == ResolutionMode.FLAGGED and spec.flag is not None


def group_check_ids(fleet: Fleet, group: CheckGroup) -> tuple[str, ...]:
    """Every check id the group can produce for a tenant of this fleet."""
    catalog = fleet.catalog
    if group == "db":
        return (db.CHECK_ID,)
    if group == "config":
        return (
            *(config.check_id(s) for s in catalog),
            *(fallback.check_id(s) for s, spec in catalog.items() if _flagged(spec)),
        )
    ids: list[str] = []
    for probe in LIVE_PROBES:
        if probe.service in catalog:
            ids.append(probe.check)
            if _flagged(catalog[probe.service]):
                ids.append(probe.check + FALLBACK_SUFFIX)
    return tuple(ids)


def _flags_on(tenant: Tenant, fleet: Fleet) -> set[str] | None:
    try:
        env = tenant.env_source.read()
    except Exception:
        return None
    return {
        name for name, spec in fleet.catalog.items() if _flagged(spec) and env.get(spec.flag or "") == "true"
    }


def timeout_results(
    tenant: Tenant, fleet: Fleet, group: CheckGroup, deadline_s: float, started: datetime
) -> list[CheckResult]:
    """CRIT/timeout for every id of the group (a ``:fallback`` probe only when its flag is on)."""
    ids = group_check_ids(fleet, group)
    if group == "integrations":
        on = _flags_on(tenant, fleet)
        if on is not None:
            wanted_fallbacks = {p.check + FALLBACK_SUFFIX for p in LIVE_PROBES if p.service in on}
            ids = tuple(i for i in ids if not i.endswith(FALLBACK_SUFFIX) or i in wanted_fallbacks)
    return [
        CheckResult(
            tenant=tenant.name,
            check=check,
            status=Status.CRIT,
            summary=f"timed out: no result within the {deadline_s:g} s deadline",
            error_class="timeout",
            details={"deadline_s": deadline_s},
            duration_s=deadline_s,
            timestamp=started,
        )
        for check in ids
    ]


@dataclass(frozen=True)
class TenantState:
    """One tenant's env, Company read and resolution, read once per group run."""

    env: Mapping[str, str | None]
    read: CompanyRead
    resolution: TenantResolution | None
    secrets: list[str]
    env_error: str | None = None


async def _read_env(tenant: Tenant) -> tuple[dict[str, str | None], str | None]:
    try:
        return await asyncio.to_thread(tenant.env_source.read), None
    except Exception as exc:
        return {}, short(str(exc) or type(exc).__name__)


async def load_tenant(ctx: CheckContext, tenant: Tenant, timeout_s: float) -> TenantState:
    """Read env and Company documents (within ``timeout_s``) and resolve every service."""
    env, env_error = await _read_env(tenant)
    secrets = tenant_secrets(tenant, env, ctx.fleet.catalog)
    if env_error is not None:
        return TenantState(env, CompanyRead(error="not read"), None, secrets, env_error)
    try:
        async with asyncio.timeout(timeout_s + min(0.05 * timeout_s, 0.5)):
            read = await read_company(ctx.clients, tenant, timeout_s, secrets)
    except TimeoutError:
        read = CompanyRead(error="timed out")
    for document in read.documents:
        secrets.extend(tenant_secrets(tenant, {}, ctx.fleet.catalog, document))
    resolution = resolve_tenant(tenant.name, ctx.fleet.catalog, env, read)
    return TenantState(env, read, resolution, secrets)


def _unknown(tenant: str, checks: tuple[str, ...], summary: str, started: datetime) -> list[CheckResult]:
    return [
        CheckResult(tenant=tenant, check=c, status=Status.UNKNOWN, summary=summary, timestamp=started)
        for c in checks
    ]


async def _guarded(tenant: str, check: str, coro: Awaitable[CheckResult], secrets: list[str]) -> CheckResult:
    try:
        return await coro
    except Exception as exc:
        reason = scrub(short(f"{type(exc).__name__}: {exc}"), secrets)
        log.warning("check %s of %s failed: %s", check, tenant, reason)
        return CheckResult(
            tenant=tenant, check=check, status=Status.UNKNOWN, summary=f"check failed: {reason}"
        )


def _config_results(
    ctx: CheckContext, tenant: Tenant, state: TenantState, started: datetime
) -> list[CheckResult]:
    resolution = state.resolution
    assert resolution is not None
    catalog = ctx.fleet.catalog
    configs = [
        config.result(tenant.name, resolution.services[name], resolution.findings, started)
        for name in catalog
    ]
    fallbacks = [
        fallback.result(tenant.name, spec, state.env, state.read, resolution.services[name], started)
        for name, spec in catalog.items()
        if _flagged(spec)
    ]
    return configs + fallbacks


async def _integration_results(
    ctx: CheckContext, tenant: Tenant, state: TenantState, deadline: Deadline
) -> list[CheckResult]:
    assert state.resolution is not None
    jobs: list[tuple[bool, Awaitable[CheckResult]]] = []
    for probe in LIVE_PROBES:
        current = state.resolution.services.get(probe.service)
        if current is None:
            continue
        jobs.append(
            (
                False,
                _guarded(
                    tenant.name,
                    probe.check,
                    probe.run(ctx, tenant.name, current, deadline.remaining()),
                    state.secrets,
                ),
            )
        )
        spec = ctx.fleet.catalog[probe.service]
        if _flagged(spec) and current.flag is not None and current.flag.on:
            env_config = resolve_service(spec, state.env, state.read, use_db=False)
            jobs.append(
                (
                    True,
                    _guarded(
                        tenant.name,
                        probe.check,
                        probe.run(ctx, tenant.name, env_config, deadline.remaining()),
                        state.secrets,
                    ),
                )
            )
    results = await asyncio.gather(*(job for _, job in jobs))
    return [as_fallback(r) if is_fallback else r for (is_fallback, _), r in zip(jobs, results, strict=True)]


async def run_group(
    ctx: CheckContext, tenant: Tenant, group: CheckGroup, deadline_s: float
) -> list[CheckResult]:
    """Run one check group for one tenant within ``deadline_s``; every result scrubbed of its secrets."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s * WORK_SHARE)
    if group == "db":
        env, _ = await _read_env(tenant)
        secrets = tenant_secrets(tenant, env, ctx.fleet.catalog)
        probe = db.run(ctx, tenant, deadline.remaining(), secrets)
        results = [await _guarded(tenant.name, db.CHECK_ID, probe, secrets)]
    else:
        budget = deadline.seconds if group == "config" else deadline.seconds * COMPANY_READ_SHARE
        state = await load_tenant(ctx, tenant, min(budget, ctx.fleet.poll.db_timeout, deadline.remaining()))
        secrets = state.secrets
        if state.resolution is None:
            results = _unknown(
                tenant.name,
                group_check_ids(ctx.fleet, group),
                f"cannot read the tenant's env: {state.env_error}",
                started,
            )
        elif group == "config":
            results = _config_results(ctx, tenant, state, started)
        else:
            results = await _integration_results(ctx, tenant, state, deadline)
    cleaned = [r.scrubbed(secrets) for r in results]
    for result in cleaned:
        log.debug("%s %s %s: %s", result.tenant, result.check, result.status.value, result.summary)
    return cleaned


async def _profile(
    ctx: CheckContext, tenant: Tenant, deadline: Deadline
) -> tuple[isolation.TenantProfile, str | None, list[str]]:
    state, addresses = await asyncio.gather(
        load_tenant(ctx, tenant, min(deadline.remaining() * 0.8, ctx.fleet.poll.db_timeout)),
        isolation.database_addresses(tenant.mongo, deadline.remaining() * 0.5),
    )
    note = f"env unreadable: {state.env_error}" if state.env_error else None
    return isolation.profile_of(tenant.name, tenant.mongo, addresses, state.resolution), note, state.secrets


async def run_fleet(ctx: CheckContext, deadline_s: float) -> list[CheckResult]:
    """The fleet-wide isolation check: one result per tenant, comparing effective configs."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s * WORK_SHARE)
    tenants = list(ctx.fleet.tenants)
    loaded = await asyncio.gather(*(_profile(ctx, t, deadline) for t in tenants))
    notes = {p.tenant: note for p, note, _ in loaded if note}
    results = isolation.results([p for p, _, _ in loaded], started, deadline.elapsed(), notes)
    secrets_by_tenant: dict[str, Any] = {p.tenant: s for p, _, s in loaded}
    all_secrets = [s for secrets in secrets_by_tenant.values() for s in secrets]
    return [r.scrubbed(all_secrets) for r in results]
