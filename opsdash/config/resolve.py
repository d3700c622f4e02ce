"""Effective-config resolution, exactly as the app's code does it. Pure: no I/O.

The app's pattern (multi-tenant-architecture.md, "Feature Flag System")::

    const useDb = process.env.USE_DB_X === 'true';
    useDb ? (company?.field ?? process.env.X) : process.env.X   // a failed DB read falls back to env

``??`` is nullish coalescing: only a missing or ``null`` field falls through; ``""`` in the DB wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from opsdash.config.catalog import ResolutionMode, ServiceSpec
from opsdash.config.company import FieldSpec, parse_text, validate_value

Source = Literal["db", "env", "default", "missing"]
Severity = Literal["info", "warn", "crit"]

_LOOKS_LIKE_ON = frozenset({"true", "1", "yes", "y", "on", "enabled", "enable"})


@dataclass(frozen=True)
class CompanyRead:
    """What a read of one tenant's Company collection returned: its documents, or why it failed."""

    documents: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def company(self) -> Mapping[str, Any] | None:
        """What ``db.company.findFirst()`` would return: the first document, or ``None``."""
        return self.documents[0] if self.ok and self.documents else None


@dataclass(frozen=True)
class Finding:
    """Something about a tenant's configuration an on-call engineer should know."""

    code: str
    severity: Severity
    message: str
    service: str | None = None
    field: str | None = None


class FlagState(NamedTuple):
    """A feature flag's raw env value and how the app reads it (on only for exactly ``true``). A named
    tuple, as ``FieldResolution``: a pass makes one per flagged service and tenant, twice."""

    name: str
    raw: str | None

    @property
    def on(self) -> bool:
        return self.raw == "true"


class FieldResolution(NamedTuple):
    """One field's effective value and where it came from. ``value`` is unmasked: mask at the edge.

    A named tuple rather than a frozen dataclass: a pass over 1,000 tenants makes 42,000 of them, and a
    tuple is built in a third of the time."""

    field: str
    source: Source
    value: Any
    secret: bool
    env_var: str | None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.source != "missing" and self.error is None


@dataclass(frozen=True)
class ServiceResolution:
    """A service's effective config under one flag position. ``resolve_service`` works out ``problems``
    and ``completeness`` as it resolves the fields."""

    service: str
    flag: FlagState | None
    source: Literal["db", "env"]
    fields: Mapping[str, FieldResolution]
    required: tuple[str, ...]
    problems: Mapping[str, str]
    """Required fields that are missing or invalid, and invalid optional ones, with reasons."""
    completeness: float
    """Share of required fields that resolve and validate (1.0 when nothing is required)."""

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class TenantResolution:
    """Every service of one tenant, plus tenant-wide findings."""

    tenant: str
    services: Mapping[str, ServiceResolution]
    findings: tuple[Finding, ...]
    company_count: int | None
    db_error: str | None
    company: Mapping[str, Any] | None = field(default=None, repr=False)


def _env_value(spec: FieldSpec, raw: str) -> tuple[Any, str | None]:
    if spec.prisma_type == "Boolean":
        return raw == "true", None
    try:
        return parse_text(spec.name, raw), None
    except ValueError as exc:
        return raw, str(exc)


def _from_env(spec: FieldSpec, env_var: str | None, env: Mapping[str, str | None]) -> FieldResolution:
    raw = env.get(env_var) if env_var else None
    if raw is None:
        return FieldResolution(spec.name, "missing", None, spec.secret, env_var)
    value, error = _env_value(spec, raw)
    return FieldResolution(
        spec.name, "env", value, spec.secret, env_var, error or validate_value(spec.name, value)
    )


def _from_db(
    spec: FieldSpec,
    env_var: str | None,
    env: Mapping[str, str | None],
    company: Mapping[str, Any] | None,
    env_fallback: bool,
) -> FieldResolution:
    if company is not None:
        value = company.get(spec.name)
        if value is not None:
            return FieldResolution(
                spec.name, "db", value, spec.secret, env_var, validate_value(spec.name, value)
            )
        if spec.has_default:
            return FieldResolution(spec.name, "default", spec.default, spec.secret, env_var)
    if env_fallback:
        return _from_env(spec, env_var, env)
    return FieldResolution(spec.name, "missing", None, spec.secret, env_var)


