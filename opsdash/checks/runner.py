"""Run a tenant's check group (db, config or integrations) or the fleet-wide isolation check.

Reads each tenant's env and Company documents once per group run (once per pass inside
``opsdash.engine.pass_cache.sweep``, shared by the db, config and isolation checks), resolves them purely,
runs the group's checks (integrations concurrently) within the deadline, and scrubs every result of the
tenant's secrets before returning it. A check that raises is reported UNKNOWN, never propagated.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from opsdash.checks import auth, cloudinary, config, db, env_stamps, fallback, isolation, smtp, whatsapp
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.content import content_json
from opsdash.checks.context import CheckContext, CheckGroup, group_deadline, group_interval
from opsdash.checks.verdict import FALLBACK_SUFFIX, Deadline, as_fallback, short
from opsdash.config.catalog import ResolutionMode, ServiceSpec
from opsdash.config.envsource import DotenvFile, FileStamp
from opsdash.config.fleet import Fleet, Tenant
from opsdash.config.resolve import (
    CompanyRead,
    ServiceResolution,
    TenantResolution,
    resolve_service,
    resolve_tenant,
)
from opsdash.engine import pass_cache
from opsdash.engine.fanout import each_bounded
from opsdash.engine.mongo import CompanyDocuments, decoded, describe_mongo_error, start_company_read
from opsdash.engine.pass_cache import joined, memo
from opsdash.engine.resolution import tenant_secrets
from opsdash.redact import MASK, redact_dsn, scrub

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
RECENT_LOAD_INTERVALS = 1.5
"""The isolation check reuses a tenant's load up to 1.5 config intervals old: its config run reloads it
every interval, so a change reaches the isolation check within about two config intervals."""


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


def _flags_on(tenant: Tenant, fleet: Fleet, ctx: CheckContext | None) -> set[str] | None:
    """The flags on in the tenant's env as last read, without reading it; None when it was never read."""
    env = ctx.reuse.known_env(tenant.env_source) if ctx is not None else None
    if env is None:
        return None
    return {
        name for name, spec in fleet.catalog.items() if _flagged(spec) and env.get(spec.flag or "") == "true"
    }


def timeout_results(
    tenant: Tenant,
    fleet: Fleet,
    group: CheckGroup,
    deadline_s: float,
    started: datetime,
    *,
    ctx: CheckContext | None = None,
) -> list[CheckResult]:
    """CRIT/timeout for every id of the group (a ``:fallback`` probe only when its flag is on in the env
    ``ctx`` last read; every one when it never read it). Reads nothing: it runs on the event loop, and
    the run it stands for may have timed out on that very read (a hung env file)."""
    ids = group_check_ids(fleet, group)
    if group == "integrations":
        on = _flags_on(tenant, fleet, ctx)
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


async def _read_env_now(
    ctx: CheckContext, tenant: Tenant, stamp: FileStamp | None
) -> tuple[dict[str, str | None], str | None]:
    """Read the env source; its values are kept for the file as it was at ``stamp``, taken before."""
    source = tenant.env_source
    try:
        values = await asyncio.shield(ctx.reuse.env_read(source))
    except Exception as exc:
        return {}, short(str(exc) or type(exc).__name__)
    ctx.reuse.remember_env(source, stamp, values)
    return values, None


async def _read_env(ctx: CheckContext, tenant: Tenant) -> tuple[dict[str, str | None], str | None]:
    """The tenant's env (or why it is unreadable); read once per pass, and not again while its file is
    unchanged on disk (looked at once per pass)."""
    key = ("env", tenant.name)
    cache = pass_cache.current()
    if cache is not None:
        known: tuple[dict[str, str | None], str | None] | None = cache.peek(key)
        if known is not None:
            return known
    source, stamp = tenant.env_source, None
    if isinstance(source, DotenvFile):
        stamp = await _env_stamp(ctx, source, cache)
        unchanged = ctx.reuse.unchanged_env(source, stamp)
        if unchanged is not None:
            if cache is not None:
                cache.put(key, (unchanged, None))
            return unchanged, None
    return await memo(key, lambda: _read_env_now(ctx, tenant, stamp))


