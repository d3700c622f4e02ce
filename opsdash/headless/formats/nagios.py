"""``--format nagios``: a Nagios/Icinga plugin's output.

First line ``OPSDASH CRITICAL - 2/40 tenants critical, ... | perfdata``; then long output, one line
per failing tenant and an indented line per failing check; then per-check durations as more perfdata.
"""

from __future__ import annotations

from opsdash.checks.base import Status
from opsdash.headless.report import CheckReport, problems

STATE_NAMES = {Status.OK: "OK", Status.WARN: "WARNING", Status.CRIT: "CRITICAL", Status.UNKNOWN: "UNKNOWN"}
_MAX_NAMED = 3
_MAX_SUMMARY = 60


def _clean(text: str) -> str:
    """Plugin output must not contain ``|`` (it starts perfdata) nor line breaks."""
    return " ".join(text.replace("|", "/").split())


def _short(text: str) -> str:
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 3].rstrip() + "..."


def perf_label(label: str) -> str:
    """A quoted perfdata label: ``=`` is not allowed, a quote is doubled."""
    return "'" + label.replace("=", "_").replace("'", "''") + "'"


def perf_value(label: str, value: float | int, uom: str = "", warn: str = "", crit: str = "",
               minimum: str = "", maximum: str = "") -> str:
    number = f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    fields = [warn, crit, minimum, maximum]
    while fields and fields[-1] == "":
        fields.pop()
    suffix = "".join(f";{f}" for f in fields)
    return f"{perf_label(label)}={number}{uom}{suffix}"


def first_line(report: CheckReport) -> str:
    total = len(report.tenants)
    counts = report.tenant_counts
    if report.status is Status.OK:
        text = f"{counts.OK}/{total} tenants OK"
    else:
        parts = [f"{counts.CRIT}/{total} tenants critical"] if counts.CRIT else []
        if counts.WARN:
            parts.append(f"{counts.WARN}/{total} warning" if not parts else f"{counts.WARN} warning")
        if counts.UNKNOWN:
            parts.append(f"{counts.UNKNOWN}/{total} unknown" if not parts else f"{counts.UNKNOWN} unknown")
        worst_per_tenant: dict[str, str] = {}
        for tenant, entry in problems(report):
            worst_per_tenant.setdefault(tenant.name, f"{tenant.name}: {entry.check}: {_short(entry.summary)}")
        named = "; ".join(list(worst_per_tenant.values())[:_MAX_NAMED])
        extra = len(worst_per_tenant) - _MAX_NAMED
        more = f"; +{extra} more tenant{'s' if extra > 1 else ''}" if extra > 0 else ""
        text = f"{', '.join(parts)} ({named}{more})"
    perf = " ".join(
        [
            perf_value("tenants", total, minimum="0"),
            perf_value("tenants_critical", counts.CRIT, "", "", "1", "0", str(total)),
            perf_value("tenants_warning", counts.WARN, "", "1", "", "0", str(total)),
            perf_value("tenants_unknown", counts.UNKNOWN, "", "", "", "0", str(total)),
        ]
    )
    return f"OPSDASH {STATE_NAMES[report.status]} - {_clean(text)} | {perf}"


def render(report: CheckReport) -> str:
    lines = [first_line(report)]
    for tenant in report.tenants:
        bad = [c for c in tenant.checks if c.status is not Status.OK]
        if not bad:
            continue
        lines.append(f"[{STATE_NAMES[tenant.status]}] {tenant.name}")
        for entry in sorted(bad, key=lambda c: (-c.status.rank, c.check)):
            lines.append(f"  \\_[{STATE_NAMES[entry.status]}] {entry.check} - {_clean(entry.summary)}")
    durations = [
        perf_value(f"{t.name} {c.check}", round(c.duration_s, 6), "s", minimum="0")
        for t in report.tenants
        for c in t.checks
    ]
    if durations:
        if len(lines) == 1:
            lines.append(f"{report.tenant_counts.OK} tenants OK")
        lines[-1] += " | " + durations[0]
        lines.extend(durations[1:])
    return "\n".join(lines) + "\n"