def resolve_service(
    spec: ServiceSpec,
    env: Mapping[str, str | None],
    read: CompanyRead,
    *,
    use_db: bool | None = None,
) -> ServiceResolution:
    """Resolve one service as the app would. ``use_db`` overrides the flag (to ask "what if flipped?")."""
    flag = FlagState(spec.flag, env.get(spec.flag)) if spec.flag else None
    if spec.mode == ResolutionMode.FLAGGED:
        wants_db = flag.on if (flag is not None and use_db is None) else bool(use_db)
    else:
        wants_db = True
    reads_db = wants_db and read.ok
    env_fallback = spec.mode != ResolutionMode.DB_ONLY
    from_db = reads_db or spec.mode == ResolutionMode.DB_ONLY
    source: Literal["db", "env"] = "db" if from_db else "env"
    company = read.company if from_db and read.ok else None
    fields: dict[str, FieldResolution] = {}
    problems: dict[str, str] = {}
    usable_required = 0
    for fspec, env_var in spec.fields_with_env_names():
        name = fspec.name
        if from_db:
            fres = _from_db(fspec, env_var, env, company, env_fallback)
        else:
            fres = _from_env(fspec, env_var, env)
        fields[name] = fres
        if fres.error:
            problems[name] = fres.error
        elif fres.source == "missing" and fspec.required:
            problems[name] = f"{env_var} unset" if env_var and source == "env" else "missing"
        if fspec.required and fres.source != "missing" and fres.error is None:
            usable_required += 1
    required = spec.required_fields()
    return ServiceResolution(
        service=spec.name,
        flag=flag,
        source=source,
        fields=fields,
        required=required,
        problems=problems,
        completeness=usable_required / len(required) if required else 1.0,
    )


def _flag_findings(spec: ServiceSpec, flag: FlagState) -> list[Finding]:
    raw = flag.raw
    if raw is None or raw == "true" or raw.strip().lower() not in _LOOKS_LIKE_ON:
        return []
    return [
        Finding(
            "flag_not_true",
            "warn",
            f'{flag.name}="{raw}" looks meant to be on, but the app reads only exactly "true": '
            f"{spec.name} uses env",
            service=spec.name,
        )
    ]


def _shadow_findings(res: ServiceResolution, env: Mapping[str, str | None]) -> list[Finding]:
    found = []
    for name, fres in res.fields.items():
        if fres.source == "db" and fres.value == "" and fres.env_var and env.get(fres.env_var):
            found.append(
                Finding(
                    "empty_db_shadows_env",
                    "warn",
                    f'{name} is "" in the DB, which hides {fres.env_var} (set in env): '
                    "the app uses the empty string",
                    service=res.service,
                    field=name,
                )
            )
    return found


def _company_findings(read: CompanyRead) -> list[Finding]:
    if not read.ok:
        return [
            Finding(
                "db_unreachable",
                "crit",
                f"Company read failed ({read.error}): services resolve to env, as the app falls back",
            )
        ]
    count = len(read.documents)
    if count == 0:
        return [Finding("no_company", "crit", "no Company document: DB-backed services fall to env")]
    if count > 1:
        return [
            Finding(
                "multiple_company",
                "warn",
                f"{count} Company documents: the app's findFirst() without orderBy picks one arbitrarily",
            )
        ]
    return []


def resolve_tenant(
    tenant: str,
    catalog: Mapping[str, ServiceSpec],
    env: Mapping[str, str | None],
    read: CompanyRead,
    services: Sequence[str] | None = None,
) -> TenantResolution:
    """Resolve every service of a tenant and collect the findings the app would never tell you."""
    findings: list[Finding] = _company_findings(read)
    resolved: dict[str, ServiceResolution] = {}
    for name in services or tuple(catalog):
        spec = catalog[name]
        res = resolve_service(spec, env, read)
        resolved[name] = res
        if res.flag is not None:
            findings.extend(_flag_findings(spec, res.flag))
        findings.extend(_shadow_findings(res, env))
    return TenantResolution(
        tenant=tenant,
        services=resolved,
        findings=tuple(findings),
        company_count=len(read.documents) if read.ok else None,
        db_error=read.error,
        company=read.company,
    )

