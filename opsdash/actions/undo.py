"""Undo an applied edit or flip, but only while the current value is still what that action wrote;
otherwise refuse and name who changed it since (from the audit log)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pymongo.errors import PyMongoError

from opsdash.actions.audit import AuditRecord, Change, find_audit, history_after, utc_now
from opsdash.actions.bson_types import from_shown, matches_shown
from opsdash.actions.edit import single_company
from opsdash.actions.env_target import env_target_for
from opsdash.actions.flip import REDEPLOY_NOTE
from opsdash.actions.operator import Operator, viewer_refusal
from opsdash.actions.outcome import ActionOutcome, conclude
from opsdash.actions.tenant_db import db_error_text, tenant_database
from opsdash.config.fleet import Fleet, Tenant
from opsdash.errors import ActionRefused, OpsdashError

UNDOABLE = ("flip", "edit")
Confirm = Callable[[Any], str | None]


def changed_since_by(later: list[AuditRecord], fields: set[str]) -> str:
    """``by alice from 10.0.0.7 (audit 3f9c…, 2025-06-01 03:12Z)`` for the latest applied record that
    touched any of ``fields``, or a note that nothing in the audit log did. Pure."""
    touching = [r for r in later if fields & ({c.field for c in r.changes} | set(r.fields))]
    if not touching:
        return "outside opsdash (no audit record touches it)"
    last = touching[-1]
    return f"{last.operator.display} (audit {last.id}, {last.time.strftime('%Y-%m-%d %H:%M:%SZ')})"


def undo(
    fleet: Fleet,
    audit_id: str,
    *,
    operator: Operator,
    reason: str | None = None,
    confirm: Confirm | None = None,
) -> ActionOutcome:
    """Revert the applied flip or edit recorded as ``audit_id``. Audited as action ``undo``."""
    why = reason or f"undo of {audit_id}"
    record, undo_secrets = find_audit(fleet, audit_id)
    tenant_name = record.tenant if record else "-"

    def end(outcome: Any, message: str, **kw: Any) -> ActionOutcome:
        return conclude(fleet, operator=operator, tenant=tenant_name, action="undo", outcome=outcome,
                        reason=why, message=message, undo_of=audit_id, **kw)

    if record is None:
        return end("refused", f"no audit record '{audit_id}' (see opsdash audit)")
    subject = {"service": record.service, "fields": record.fields}
    if record.action not in UNDOABLE or record.outcome != "applied":
        return end("refused", f"audit {audit_id} is a {record.outcome} {record.action}: only an applied "
                   "flip or edit can be undone", **subject)
    tenant = next((t for t in fleet.tenants if t.name == record.tenant), None)
    if tenant is None:
        return end("refused", f"audit {audit_id} is for tenant '{record.tenant}', "
                   f"which is not in {fleet.path}", **subject)
    refusal = viewer_refusal(operator)
    if refusal:
        return end("refused", refusal, **subject)
    if record.action == "flip":
        return _undo_flip(fleet, tenant, record, end, confirm)
    return _undo_edit(fleet, tenant, record, undo_secrets, end, confirm)


def _reverse(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    return tuple(Change(c.field, c.after, c.before, c.secret) for c in changes)


def _undo_flip(fleet: Fleet, tenant: Tenant, record: AuditRecord, end: Callable[..., ActionOutcome],
               confirm: Confirm | None) -> ActionOutcome:
    (change,) = record.changes
    subject: dict[str, Any] = {"service": record.service, "fields": (change.field,)}
    try:
        source = env_target_for(fleet, tenant)
    except OpsdashError as exc:
        return end("refused", str(exc), **subject)
    try:
        subject["target"] = source.label
        try:
            current = source.read().get(change.field)
        except OpsdashError as exc:
            return end("refused" if exc.exit_code == 2 else "failed", str(exc), **subject)
        if current != change.after:
            who = changed_since_by(history_after(fleet, record), {change.field})
            return end("refused", f"cannot undo {record.id}: {change.field} changed since by {who} "
                       f"(now {_text(current)}, that flip wrote {_text(change.after)})", **subject)
        reverse = _reverse(record.changes)
        if confirm is not None:
            stop = confirm(reverse)
            if stop:
                return end("refused", stop, changes=reverse, **subject)
        try:
            source.set(change.field, change.before)
        except OpsdashError as exc:
            return end("refused" if exc.exit_code == 2 else "failed", str(exc), changes=reverse, **subject)
        note = f"; {REDEPLOY_NOTE}" if source.redeploy_applies else ""
        flipped = f"{change.field} {_text(change.after)} -> {_text(change.before)}"
        return end("applied", f"{tenant.name}: {flipped} (undo of {record.id}){note}", changes=reverse,
                   redeploy_needed=source.redeploy_applies, **subject)
    finally:
        source.close()


def _text(value: Any) -> str:
    return "unset" if value is None else f'"{value}"'


def _undo_edit(fleet: Fleet, tenant: Tenant, record: AuditRecord, undo_secrets: Mapping[str, Any],
               end: Callable[..., ActionOutcome], confirm: Confirm | None) -> ActionOutcome:
    fields = tuple(c.field for c in record.changes)
    where = f"{tenant.mongo.display} {tenant.company_collection}"
    subject = {"fields": fields, "target": where}
    missing = [c.field for c in record.changes if c.secret and c.field not in undo_secrets]
    if missing:
        return end("refused", f"cannot undo {record.id}: the previous value of {', '.join(missing)} is not "
                   "available (it is kept only in the tenant database's audit record)", **subject)
    try:
        document = single_company(fleet, tenant)
    except ActionRefused as exc:
        return end("refused", str(exc), **subject)
    except PyMongoError as exc:
        return end("failed", db_error_text(tenant, exc), **subject)
    moved = [c.field for c in record.changes if not matches_shown(document.get(c.field), c.after, c.secret)]
    if moved:
        who = changed_since_by(history_after(fleet, record), set(moved))
        return end("refused", f"cannot undo {record.id}: {', '.join(moved)} changed since by {who}",
                   **subject)
    reverse = _reverse(record.changes)
    if confirm is not None:
        stop = confirm(reverse)
        if stop:
            return end("refused", stop, changes=reverse, **subject)
    flt: dict[str, Any] = {"_id": document["_id"]}
    sets: dict[str, Any] = {}
    unsets: dict[str, Any] = {}
    for c in record.changes:
        flt[c.field] = document.get(c.field)
        previous = undo_secrets[c.field] if c.secret else from_shown(c.field, c.before)
        if previous is None:
            unsets[c.field] = ""
        else:
            sets[c.field] = previous
    if "updatedAt" in document:
        sets["updatedAt"] = utc_now()
    update: dict[str, Any] = {k: v for k, v in (("$set", sets), ("$unset", unsets)) if v}
    try:
        with tenant_database(fleet, tenant) as db:
            result = db[tenant.company_collection].update_one(flt, update)
    except PyMongoError as exc:
        return end("failed", db_error_text(tenant, exc), changes=reverse, **subject)
    if result.matched_count == 0:
        return end("conflict", f"conflict: tenant '{tenant.name}' Company changed while undoing {record.id}: "
                   "nothing written", changes=reverse, **subject)
    secrets_back = {c.field: document.get(c.field) for c in record.changes if c.secret}
    return end("applied", f"tenant '{tenant.name}': restored {', '.join(fields)} (undo of {record.id})",
               changes=reverse, undo_secrets=secrets_back or None, **subject)
