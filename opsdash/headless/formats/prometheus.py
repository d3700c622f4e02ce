"""``--format prometheus``: node_exporter textfile-collector format (no timestamps, HELP/TYPE lines)."""

from __future__ import annotations

from collections.abc import Iterable

from opsdash.checks.base import Status
from opsdash.headless.report import CheckReport

STATUS_VALUES = {s: s.exit_code for s in Status}


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _family(name: str, help_text: str, samples: Iterable[tuple[str, float | int]]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"] + [
        f"{name}{labels} {_number(value)}" for labels, value in samples
    ]


def render(report: CheckReport) -> str:
    checks = [(t.name, c) for t in report.tenants for c in t.checks]
    lines: list[str] = []
    lines += _family(
        "opsdash_check_status",
        "Check status: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN (Nagios codes).",
        ((_labels(tenant=t, check=c.check), STATUS_VALUES[c.status]) for t, c in checks),
    )
    lines += _family(
        "opsdash_check_up",
        "1 if the check is OK, else 0.",
        ((_labels(tenant=t, check=c.check), int(c.status is Status.OK)) for t, c in checks),
    )
    lines += _family(
        "opsdash_check_duration_seconds",
        "How long the check took.",
        ((_labels(tenant=t, check=c.check), float(c.duration_s)) for t, c in checks),
    )
    lines += _family(
        "opsdash_check_last_run_timestamp_seconds",
        "Unix time when the check finished.",
        ((_labels(tenant=t, check=c.check), c.timestamp.timestamp()) for t, c in checks),
    )
    lines += _family(
        "opsdash_tenant_status",
        "Worst check status of the tenant: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.",
        ((_labels(tenant=t.name), STATUS_VALUES[t.status]) for t in report.tenants),
    )
    lines += _family(
        "opsdash_tenants",
        "Tenants per worst status.",
        ((_labels(status=s.value), getattr(report.tenant_counts, s.value)) for s in Status),
    )
    lines += _family(
        "opsdash_fleet_status",
        "Worst status in the fleet: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.",
        [("", STATUS_VALUES[report.status])],
    )
    lines += _family(
        "opsdash_report_generated_timestamp_seconds",
        "Unix time when this report was written.",
        [("", report.generated_at.timestamp())],
    )
    return "\n".join(lines) + "\n"