async def _env_stamp(
    ctx: CheckContext, source: DotenvFile, cache: pass_cache.PassCache | None
) -> FileStamp | None:
    """The file's stamp now, never from the event loop (a stat on a hung mount blocks): in a pass, from
    the pass's thread (``env_stamps``); else, or when that thread has not reached the file, from a thread
    of the file's own, shared by every run waiting for it."""
    if cache is None:
        return await asyncio.shield(ctx.reuse.stamp_read(source))
    stamps: env_stamps.PassStamps | None = cache.peek(env_stamps.KEY)
    if stamps is None:
        files = [t.env_source for t in cache.tenants or () if isinstance(t.env_source, DotenvFile)]
        deadline_s = min(group_deadline(ctx.fleet.poll, "db"), group_deadline(ctx.fleet.poll, "config"))
        patience_s = min(env_stamps.PATIENCE_S, deadline_s / 4)
        stamps = env_stamps.PassStamps(files, patience_s)
        cache.put(env_stamps.KEY, stamps)
    stamp = await stamps.stamp(source)
    if not isinstance(stamp, env_stamps.NotReached):
        return stamp
    return await asyncio.shield(ctx.reuse.stamp_read(source))


async def load_tenant(ctx: CheckContext, tenant: Tenant, timeout_s: float) -> TenantState:
    """Read env and Company documents (within ``timeout_s``) and resolve every service; once per pass,
    and resolved again only when the env or the documents changed.

    Inside a pass the result is kept for the pass's later readers (the isolation check); the reads it
    needs are themselves shared, so it runs in the caller's task rather than a task of its own."""
    cache = pass_cache.current()
    if cache is None:
        return await _load_tenant_now(ctx, tenant, timeout_s)
    key = ("tenant", tenant.name)
    ready: TenantState | None = cache.peek(key)
    if ready is None:
        ready = await _load_tenant_now(ctx, tenant, timeout_s)
        cache.put(key, ready)
    return ready


async def _load_tenant_now(ctx: CheckContext, tenant: Tenant, timeout_s: float) -> TenantState:
    state = await _read_tenant(ctx, tenant, timeout_s)
    whole = state.env_error is None and state.read.error is None
    ctx.reuse.remember_loaded(tenant.name, state, whole)
    return state


async def _read_tenant(ctx: CheckContext, tenant: Tenant, timeout_s: float) -> TenantState:
    env, env_error = await _read_env(ctx, tenant)
    if env_error is not None:
        secrets = tenant_secrets(tenant, env, ctx.fleet.catalog)
        return TenantState(env, CompanyRead(error="not read"), None, secrets, env_error)
    read = start_company_read(ctx.clients, tenant, timeout_s)
    if read.done():
        outcome: CompanyDocuments | None = read.result()
    else:
        try:
            async with asyncio.timeout(timeout_s + min(0.05 * timeout_s, 0.5)):
                outcome = await joined(read)
        except TimeoutError:
            outcome = None
    if isinstance(outcome, tuple):
        raw = tuple(document.raw for document in outcome)
        kept = ctx.reuse.derived_for(tenant.name, env, raw)
        if kept is not None:
            return kept.value  # type: ignore[no-any-return]
        state = _resolved(ctx, tenant, env, CompanyRead(documents=decoded(outcome)))
        ctx.reuse.remember_derived(tenant.name, env, raw, state)
        return state
    secrets = tenant_secrets(tenant, env, ctx.fleet.catalog)
    reason = "timed out" if outcome is None else describe_mongo_error(outcome, secrets)
    return _resolved(ctx, tenant, env, CompanyRead(error=reason))


def _resolved(
    ctx: CheckContext, tenant: Tenant, env: Mapping[str, str | None], read: CompanyRead
) -> TenantState:
    secrets = tenant_secrets(tenant, env, ctx.fleet.catalog)
    for document in read.documents:
        secrets.extend(tenant_secrets(tenant, {}, ctx.fleet.catalog, document))
    resolution = resolve_tenant(tenant.name, ctx.fleet.catalog, env, read)
    return TenantState(env, read, resolution, secrets)


