"""Resolved config as data for people and machines: the documented JSON shape and a text rendering.

Every value passes through :func:`opsdash.redact.mask_secret` here, so no caller can forget to mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opsdash.config.company import FIELDS_BY_NAME
from opsdash.config.resolve import FieldResolution, Finding, ServiceResolution, TenantResolution
from opsdash.redact import mask_secret, name_looks_secret


def display_value(res: FieldResolution) -> Any:
    """The value as it may be shown: secrets masked, dates as ISO text."""
    if res.secret:
        return mask_secret(res.value)
    if isinstance(res.value, datetime):
        return res.value.isoformat()
    return res.value


def extra_fields(company: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Company fields opsdash has no rule for (the real schema has 50+), shown rather than dropped;
    values whose names look secret are masked, and non-JSON values shown as text."""
    shown: dict[str, Any] = {}
    for name, value in (company or {}).items():
        if name == "_id" or name in FIELDS_BY_NAME:
            continue
        if name_looks_secret(name):
            shown[name] = mask_secret(value)
        elif isinstance(value, datetime):
            shown[name] = value.isoformat()
        elif value is None or isinstance(value, bool | int | float | str):
            shown[name] = value
        else:
            shown[name] = str(value)
    return shown


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "message": finding.message,
        "service": finding.service,
        "field": finding.field,
    }


def service_to_dict(res: ServiceResolution) -> dict[str, Any]:
    return {
        "flag": (
            {"name": res.flag.name, "raw": res.flag.raw, "on": res.flag.on} if res.flag else None
        ),
        "source": res.source,
        "completeness": round(res.completeness, 4),
        "problems": dict(res.problems),
        "fields": {
            name: {
                "source": fres.source,
                "value": display_value(fres),
                "secret": fres.secret,
                "env_var": fres.env_var,
                "error": fres.error,
            }
            for name, fres in res.fields.items()
        },
    }


def tenant_to_dict(res: TenantResolution, database: str) -> dict[str, Any]:
    """One tenant in the ``config show --json`` shape (see README, "JSON shapes")."""
    return {
        "name": res.tenant,
        "database": database,
        "company_count": res.company_count,
        "services": {name: service_to_dict(s) for name, s in res.services.items()},
        "other_fields": extra_fields(res.company),
        "findings": [finding_to_dict(f) for f in res.findings],
    }


def _flag_text(res: ServiceResolution) -> str:
    if res.flag is None:
        return "no flag"
    raw = "unset" if res.flag.raw is None else f'"{res.flag.raw}"'
    return f"{res.flag.name}={raw} ({'on' if res.flag.on else 'off'})"


def render_tenant_text(res: TenantResolution, database: str) -> str:
    """A plain-text block per tenant for ``config show``."""
    count = "?" if res.company_count is None else str(res.company_count)
    lines = [f"{res.tenant}  {database}  Company documents: {count}"]
    for name, svc in res.services.items():
        lines.append(
            f"  {name:<13} {_flag_text(svc)} -> {svc.source}  complete {svc.completeness:.0%}"
        )
        for fname, fres in svc.fields.items():
            value = display_value(fres)
            if value is None:
                shown = "-"
            elif isinstance(value, str) and not fres.secret:
                shown = repr(value)
            else:
                shown = str(value)
            note = f"  !! {fres.error}" if fres.error else ""
            lines.append(f"    {fname:<28} {fres.source:<8} {shown}{note}")
    others = extra_fields(res.company)
    if others:
        lines.append("  other Company fields:")
        lines.extend(f"    {name:<28} {value}" for name, value in others.items())
    if res.findings:
        lines.append("  findings:")
        lines.extend(f"    {f.severity.upper():<4} {f.code}: {f.message}" for f in res.findings)
    return "\n".join(lines)
