"""How an action ends: its outcome for the caller, and the audit record written for it in one step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsdash.actions.audit import AuditRecord, Change, Outcome, new_audit_id, utc_now, write_audit
from opsdash.actions.operator import Operator
from opsdash.config.fleet import Fleet
from opsdash.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

_EXIT = {"applied": EXIT_OK, "refused": EXIT_USAGE, "conflict": EXIT_USAGE, "failed": EXIT_FAILURE}


@dataclass(frozen=True)
class ActionOutcome:
    """What happened to one attempted write; ``audit_id`` names its audit record."""

    audit_id: str
    outcome: Outcome
    message: str
    redeploy_needed: bool = False
    warnings: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    tenant: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"

    @property
    def exit_code(self) -> int:
        """0 applied, 2 refused or conflict (nothing written), 1 failed."""
        return _EXIT[self.outcome]


def conclude(
    fleet: Fleet,
    *,
    operator: Operator,
    tenant: str,
    action: str,
    outcome: Outcome,
    reason: str,
    message: str,
    service: str | None = None,
    fields: Sequence[str] = (),
    changes: Sequence[Change] = (),
    target: str | None = None,
    undo_of: str | None = None,
    undo_secrets: Mapping[str, Any] | None = None,
    redeploy_needed: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> ActionOutcome:
    """Audit the attempt (locally, then in the tenant DB) and return its outcome."""
    record = AuditRecord(
        id=new_audit_id(),
        time=utc_now(),
        operator=operator,
        tenant=tenant,
        action=action,
        outcome=outcome,
        reason=reason,
        message=message,
        service=service,
        fields=tuple(fields),
        changes=tuple(changes),
        target=target,
        undo_of=undo_of,
        extra=dict(extra or {}),
    )
    warning = write_audit(fleet, record, undo_secrets=undo_secrets if outcome == "applied" else None)
    return ActionOutcome(
        audit_id=record.id,
        outcome=outcome,
        message=message,
        redeploy_needed=redeploy_needed and outcome == "applied",
        warnings=(warning,) if warning else (),
        changes=tuple(changes),
        tenant=tenant,
    )


def record_refusal(
    fleet: Fleet,
    tenant: str,
    action: str,
    *,
    operator: Operator,
    reason: str,
    message: str,
    service: str | None = None,
    fields: Sequence[str] = (),
) -> ActionOutcome:
    """Audit a write refused before it reached the core (e.g. a secret typed on the command line)."""
    return conclude(
        fleet, operator=operator, tenant=tenant, action=action, outcome="refused", reason=reason,
        message=message, service=service, fields=fields,
    )