_AT_AFTER_SCHEME = re.compile(rb'://[^"]*@')
_SCHEME_AFTER_AT = re.compile(rb'@[^"]*://')


def _may_hold_dsn(blob: bytes) -> bool:
    """Whether one string of a JSON text may hold both ``://`` and ``@`` (what ``redact_dsn`` needs).
    Two patterns, each starting with a literal the regex engine scans for, rather than one alternation,
    which it tries at every position."""
    if b"://" not in blob or b"@" not in blob:
        return False
    return (
        b'\\"' in blob
        or _AT_AFTER_SCHEME.search(blob) is not None
        or _SCHEME_AFTER_AT.search(blob) is not None
    )


class Scrubber:
    """``CheckResult.scrubbed`` for many results of one tenant: the secrets sorted once, strings without a
    DSN skip the regex, and a result with nothing to remove is returned as it is (no copy).

    Most results hold no secret and no DSN (their values were masked when they were built), so each
    result's content is first serialised to JSON in one C call (``content_json``, whose bytes the results
    store then uses as they are) and searched for every secret's JSON form; only a result that may hold
    one is walked string by string. A string holding a secret holds its JSON form once encoded, so the
    search never misses one."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._encoded = [to_json(s)[1:-1] for s in self._secrets]
        self._seen: dict[str, str] = {}
        self._changed = False

    def may_hold_secret(self, result: CheckResult) -> bool:
        """False only when no string of the result can contain a secret or a DSN password."""
        try:
            blob = content_json(result)
        except (TypeError, ValueError, PydanticSerializationError):
            return True
        return _may_hold_dsn(blob) or any(map(blob.__contains__, self._encoded))

    def text(self, value: str) -> str:
        cleaned = self._seen.get(value)
        if cleaned is None:
            cleaned = redact_dsn(value) if "@" in value and "://" in value else value
            for secret in self._secrets:
                if secret in cleaned:
                    cleaned = cleaned.replace(secret, MASK)
            self._seen[value] = cleaned
        if cleaned != value:
            self._changed = True
        return cleaned

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            return {self._value(k): self._value(v) for k, v in value.items()}
        if kind is list or kind is tuple:
            if kind is tuple:
                self._changed = True
            return [self._value(v) for v in value]
        if isinstance(value, str):
            self._changed = True
            return self.text(str.__str__(value))
        if isinstance(value, dict | list | tuple):
            self._changed = True
            return self._value(dict(value) if isinstance(value, dict) else list(value))
        return value

    def result(self, result: CheckResult) -> CheckResult:
        if not self.may_hold_secret(result):
            return result
        self._changed = False
        summary = self.text(result.summary)
        details = self._value(result.details)
        if not self._changed:
            return result
        return result.model_copy(update={"summary": summary, "details": details})


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
        env, _ = await _read_env(ctx, tenant)
        secrets = ctx.reuse.secrets_for(tenant, env, lambda: tenant_secrets(tenant, env, ctx.fleet.catalog))
        probe = db.run(
            ctx, tenant, deadline.remaining(), secrets, leave_sizes=_sizes_left_to_the_pass(tenant, secrets)
        )
        return _cleaned([await _guarded(tenant.name, db.CHECK_ID, probe, secrets)], secrets)
    budget = deadline.seconds if group == "config" else deadline.seconds * COMPANY_READ_SHARE
    state = await load_tenant(ctx, tenant, min(budget, ctx.fleet.poll.db_timeout, deadline.remaining()))
    if state.resolution is None:
        results = _unknown(
            tenant.name,
            group_check_ids(ctx.fleet, group),
            f"cannot read the tenant's env: {state.env_error}",
            started,
        )
        return _cleaned(results, state.secrets)
    if group == "config":
        return _config_verdicts(ctx, tenant, state, started)
    return _cleaned(await _integration_results(ctx, tenant, state, deadline), state.secrets)


def _sizes_left_to_the_pass(tenant: Tenant, secrets: list[str]) -> Callable[[db.Rest], None] | None:
    """Inside a pass, where a db check leaves the wait for its cluster's sizes: with the pass
    (``PassCache.later``), which gets the whole result, guarded and scrubbed as the check's own is."""
    cache = pass_cache.current()
    if cache is None:
        return None

    def leave(rest: db.Rest) -> None:
        async def finish() -> CheckResult:
            [whole] = _cleaned([await _guarded(tenant.name, db.CHECK_ID, rest(), secrets)], secrets)
            return whole

        cache.later((tenant.name, db.CHECK_ID), finish)

    return leave


