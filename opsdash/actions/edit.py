"""Edit fields of a tenant's single Company document: validated by the Company model, written in the BSON
type Prisma uses, and guarded by optimistic concurrency (the update's filter holds the values the operator
saw, so a concurrent change makes it match nothing: a conflict, nothing written)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from opsdash.actions.audit import Change, utc_now
from opsdash.actions.bson_types import same_value, shown, to_bson
from opsdash.actions.operator import Operator, write_refusal
from opsdash.actions.outcome import ActionOutcome, conclude
from opsdash.actions.tenant_db import db_error_text, tenant_database
from opsdash.config.company import FIELDS_BY_NAME, is_secret, parse_text, validate_value
from opsdash.config.fleet import Fleet, Tenant
from opsdash.errors import ActionRefused
from opsdash.redact import mask_secret


@dataclass(frozen=True)
class FieldEdit:
    """One field's old (as seen) and new raw value."""

    field: str
    before: Any
    after: Any
    secret: bool

    def change(self) -> Change:
        before, after = shown(self.before, self.secret), shown(self.after, self.secret)
        return Change(self.field, before, after, self.secret)


@dataclass(frozen=True)
class EditPlan:
    """The edits about to be written to one Company document, for the operator to confirm."""

    tenant: str
    document_id: Any
    edits: tuple[FieldEdit, ...]

    def diff_lines(self) -> list[str]:
        return render_diff(self.edits)


def _display(value: Any, secret: bool) -> str:
    if secret:
        return mask_secret(value) or "unset"
    if value is None:
        return "unset"
    return repr(shown(value, False))


def render_diff(edits: tuple[FieldEdit, ...]) -> list[str]:
    """``  smtpPort: '25' -> '587'`` per field; secrets as ``<set sha256:...>``. Pure."""
    width = max((len(e.field) for e in edits), default=0)
    return [f"  {e.field:<{width}}  {_display(e.before, e.secret)} -> {_display(e.after, e.secret)}"
            for e in edits]


def parse_changes(tenant: str, changes: Mapping[str, str]) -> dict[str, Any]:
    """Operator text to typed, validated values; ``ActionRefused`` naming the first bad field. Pure.
    Values are never echoed (a secret could be among them)."""
    if not changes:
        raise ActionRefused(f"tenant '{tenant}': nothing to edit (give FIELD=VALUE)")
    typed: dict[str, Any] = {}
    for field, text in changes.items():
        if field not in FIELDS_BY_NAME:
            raise ActionRefused(f"tenant '{tenant}': unknown Company field '{field}'")
        try:
            value = parse_text(field, text)
        except ValueError as exc:
            raise ActionRefused(f"tenant '{tenant}': invalid {field}: {exc}") from None
        problem = validate_value(field, value)
        if problem:
            raise ActionRefused(f"tenant '{tenant}': invalid {field}: {problem}")
        typed[field] = value
    return typed


def plan_edit(tenant: str, document: Mapping[str, Any], typed: Mapping[str, Any],
              expected: Mapping[str, Any] | None = None) -> EditPlan:
    """The edits that change something, against the values the operator saw (``expected`` for the fields
    it holds, else the document). Pure."""
    seen = expected if expected is not None else {}
    edits = []
    for field, value in typed.items():
        after = to_bson(field, value)
        before = seen[field] if field in seen else document.get(field)
        if before is not None and same_value(before, after):
            continue
        edits.append(FieldEdit(field, before, after, is_secret(field)))
    return EditPlan(tenant, document.get("_id"), tuple(edits))


def update_for(
    plan: EditPlan, document: Mapping[str, Any], now: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (filter, update) pair: the filter holds ``_id`` and every old value the operator saw; the
    update sets the new values and bumps ``updatedAt`` when the document has one. Pure."""
    flt: dict[str, Any] = {"_id": plan.document_id}
    sets: dict[str, Any] = {}
    unsets: dict[str, Any] = {}
    for e in plan.edits:
        flt[e.field] = e.before
        if e.after is None:
            unsets[e.field] = ""
        else:
            sets[e.field] = e.after
    if "updatedAt" in document:
        sets["updatedAt"] = now
    update: dict[str, Any] = {}
    if sets:
        update["$set"] = sets
    if unsets:
        update["$unset"] = unsets
    return flt, update


def read_company_for_edit(fleet: Fleet, tenant: str) -> dict[str, Any]:
    """The tenant's single Company document, raw (BSON types kept). ``ActionRefused`` when the tenant has
    none or several; ``PyMongoError`` when the database cannot be read."""
    t = fleet.tenant(tenant)
    return single_company(fleet, t)


def single_company(fleet: Fleet, tenant: Tenant) -> dict[str, Any]:
    """The one Company document of a tenant; ``ActionRefused`` for none or several."""
    with tenant_database(fleet, tenant) as db:
        docs = list(db[tenant.company_collection].find({}).limit(2))
    if not docs:
        raise ActionRefused(f"tenant '{tenant.name}' has no Company document: nothing to edit")
    if len(docs) > 1:
        raise ActionRefused(
            f"tenant '{tenant.name}' has more than one Company document: refusing to guess which to edit"
        )
    return docs[0]


Confirm = Callable[[Any], str | None]


def edit(
    fleet: Fleet,
    tenant: str,
    changes: Mapping[str, str],
    *,
    reason: str,
    operator: Operator,
    expected: Mapping[str, Any] | None = None,
    confirm: Confirm | None = None,
) -> ActionOutcome:
    """Set Company fields of ``tenant`` from operator text. ``expected`` holds the values the operator
    saw (default: read now); ``confirm`` sees the :class:`EditPlan` and returns ``None`` to go ahead.
    Every outcome is audited; secrets appear only as fingerprints."""
    fields = tuple(changes)

    def end(outcome: Any, message: str, **kw: Any) -> ActionOutcome:
        return conclude(fleet, operator=operator, tenant=tenant, action="edit", outcome=outcome,
                        reason=reason, message=message, fields=fields, **kw)

    known, refusal = write_refusal(fleet, tenant, operator, reason)
    if known is None:
        return end("refused", refusal or "refused")
    where = f"{known.mongo.display} {known.company_collection}"
    try:
        typed = parse_changes(tenant, changes)
        document = single_company(fleet, known)
    except ActionRefused as exc:
        return end("refused", str(exc), target=where)
    except PyMongoError as exc:
        return end("failed", db_error_text(known, exc), target=where)
    plan = plan_edit(tenant, document, typed, expected)
    if not plan.edits:
        return end("refused", f"tenant '{tenant}': every value is already as given: nothing to change",
                   target=where)
    changed = tuple(e.change() for e in plan.edits)
    fields = tuple(e.field for e in plan.edits)
    if confirm is not None:
        stop = confirm(plan)
        if stop:
            return end("refused", stop, changes=changed, target=where)
    flt, update = update_for(plan, document, utc_now())
    try:
        with tenant_database(fleet, known) as db:
            result = db[known.company_collection].update_one(flt, update)
    except PyMongoError as exc:
        return end("failed", db_error_text(known, exc), changes=changed, target=where)
    if result.matched_count == 0:
        return end(
            "conflict",
            f"conflict: tenant '{tenant}' Company changed since it was read ({', '.join(fields)}): "
            "nothing written; re-read and try again",
            changes=changed,
            target=where,
        )
    undo_secrets = {e.field: e.before for e in plan.edits if e.secret}
    return end(
        "applied",
        f"tenant '{tenant}': set {', '.join(fields)}",
        changes=changed,
        target=where,
        undo_secrets=undo_secrets or None,
        extra={"document": str(plan.document_id)},
    )
