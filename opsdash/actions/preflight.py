"""Before a flip: is the target source alone complete and valid for the service, and did its latest live
probe pass? The judgement is pure; :func:`preflight_flip` only gathers its inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from opsdash.actions.env_target import env_target_for, sensitive_keys
from opsdash.actions.tenant_db import read_company_sync
from opsdash.checks.base import CheckResult, Status
from opsdash.config.catalog import ServiceSpec
from opsdash.config.fleet import Fleet
from opsdash.config.resolve import CompanyRead, FlagState, resolve_service
from opsdash.errors import ActionRefused

Target = Literal["env", "db"]
PROBED_SERVICES: frozenset[str] = frozenset({"whatsapp", "cloudinary", "auth"})
"""Flagged services with a live probe (``whatsapp_otp`` is a switch, not an integration)."""


@dataclass(frozen=True)
class Preflight:
    """Whether a flip to ``target`` is safe; ``problems`` maps a field (or ``probe``) to why not."""

    ok: bool
    problems: dict[str, str]
    probe: CheckResult | None
    flag: FlagState | None = field(default=None)


def target_problems(
    spec: ServiceSpec,
    env: Mapping[str, str | None],
    read: CompanyRead,
    target: Target,
    *,
    sensitive: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """What the target source alone lacks for this service. ``env``: the env vars with no DB help;
    ``db``: the single Company document with no env fallback."""
    if target == "env":
        res = resolve_service(spec, env, CompanyRead(), use_db=False)
        problems = dict(res.problems)
        for name in problems:
            var = spec.env_name(name)
            if var in sensitive:
                problems[name] = f"{var} is a sensitive Vercel variable: its value cannot be read to verify"
        return problems
    if not read.ok:
        return {"Company": f"cannot read the Company document ({read.error})"}
    if not read.documents:
        return {"Company": "no Company document"}
    if len(read.documents) > 1:
        count = len(read.documents)
        return {"Company": f"{count} Company documents: the app's findFirst() picks one arbitrarily"}
    return dict(resolve_service(spec, {}, read, use_db=True).problems)


def probe_check_id(service: str, target: Target, flag_on: bool) -> str | None:
    """The check id whose live probe exercised the target source, if any: the env side is
    ``<service>:fallback`` while the flag is on, else ``<service>``; the DB side is probed only while on."""
    if service not in PROBED_SERVICES:
        return None
    if target == "env":
        return f"{service}:fallback" if flag_on else service
    return service if flag_on else None


def probe_problem(probe: CheckResult | None) -> str | None:
    """Why the latest probe does not vouch for the target, or ``None`` when it passed (or none ran)."""
    if probe is None:
        return None
    raw: Any = probe.details.get("probe_status", probe.status)
    try:
        status = Status(raw)
    except ValueError:
        status = Status.UNKNOWN
    if status == Status.OK:
        return None
    when = probe.timestamp.strftime("%Y-%m-%d %H:%M:%SZ")
    return f"latest {probe.check} probe was {status.value} at {when}: {probe.summary}"


def judge(problems: Mapping[str, str], probe: CheckResult | None, flag: FlagState | None = None) -> Preflight:
    """Combine config problems and the probe verdict. Pure."""
    found = dict(problems)
    failed_probe = probe_problem(probe)
    if failed_probe:
        found["probe"] = failed_probe
    return Preflight(ok=not found, problems=found, probe=probe, flag=flag)


def describe_problems(problems: Mapping[str, str]) -> str:
    """``cloudinaryApiSecret: CLOUDINARY_API_SECRET unset; probe: ...`` on one line."""
    return "; ".join(f"{name}: {reason}" for name, reason in problems.items())


def open_store(fleet: Fleet) -> Any | None:
    """The results store if the engine has one for this fleet (and has recorded anything), else ``None``."""
    try:
        from opsdash.engine.store import ResultStore
    except ImportError:
        return None
    if not (fleet.state_dir / "opsdash.sqlite3").exists():
        return None
    try:
        return ResultStore.for_fleet(fleet)
    except Exception:
        return None


def latest_probe(store: Any | None, tenant: str, check: str | None) -> CheckResult | None:
    """The latest recorded result of ``check``; ``None`` without a store, a check id or a result."""
    if store is None or check is None:
        return None
    return store.latest_one(tenant, check)


def preflight_flip(
    fleet: Fleet, tenant: str, service: str, target: Target, store: Any | None = None
) -> Preflight:
    """Gather the env, the Company documents and the latest probe, then :func:`judge`. Raises
    ``ActionRefused``/``ConfigError`` for an unknown tenant or service, ``OpsdashError`` for Vercel errors."""
    spec = flagged_service(fleet, service)
    t = fleet.tenant(tenant)
    source = env_target_for(fleet, t)
    try:
        env = source.read()
        sensitive = sensitive_keys(source)
    finally:
        source.close()
    return preflight_from(fleet, t.name, spec, env, sensitive, target, store)


def preflight_from(
    fleet: Fleet,
    tenant: str,
    spec: ServiceSpec,
    env: Mapping[str, str | None],
    sensitive: frozenset[str],
    target: Target,
    store: Any | None,
) -> Preflight:
    """Preflight with the env already read (the flip reads it once for both)."""
    read = read_company_sync(fleet, fleet.tenant(tenant)) if target == "db" else CompanyRead()
    flag = FlagState(spec.flag, env.get(spec.flag)) if spec.flag else None
    problems = target_problems(spec, env, read, target, sensitive=sensitive)
    check = probe_check_id(spec.name, target, bool(flag and flag.on))
    return judge(problems, latest_probe(store, tenant, check), flag)


def flagged_service(fleet: Fleet, service: str) -> ServiceSpec:
    """The catalog entry of a service with a feature flag; ``ActionRefused`` naming the choices otherwise."""
    spec = fleet.catalog.get(service)
    flagged = ", ".join(name for name, s in fleet.catalog.items() if s.flag)
    if spec is None:
        raise ActionRefused(f"unknown service '{service}' (services with a flag: {flagged})")
    if spec.flag is None:
        raise ActionRefused(
            f"service '{service}' has no feature flag to flip (services with a flag: {flagged})"
        )
    return spec
