"""The ``fallback:<service>`` checks: would the OTHER source alone run this service? Pure.

With the flag on the other source is env ("safe to flip to env?"); with it off it is the DB, as the app
would read it after the flip (``company?.field ?? env``), which needs a readable Company document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.verdict import Verdict, problem_texts, to_result
from opsdash.config.catalog import ServiceSpec
from opsdash.config.resolve import CompanyRead, ServiceResolution, resolve_service

PREFIX = "fallback:"


def check_id(service: str) -> str:
    return PREFIX + service


def target_of(current: ServiceResolution) -> Literal["env", "db"]:
    """The source a flip would move the service to."""
    return "db" if current.flag is not None and not current.flag.on else "env"


def decide(
    spec: ServiceSpec, env: Mapping[str, str | None], read: CompanyRead, current: ServiceResolution
) -> Verdict:
    """OK when the other source alone is complete and valid, WARN (with what is missing) when not."""
    target = target_of(current)
    other = resolve_service(spec, env, read, use_db=target == "db")
    problems: dict[str, str] = dict(other.problems)
    texts = problem_texts(other)
    if target == "db":
        if not read.ok:
            problems = {"Company": "DB unreachable", **problems}
            texts = ["DB unreachable", *texts]
        elif read.company is None:
            problems = {"Company": "no Company document", **problems}
            texts = ["no Company document", *texts]
    env_backed = sorted(n for n, f in other.fields.items() if f.source == "env") if target == "db" else []
    details: dict[str, Any] = {"target": target, "ready": not problems, "problems": problems}
    if env_backed:
        details["env_backed"] = env_backed
    if problems:
        return Verdict(
            Status.WARN, f"safe to flip to {target}: no, " + ", ".join(texts), "condition", details
        )
    note = f" ({', '.join(env_backed)} would still come from env)" if env_backed else ""
    return Verdict(Status.OK, f"safe to flip to {target}: yes{note}", None, details)


def result(
    tenant: str,
    spec: ServiceSpec,
    env: Mapping[str, str | None],
    read: CompanyRead,
    current: ServiceResolution,
    started: datetime,
) -> CheckResult:
    """The ``fallback:<service>`` result for one flagged service."""
    verdict = decide(spec, env, read, current)
    return to_result(
        tenant,
        check_id(spec.name),
        verdict,
        started=started,
        duration_s=0.0,
        source=verdict.details["target"],
    )
