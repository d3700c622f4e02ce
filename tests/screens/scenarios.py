"""Fixed fleets and results for the dashboard tests: deterministic, with secret canaries planted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.company import FIELDS_BY_NAME
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.redact import mask_secret
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.seed import healthy_company

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
CANARY = "CANARY-s3cr3t-7a9c"
"""Planted as every secret value; must never appear on screen."""

TENANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("acme-prod", ("prod", "eu")),
    ("beta-shop", ("staging",)),
    ("corner-cafe", ("prod",)),
    ("delta-deli", ("prod",)),
    ("echo-books", ("trial",)),
    ("foxtrot-fashion-outlet", ("prod", "us")),
)


def clock() -> datetime:
    return NOW


def make_fleet(
    directory: Path,
    names: Sequence[tuple[str, tuple[str, ...]]] = TENANTS,
    keymap: Mapping[str, str] | None = None,
) -> Fleet:
    tenants = [
        TenantFiles(
            name, f"mongodb://ops:{CANARY}@db.internal:27017/{name}", {"USE_DB_WHATSAPP": "true"}, tags
        )
        for name, tags in names
    ]
    path = write_fleet(directory, tenants, tables={"keymap": dict(keymap)} if keymap else None)
    return load_fleet(path)


def _result(
    tenant: str,
    check: str,
    status: Status = Status.OK,
    summary: str = "ok",
    *,
    ago: float = 20,
    duration: float = 0.05,
    used: str | None = None,
    **details: Any,
) -> CheckResult:
    return CheckResult(
        tenant=tenant,
        check=check,
        status=status,
        summary=summary,
        details=details,
        timestamp=NOW - timedelta(seconds=ago),
        duration_s=duration,
        source=used,
    )


def config_details(
    service: str,
    source: str,
    flag_on: bool | None,
    company: Mapping[str, Any],
    missing: Sequence[str] = (),
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``config:<service>`` details table the way the config check builds it: values already masked."""
    spec = DEFAULT_CATALOG[service]
    errors = dict(errors or {})
    fields: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in spec.fields:
        fspec = FIELDS_BY_NAME[name]
        env_var = spec.env_name(name)
        value = None if name in missing else company.get(name)
        if fspec.secret:
            value = mask_secret(value)
        fields[name] = {
            "source": "missing" if name in missing else source,
            "value": value,
            "secret": fspec.secret,
            "env_var": env_var,
            "error": errors.get(name),
        }
        if name in missing and fspec.required:
            problems[name] = f"{env_var} unset" if source == "env" and env_var else "missing"
    problems.update(errors)
    required = spec.required_fields()
    usable = sum(1 for n in required if n not in problems)
    flag = None
    if spec.flag:
        flag = {"name": spec.flag, "raw": "true" if flag_on else None, "on": bool(flag_on)}
    return {
        "source": source,
        "flag": flag,
        "completeness": usable / len(required) if required else 1.0,
        "problems": problems,
        "fields": fields,
        "findings": [],
    }


@dataclass
class TenantPlan:
    """How one tenant should look: its DB, per-service flags, problems and live statuses."""

    name: str
    db: Status = Status.OK
    db_latency: float = 12.0
    flags: dict[str, bool] = field(
        default_factory=lambda: {"whatsapp": True, "whatsapp_otp": False, "cloudinary": True, "auth": False}
    )
    missing: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    fallback_not_ready: dict[str, dict[str, str]] = field(default_factory=dict)
    live: dict[str, tuple[Status, str]] = field(default_factory=dict)
    checked: bool = True


def plan_results(plan: TenantPlan) -> list[CheckResult]:
    company = healthy_company(
        **{
            k: CANARY
            for k in (
                "whatsappPermanentToken",
                "whatsappWebhookVerifyToken",
                "whatsappAppSecret",
                "emailPass",
                "smtpPass",
                "cloudinaryApiSecret",
            )
        }
    )
    if not plan.checked:
        return []
    name = plan.name
    out = []
    if plan.db is Status.OK:
        out.append(
            _result(
                name,
                "db",
                summary=f"ok: db.internal:27017/{name}, {plan.db_latency:.0f} ms",
                latency_ms=plan.db_latency,
                findings=[],
                ago=4,
            )
        )
    else:
        out.append(
            _result(
                name,
                "db",
                plan.db,
                "db.internal:27017: connection refused",
                ago=4,
                findings=[
                    {
                        "code": "db_unreachable",
                        "severity": "crit",
                        "message": "Company read failed: services resolve to env",
                    }
                ],
            )
        )
    for service in DEFAULT_CATALOG:
        on = plan.flags.get(service)
        source = "db" if (on or service in ("email", "business")) else "env"
        details = config_details(
            service, source, on, company, plan.missing.get(service, ()), plan.errors.get(service)
        )
        status = Status.CRIT if details["problems"] else Status.OK
        summary = "; ".join(f"{k} {v}" for k, v in details["problems"].items()) or "complete"
        out.append(_result(name, f"config:{service}", status, summary, ago=30, **details))
        if on is not None:
            target = "env" if on else "db"
            problems = plan.fallback_not_ready.get(service, {})
            out.append(
                _result(
                    name,
                    f"fallback:{service}",
                    Status.WARN if problems else Status.OK,
                    f"safe to flip to {target}: "
                    + ("no, " + ", ".join(f"{k} {v}" for k, v in problems.items()) if problems else "yes"),
                    ago=30,
                    target=target,
                    ready=not problems,
                    problems=problems,
                )
            )
    for check in ("whatsapp", "cloudinary", "smtp", "auth"):
        status, summary = plan.live.get(check, (Status.OK, "ok: 200 in 80 ms"))
        out.append(_result(name, check, status, summary, ago=65, duration=0.08))
    return out


def mixed_plans() -> list[TenantPlan]:
    return [
        TenantPlan(
            "acme-prod",
            flags={"whatsapp": True, "whatsapp_otp": False, "cloudinary": False, "auth": False},
            missing={"cloudinary": ["cloudinaryApiSecret"]},
            live={"cloudinary": (Status.UNKNOWN, "not probed: CLOUDINARY_API_SECRET unset")},
        ),
        TenantPlan(
            "beta-shop", db_latency=231, fallback_not_ready={"whatsapp": {"WHATSAPP_APP_SECRET": "unset"}}
        ),
        TenantPlan(
            "corner-cafe",
            db=Status.CRIT,
            live={"whatsapp": (Status.CRIT, "graph.facebook.com: 401 invalid token")},
        ),
        TenantPlan("delta-deli", errors={"email": {"smtpPort": "must be a port number from 1 to 65535"}}),
        TenantPlan("echo-books", checked=False),
        TenantPlan("foxtrot-fashion-outlet", db_latency=8),
    ]


def healthy_plans() -> list[TenantPlan]:
    return [TenantPlan(name, db_latency=10 + i) for i, (name, _) in enumerate(TENANTS)]


def history_results(tenant: str, check: str, count: int = 30) -> list[CheckResult]:
    """A deterministic latency history for one live check, with two failures."""
    out = []
    for i in range(count):
        status = Status.CRIT if i in (11, 12) else Status.OK
        out.append(
            _result(
                tenant,
                check,
                status,
                "ok" if status is Status.OK else "timeout",
                ago=65 + 300 * (count - i),
                duration=0.05 + 0.01 * ((i * 7) % 11),
            )
        )
    return out