def _config_verdicts(
    ctx: CheckContext, tenant: Tenant, state: TenantState, started: datetime
) -> list[CheckResult]:
    """The config and fallback results; for inputs unchanged since the last pass, the same verdicts
    (they are pure functions of the inputs) stamped with this run's time."""
    kept = ctx.reuse.derived.get(tenant.name)
    if kept is None or kept.value is not state:
        return _cleaned(_config_results(ctx, tenant, state, started), state.secrets)
    earlier: list[CheckResult] | None = kept.extra.get("config")
    if earlier is None:
        earlier = _cleaned(_config_results(ctx, tenant, state, started), state.secrets)
        kept.extra["config"] = earlier
        return earlier
    return [result.restamped(started) for result in earlier]


def _cleaned(results: list[CheckResult], secrets: Iterable[str]) -> list[CheckResult]:
    scrubber = Scrubber(secrets)
    cleaned = [scrubber.result(r) for r in results]
    if log.isEnabledFor(logging.DEBUG):
        for result in cleaned:
            log.debug("%s %s %s: %s", result.tenant, result.check, result.status.value, result.summary)
    return cleaned


Profile = tuple[isolation.TenantProfile, str | None, list[str]]


def _profile_of(ctx: CheckContext, tenant: Tenant, state: TenantState, addresses: frozenset[str]) -> Profile:
    """The tenant's profile for the isolation check; the one made last time while the tenant, its state
    (kept by ``Reuse`` while its inputs are unchanged) and its cluster's addresses are the same, so that
    the check's comparison with the last run's profiles finds the very same objects."""
    kept = ctx.reuse.derived.get(tenant.name)
    if kept is None or kept.value is not state:
        return _new_profile(tenant, state, addresses)
    made: tuple[Tenant, frozenset[str], Profile] | None = kept.extra.get("profile")
    if made is None or made[0] is not tenant or made[1] != addresses:
        made = (tenant, addresses, _new_profile(tenant, state, addresses))
        kept.extra["profile"] = made
    return made[2]


def _new_profile(tenant: Tenant, state: TenantState, addresses: frozenset[str]) -> Profile:
    note = None
    if state.env_error:
        note = f"env unreadable: {state.env_error}"
    elif state.read.error:
        note = f"Company not read: {state.read.error}"
    return isolation.profile_of(tenant.name, tenant.mongo, addresses, state.resolution), note, state.secrets


def _addresses(tenant: Tenant, timeout_s: float) -> Awaitable[frozenset[str]]:
    return memo(
        ("addresses", tenant.mongo.hosts), lambda: isolation.database_addresses(tenant.mongo, timeout_s)
    )


async def _profile(ctx: CheckContext, tenant: Tenant, deadline: Deadline) -> Profile:
    timeout_s = deadline.remaining() * 0.5
    state = await load_tenant(ctx, tenant, min(deadline.remaining() * 0.8, ctx.fleet.poll.db_timeout))
    return _profile_of(ctx, tenant, state, await _addresses(tenant, timeout_s))


def _profile_now(ctx: CheckContext, tenant: Tenant) -> Profile | None:
    """The profile from reads already made, without waiting: this pass's, else the tenant's latest load
    if it is recent (``RECENT_LOAD_INTERVALS`` of its config interval); None if a read is missing."""
    cache = pass_cache.current()
    if cache is None:
        return None
    addresses = cache.peek(("addresses", tenant.mongo.hosts))
    if addresses is None:
        return None
    state = cache.peek(("tenant", tenant.name))
    if state is None:
        max_age_s = RECENT_LOAD_INTERVALS * group_interval(tenant.poll, "config")
        state = ctx.reuse.recent_load(tenant.name, max_age_s)
    if state is None:
        return None
    return _profile_of(ctx, tenant, state, addresses)


