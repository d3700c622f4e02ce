"""The ``config:<service>`` checks: completeness, validation errors and findings of each service. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.verdict import Verdict, problem_texts, to_result
from opsdash.config.report import finding_to_dict, service_to_dict
from opsdash.config.resolve import Finding, ServiceResolution

PREFIX = "config:"
_FINDING_STATUS = {"crit": Status.CRIT, "warn": Status.WARN, "info": Status.OK}


def check_id(service: str) -> str:
    return PREFIX + service


def decide(res: ServiceResolution, findings: Iterable[Finding]) -> Verdict:
    """CRIT when a required field is missing or invalid, WARN for an invalid optional field or a
    warning finding, the worst finding's severity otherwise; details carry the masked field table."""
    mine = [f for f in findings if f.service == res.service] if findings else []
    details: dict[str, Any] = service_to_dict(res)
    details["findings"] = [finding_to_dict(f) for f in mine]
    reasons: list[tuple[Status, str]] = []
    if res.problems:
        required_bad: list[str] = []
        optional_bad: list[str] = []
        for name, text in zip(res.problems, problem_texts(res), strict=True):
            (required_bad if name in res.required else optional_bad).append(text)
        if required_bad:
            reasons.append((Status.CRIT, "incomplete: " + ", ".join(required_bad)))
        if optional_bad:
            reasons.append((Status.WARN, "invalid: " + ", ".join(optional_bad)))
    reasons.extend((_FINDING_STATUS[f.severity], f.message) for f in mine if f.severity != "info")
    if not reasons:
        return Verdict(
            Status.OK, f"complete ({res.source}, {res.completeness:.0%} of required fields)", None, details
        )
    if len(reasons) > 1:
        reasons.sort(key=lambda r: -r[0].rank)
    summary = f"{res.completeness:.0%} complete ({res.source}): " + "; ".join(text for _, text in reasons)
    return Verdict(reasons[0][0], summary, "condition", details)


def result(
    tenant: str, res: ServiceResolution, findings: Iterable[Finding], started: datetime
) -> CheckResult:
    """The ``config:<service>`` result for one resolved service."""
    return to_result(
        tenant,
        check_id(res.service),
        decide(res, findings),
        started=started,
        duration_s=0.0,
        source=res.source,
    )
