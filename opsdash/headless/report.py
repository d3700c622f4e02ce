"""The document ``opsdash check`` produces: tenants -> checks -> results, with the worst status on top.

Built purely from ``CheckResult`` values; every format renders this one model, and the published
JSON Schema (``schema/check-report.schema.json``) is generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opsdash.checks.base import CheckResult, ConfigSource, ErrorClass, Status, worst

REPORT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckEntry(_Model):
    """One check's result for one tenant."""

    check: str = Field(description="check id, e.g. 'db', 'config:whatsapp', 'whatsapp:fallback'")
    status: Status
    summary: str = Field(description="one line a person reads")
    error_class: ErrorClass | None = Field(None, description="why a failing check failed")
    source: ConfigSource | None = Field(None, description="the config source the check used")
    duration_s: float = Field(ge=0, description="how long the check ran, in seconds")
    timestamp: datetime = Field(description="when the check finished (UTC)")
    details: dict[str, Any] = Field(default_factory=dict, description="check-specific data; secrets masked")


class StatusCounts(_Model):
    """How many of something are in each status."""

    OK: int = 0
    WARN: int = 0
    CRIT: int = 0
    UNKNOWN: int = 0


class TenantReport(_Model):
    """One tenant: its worst status and every check result."""

    name: str
    status: Status = Field(description="the worst status among this tenant's checks")
    counts: StatusCounts = Field(description="checks per status")
    checks: list[CheckEntry]


class CheckReport(_Model):
    """One pass of ``opsdash check``."""

    model_config = ConfigDict(title="opsdash check report")

    version: Literal[1] = REPORT_VERSION
    generated_at: datetime = Field(description="when the report was assembled (UTC)")
    status: Status = Field(description="the worst status in the fleet: CRIT > WARN > UNKNOWN > OK")
    exit_code: int = Field(ge=0, le=3, description="Nagios exit code: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN")
    tenant_counts: StatusCounts = Field(description="tenants per (worst) status")
    check_counts: StatusCounts = Field(description="check results per status")
    tenants: list[TenantReport]


def _counts(statuses: Iterable[Status]) -> StatusCounts:
    tally = {s.value: 0 for s in Status}
    for status in statuses:
        tally[status.value] += 1
    return StatusCounts(**tally)


def _entry(result: CheckResult) -> CheckEntry:
    return CheckEntry(
        check=result.check,
        status=result.status,
        summary=result.summary,
        error_class=result.error_class,
        source=result.source,
        duration_s=max(result.duration_s, 0.0),
        timestamp=result.timestamp,
        details=result.details,
    )


def build_report(
    results: Iterable[CheckResult], tenant_names: Iterable[str], generated_at: datetime
) -> CheckReport:
    """Group results by tenant (in ``tenant_names`` order, then any others) and check id order."""
    by_tenant: dict[str, list[CheckResult]] = {name: [] for name in tenant_names}
    for result in results:
        by_tenant.setdefault(result.tenant, []).append(result)
    tenants = []
    for name, tenant_results in by_tenant.items():
        ordered = sorted(tenant_results, key=lambda r: r.check)
        tenants.append(
            TenantReport(
                name=name,
                status=worst(r.status for r in ordered),
                counts=_counts(r.status for r in ordered),
                checks=[_entry(r) for r in ordered],
            )
        )
    overall = worst(t.status for t in tenants)
    return CheckReport(
        generated_at=generated_at,
        status=overall,
        exit_code=overall.exit_code,
        tenant_counts=_counts(t.status for t in tenants),
        check_counts=_counts(c.status for t in tenants for c in t.checks),
        tenants=tenants,
    )


def problems(report: CheckReport) -> list[tuple[TenantReport, CheckEntry]]:
    """Every non-OK check, worst first, then by tenant and check."""
    found = [(t, c) for t in report.tenants for c in t.checks if c.status is not Status.OK]
    return sorted(found, key=lambda tc: (-tc[1].status.rank, tc[0].name, tc[1].check))