def sharing_groups(profiles: Sequence[isolation.TenantProfile]) -> list[list[int]]:
    """Pure: indexes of profiles split into groups such that tenants in different groups share no
    identity the isolation check compares (database at an address, WhatsApp number, Cloudinary
    folder, SMTP credentials); each group in the given order. Lets ``isolation.decide`` compare within
    groups instead of every pair of a large fleet."""
    parent = list(range(len(profiles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[Any, ...], int] = {}
    for i, p in enumerate(profiles):
        for _, keys in isolation.identities(p):
            for key in keys:
                first = owner.setdefault(key, i)
                parent[root(i)] = root(first)
    groups: dict[int, list[int]] = {}
    for i in range(len(profiles)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def isolation_results(
    profiles: Sequence[isolation.TenantProfile],
    started: datetime,
    duration_s: float,
    notes: Mapping[str, str],
) -> list[CheckResult]:
    """``isolation.results`` over the whole fleet, computed group by group (see ``sharing_groups``)."""
    out: list[CheckResult | None] = [None] * len(profiles)
    for group in sharing_groups(profiles):
        members = [profiles[i] for i in group]
        for i, result in zip(group, isolation.results(members, started, duration_s, notes), strict=True):
            out[i] = result
    return [r for r in out if r is not None]


async def run_fleet(ctx: CheckContext, deadline_s: float) -> list[CheckResult]:
    """The fleet-wide isolation check: one result per tenant, comparing effective configs.

    Inside a pass (the engine runs the scheduled check in one of its own), each cluster's addresses are
    looked up once, and a tenant whose reads this pass already made, or whose own config run loaded it
    recently, is profiled at once; only the others are read (bounded by ``poll.max_concurrency``). A
    result is scrubbed of the secrets of the tenants it names: its own and those in its ``shared_with``.
    While no profile changes, the verdicts of the previous run stand (stamped with this run's time)."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s * WORK_SHARE)
    tenants = list(ctx.fleet.tenants)
    if pass_cache.current() is not None:
        clusters = {t.mongo.hosts: t for t in tenants}.values()
        await asyncio.gather(*(_addresses(t, deadline.remaining() * 0.5) for t in clusters))
    loaded: list[Profile | None] = [_profile_now(ctx, t) for t in tenants]
    missing = [i for i, p in enumerate(loaded) if p is None]
    if missing:
        read = await each_bounded(
            [tenants[i] for i in missing],
            lambda tenant: _profile(ctx, tenant, deadline),
            ctx.fleet.poll.max_concurrency,
        )
        for i, profile in zip(missing, read, strict=True):
            loaded[i] = profile
    ready = [p for p in loaded if p is not None]
    profiles = [p for p, _, _ in ready]
    notes = {p.tenant: note for p, note, _ in ready if note}
    inputs = (profiles, notes)
    kept = ctx.reuse.fleet_wide.get(isolation.CHECK_ID)
    if kept is not None and kept[0] == inputs:
        now = {"timestamp": started, "duration_s": round(deadline.elapsed(), 4)}
        return [result.model_copy(update=now) for result in kept[1]]
    out: list[CheckResult | None] = [None] * len(profiles)
    for group in sharing_groups(profiles):
        members = [profiles[i] for i in group]
        verdicts = isolation.results(members, started, deadline.elapsed(), notes)
        secrets_of = {profiles[i].tenant: ready[i][2] for i in group}
        for i, result in zip(group, verdicts, strict=True):
            named = result.details.get("shared_with") or {}
            secrets = [*ready[i][2], *(secret for other in named for secret in secrets_of[other])]
            out[i] = Scrubber(secrets).result(result)
    results = [r for r in out if r is not None]
    ctx.reuse.fleet_wide[isolation.CHECK_ID] = (inputs, results)
    return results
