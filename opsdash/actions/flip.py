"""Flip a service between its Company document and env fallback by writing exactly ``true``/``false`` to
its feature flag, after a preflight of the target source; and redeploy a Vercel tenant on request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opsdash.actions.audit import Change
from opsdash.actions.env_target import WritableEnv, env_target_for, sensitive_keys
from opsdash.actions.operator import Operator, write_refusal
from opsdash.actions.outcome import ActionOutcome, conclude
from opsdash.actions.preflight import Preflight, Target, describe_problems, flagged_service, preflight_from
from opsdash.config.fleet import Fleet
from opsdash.config.vercel import VercelEnv
from opsdash.errors import OpsdashError

REDEPLOY_NOTE = "redeploy needed: Vercel applies env changes only to new deployments"


@dataclass(frozen=True)
class FlipPlan:
    """A flip about to be written, for the operator to confirm."""

    tenant: str
    service: str
    flag: str
    before: str | None
    after: str
    target: Target
    source: str
    preflight: Preflight
    forced: bool
    redeploy_applies: bool

    def describe(self) -> str:
        before = "unset" if self.before is None else f'"{self.before}"'
        return (
            f"{self.tenant}: {self.service} -> {self.target}: {self.flag} {before} -> \"{self.after}\" "
            f"in {self.source}"
        )


Confirm = Callable[[Any], str | None]
"""Shown the plan; returns ``None`` to go ahead or the reason to stop."""


def flag_value(target: Target) -> str:
    """The exact text the app reads: ``true`` means DB-backed, anything else env."""
    return "true" if target == "db" else "false"


def flip(
    fleet: Fleet,
    tenant: str,
    service: str,
    target: str,
    *,
    reason: str,
    operator: Operator,
    force: bool = False,
    store: Any | None = None,
    confirm: Confirm | None = None,
) -> ActionOutcome:
    """Point ``service`` of ``tenant`` at ``target`` (``env`` or ``db``). Validates, preflights, asks
    ``confirm``, writes, then audits; every outcome, refusals included, is audited."""

    def end(outcome: Any, message: str, **kw: Any) -> ActionOutcome:
        return conclude(
            fleet, operator=operator, tenant=tenant, action="flip", outcome=outcome, reason=reason,
            message=message, service=service, **kw,
        )

    known, refusal = write_refusal(fleet, tenant, operator, reason)
    if known is None:
        return end("refused", refusal or "refused")
    try:
        spec = flagged_service(fleet, service)
    except OpsdashError as exc:
        return end("refused", str(exc))
    if target not in ("env", "db"):
        return end("refused", f"unknown target '{target}': use env or db")
    flag = spec.flag or ""
    try:
        source = env_target_for(fleet, known)
    except OpsdashError as exc:
        return end("refused", str(exc), fields=(flag,))
    try:
        return _flip_with(fleet, known.name, spec.name, target, flag, source, end, force, store, confirm)
    finally:
        source.close()


def _flip_with(
    fleet: Fleet,
    tenant: str,
    service: str,
    target: Target,
    flag: str,
    source: WritableEnv,
    end: Callable[..., ActionOutcome],
    force: bool,
    store: Any | None,
    confirm: Confirm | None,
) -> ActionOutcome:
    where = {"fields": (flag,), "target": source.label}
    try:
        env = source.read()
        preflight = preflight_from(
            fleet, tenant, fleet.catalog[service], env, sensitive_keys(source), target, store
        )
    except OpsdashError as exc:
        return end("refused" if exc.exit_code == 2 else "failed", str(exc), **where)
    before, after = env.get(flag), flag_value(target)
    extra: dict[str, Any] = {}
    if not preflight.ok:
        listed = describe_problems(preflight.problems)
        if not force:
            return end(
                "refused",
                f"preflight failed: {tenant} {service} cannot use {target} alone: {listed} "
                "(fix it, or pass --force)",
                extra={"preflight": preflight.problems},
                **where,
            )
        extra = {"forced": True, "preflight": preflight.problems}
    if before == after:
        return end("refused", f'{flag} is already "{after}" for {tenant}: nothing to change', **where)
    plan = FlipPlan(tenant, service, flag, before, after, target, source.label, preflight, force,
                    source.redeploy_applies)
    if confirm is not None:
        stop = confirm(plan)
        if stop:
            return end("refused", stop, **where)
    change = Change(flag, before, after)
    try:
        source.set(flag, after)
    except OpsdashError as exc:
        return end("refused" if exc.exit_code == 2 else "failed", str(exc), changes=(change,), **where)
    message = f"{plan.describe()}: applied"
    if extra.get("forced"):
        message += f" (forced past preflight: {describe_problems(preflight.problems)})"
    if source.redeploy_applies:
        message += f"; {REDEPLOY_NOTE}"
    return end("applied", message, changes=(change,), redeploy_needed=source.redeploy_applies,
               extra=extra, **where)


def redeploy(fleet: Fleet, tenant: str, *, reason: str, operator: Operator) -> ActionOutcome:
    """Redeploy a Vercel tenant's current production deployment so env changes take effect. Audited.
    Call only on an operator's explicit confirmation."""

    def end(outcome: Any, message: str, **kw: Any) -> ActionOutcome:
        return conclude(fleet, operator=operator, tenant=tenant, action="redeploy", outcome=outcome,
                        reason=reason, message=message, **kw)

    known, refusal = write_refusal(fleet, tenant, operator, reason)
    if known is None:
        return end("refused", refusal or "refused")
    if known.vercel is None:
        return end("refused", f"tenant '{tenant}' is not a Vercel project: nothing to redeploy")
    try:
        source = env_target_for(fleet, known)
    except OpsdashError as exc:
        return end("refused", str(exc))
    assert isinstance(source, VercelEnv)
    try:
        done = source.redeploy()
    except OpsdashError as exc:
        return end("refused" if exc.exit_code == 2 else "failed", str(exc), target=source.label)
    finally:
        source.close()
    url = f" ({done.url})" if done.url else ""
    return end(
        "applied",
        f"{tenant}: redeploy of {done.source_deployment_id} started as {done.deployment_id}{url}",
        target=source.label,
        extra={"deployment": done.deployment_id, "from": done.source_deployment_id},
    )
