"""Pure view model of the tenant detail: per service, the flag, fields, problems, fallback and live check.

Values arrive already masked in the ``config:<service>`` result details; this module only formats them,
and a secret is never shown as anything but set/unset plus its fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.screens.view_model import completeness_bar, sparkline, status_label, uptime_text

LIVE_CHECK_OF: Mapping[str, str] = {
    "whatsapp": "whatsapp",
    "cloudinary": "cloudinary",
    "auth": "auth",
    "email": "smtp",
}
"""The live probe that exercises each service, where there is one."""


@dataclass(frozen=True)
class FieldLine:
    name: str
    source: str
    value: str
    secret: bool
    env_var: str | None
    error: str | None


@dataclass(frozen=True)
class ServiceView:
    """What the detail screen shows for one service of one tenant."""

    service: str
    title: str
    config_status: Status | None
    flag_text: str
    source: str
    target: str | None
    completeness: float | None
    fields: tuple[FieldLine, ...]
    problems: Mapping[str, str]
    findings: tuple[str, ...]
    fallback_text: str
    fallback_ready: bool | None
    live_text: str
    history_line: str

    @property
    def flippable(self) -> bool:
        return self.target is not None

    @property
    def bar(self) -> str:
        return "-" if self.completeness is None else completeness_bar(self.completeness)


def value_text(value: Any, secret: bool) -> str:
    """A field's display text: secrets as ``set sha256:…``/``unset``/``empty``, others verbatim."""
    if value is None:
        return "unset"
    if secret:
        text = str(value)
        if text.startswith("<set ") and text.endswith(">"):
            return "set " + text[5:-1]
        if text == "<empty>":
            return "empty"
        return "set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == "":
        return '""'
    return str(value)


def flag_text(flag: Mapping[str, Any] | None) -> str:
    if not flag:
        return "no flag"
    raw = flag.get("raw")
    shown = "unset" if raw is None else f'"{raw}"'
    return f"{flag.get('name')}={shown} ({'on' if flag.get('on') else 'off'})"


def _finding_text(finding: Mapping[str, Any]) -> str:
    severity = str(finding.get("severity", "info")).upper()
    return f"{severity} {finding.get('code', '')}: {finding.get('message', '')}"


def _fallback(result: CheckResult | None) -> tuple[str, bool | None]:
    if result is None:
        return "fallback: not checked", None
    target = str(result.details.get("target", "?")).upper()
    ready = bool(result.details.get("ready"))
    if ready:
        return f"fallback to {target}: ready", True
    problems = result.details.get("problems") or {}
    why = ", ".join(f"{k} {v}" for k, v in problems.items()) or result.summary
    return f"fallback to {target}: NOT ready ({why})", False


def _live(result: CheckResult | None, fallback: CheckResult | None) -> str:
    if result is None:
        return "live: no probe"
    text = f"live: {status_label(result.status)} {result.summary}"
    if fallback is not None:
        text += f" | env probe: {status_label(fallback.status)} {fallback.summary}"
    return text


def _history(history: Sequence[CheckResult], uptime: float | None) -> str:
    if not history:
        return uptime_text(uptime)
    line = sparkline([r.duration_s * 1000 for r in history])
    failures = sum(1 for r in history if r.status is not Status.OK)
    failed = f" {failures} not OK of {len(history)}" if failures else ""
    return f"{line} {uptime_text(uptime)}{failed}"


def service_view(
    service: str,
    title: str,
    by_check: Mapping[str, CheckResult],
    history: Sequence[CheckResult] = (),
    uptime: float | None = None,
) -> ServiceView:
    """Build one service's view from the tenant's latest results (keyed by check id)."""
    config = by_check.get(f"config:{service}")
    details: Mapping[str, Any] = config.details if config is not None else {}
    flag = details.get("flag")
    source = str(details.get("source") or "-")
    fields = tuple(
        FieldLine(
            name=name,
            source=str(info.get("source", "?")),
            value=value_text(info.get("value"), bool(info.get("secret"))),
            secret=bool(info.get("secret")),
            env_var=info.get("env_var"),
            error=info.get("error"),
        )
        for name, info in (details.get("fields") or {}).items()
    )
    fallback_result = by_check.get(f"fallback:{service}")
    fallback_line, fallback_ready = _fallback(fallback_result)
    live_check = LIVE_CHECK_OF.get(service)
    live_line = (
        _live(by_check.get(live_check), by_check.get(f"{live_check}:fallback"))
        if live_check
        else "live: no probe for this service"
    )
    target = None
    if flag:
        target = "env" if flag.get("on") else "db"
    completeness = details.get("completeness")
    return ServiceView(
        service=service,
        title=title,
        config_status=config.status if config is not None else None,
        flag_text=flag_text(flag),
        source=source,
        target=target,
        completeness=float(completeness) if isinstance(completeness, int | float) else None,
        fields=fields,
        problems=dict(details.get("problems") or {}),
        findings=tuple(_finding_text(f) for f in details.get("findings") or ()),
        fallback_text=fallback_line if flag else "fallback: not a flagged service",
        fallback_ready=fallback_ready if flag else None,
        live_text=live_line,
        history_line=_history(history, uptime) if live_check else "",
    )


def tenant_findings(by_check: Mapping[str, CheckResult]) -> tuple[str, ...]:
    """Tenant-wide lines: the DB result and its findings, and the isolation result when not OK."""
    lines: list[str] = []
    db = by_check.get("db")
    if db is not None:
        lines.append(f"DB {status_label(db.status)} {db.summary}")
        lines.extend(_finding_text(f) for f in db.details.get("findings") or ())
    isolation = by_check.get("isolation")
    if isolation is not None and isolation.status is not Status.OK:
        lines.append(f"isolation {status_label(isolation.status)} {isolation.summary}")
    return tuple(lines)
