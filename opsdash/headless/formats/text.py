"""``--format text``: a summary a person reads: one line per tenant, then each problem under it."""

from __future__ import annotations

from opsdash.checks.base import Status
from opsdash.headless.report import CheckReport, StatusCounts


def _counts_text(counts: StatusCounts, noun: str) -> str:
    parts = [f"{getattr(counts, s.value)} {s.value}" for s in Status if getattr(counts, s.value)]
    return ", ".join(parts) if parts else f"no {noun}"


def render(report: CheckReport) -> str:
    total = len(report.tenants)
    n_checks = sum(len(t.checks) for t in report.tenants)
    lines = [
        f"opsdash check: {report.status}  {total} tenant{'s' if total != 1 else ''} "
        f"({_counts_text(report.tenant_counts, 'tenants')}); "
        f"{n_checks} checks ({_counts_text(report.check_counts, 'checks')})",
        f"at {report.generated_at.isoformat(timespec='seconds')}",
        "",
    ]
    width = max((len(t.name) for t in report.tenants), default=0)
    for tenant in report.tenants:
        bad = [c for c in tenant.checks if c.status is not Status.OK]
        ok = len(tenant.checks) - len(bad)
        lines.append(f"{tenant.name:<{width}}  {tenant.status:<7}  {ok}/{len(tenant.checks)} checks OK")
        check_width = max((len(c.check) for c in bad), default=0)
        for entry in sorted(bad, key=lambda c: (-c.status.rank, c.check)):
            cause = f" [{entry.error_class}]" if entry.error_class else ""
            lines.append(f"    {entry.status:<7}  {entry.check:<{check_width}}  {entry.summary}{cause}")
    return "\n".join(lines) + "\n"
