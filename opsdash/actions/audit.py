"""The audit trail: one record per attempted write, in the tenant's database and a local JSONL file.

The local file (``<state_dir>/audit.jsonl``, append-only) is written first, so a record exists even when
the tenant database is down. Neither place holds a secret value except one: a secret edit's previous
value is kept in the tenant database's record (``undoSecrets``), the database that already holds that
secret, so the edit can be undone. It is never written locally, listed or shown.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pymongo.errors import PyMongoError

from opsdash.actions.operator import Operator
from opsdash.actions.tenant_db import db_error_text, tenant_database
from opsdash.config.fleet import Fleet, Tenant

Outcome = Literal["applied", "refused", "failed", "conflict"]
LOCAL_FILE = "audit.jsonl"
UNDO_SECRETS_KEY = "undoSecrets"


@dataclass(frozen=True)
class Change:
    """One value an action changed (or meant to): a Company field or an env variable, as shown values."""

    field: str
    before: Any
    after: Any
    secret: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after, "secret": self.secret}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["field"]), data.get("before"), data.get("after"), bool(data.get("secret")))


@dataclass(frozen=True)
class AuditRecord:
    """One attempted write and how it ended."""

    id: str
    time: datetime
    operator: Operator
    tenant: str
    action: str
    outcome: Outcome
    reason: str
    message: str
    service: str | None = None
    fields: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    target: str | None = None
    undo_of: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """What was acted on: ``cloudinary (USE_DB_CLOUDINARY)``, ``smtpPort, smtpHost`` or ``-``."""
        parts = [p for p in (self.service, ", ".join(self.fields)) if p]
        if self.service and self.fields:
            return f"{self.service} ({', '.join(self.fields)})"
        return parts[0] if parts else "-"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the shape of ``opsdash audit --json`` and of each JSONL line."""
        return {
            "id": self.id,
            "time": self.time.astimezone(UTC).isoformat(),
            "operator": self.operator.to_dict(),
            "tenant": self.tenant,
            "action": self.action,
            "service": self.service,
            "fields": list(self.fields),
            "changes": [c.to_dict() for c in self.changes],
            "target": self.target,
            "reason": self.reason,
            "outcome": self.outcome,
            "message": self.message,
            "undo_of": self.undo_of,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        when = data["time"]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls(
            id=str(data["id"]),
            time=when.astimezone(UTC),
            operator=Operator.from_dict(data.get("operator") or {}),
            tenant=str(data.get("tenant") or "?"),
            action=str(data.get("action") or "?"),
            outcome=data.get("outcome") or "failed",
            reason=str(data.get("reason") or ""),
            message=str(data.get("message") or ""),
            service=data.get("service"),
            fields=tuple(data.get("fields") or ()),
            changes=tuple(Change.from_dict(c) for c in data.get("changes") or ()),
            target=data.get("target"),
            undo_of=data.get("undo_of"),
            extra=dict(data.get("extra") or {}),
        )


def new_audit_id() -> str:
    """A short random id an operator can type (``opsdash undo 3f9c2a7b1d04``)."""
    return uuid.uuid4().hex[:12]


def utc_now() -> datetime:
    """Now, UTC, to the millisecond (what a BSON Date holds)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def local_path(fleet: Fleet) -> Path:
    return fleet.state_dir / LOCAL_FILE


def append_local(path: Path, record: AuditRecord) -> None:
    """Append one JSON line and fsync it; the file is created ``0600``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.to_dict(), sort_keys=True, default=str) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_local(path: Path) -> list[AuditRecord]:
    """Every record in the local file; unreadable lines (a torn last write) are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            records.append(AuditRecord.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return records


def db_document(record: AuditRecord, undo_secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The record as stored in the tenant database: ``_id`` is the audit id, ``time`` a Date."""
    doc = record.to_dict()
    doc["_id"] = record.id
    doc["time"] = record.time
    if undo_secrets:
        doc[UNDO_SECRETS_KEY] = dict(undo_secrets)
    return doc


def _from_db(doc: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord.from_dict({k: v for k, v in doc.items() if k not in ("_id", UNDO_SECRETS_KEY)})


def write_audit(
    fleet: Fleet,
    record: AuditRecord,
    *,
    undo_secrets: Mapping[str, Any] | None = None,
) -> str | None:
    """Write the record locally, then to the tenant's database when the tenant is known.

    Returns a warning line when the database copy could not be written (the local one exists).
    A failure of the local write raises: an action must not pass unrecorded.
    """
    append_local(local_path(fleet), record)
    tenant = _known_tenant(fleet, record.tenant)
    if tenant is None:
        return None
    try:
        with tenant_database(fleet, tenant) as db:
            db[fleet.audit_collection].insert_one(db_document(record, undo_secrets))
    except PyMongoError as exc:
        return f"audit {record.id} kept locally only: {db_error_text(tenant, exc)}"
    return None


def _known_tenant(fleet: Fleet, name: str) -> Tenant | None:
    return next((t for t in fleet.tenants if t.name == name), None)


def read_tenant_audit(fleet: Fleet, tenant: Tenant) -> list[AuditRecord]:
    """The tenant database's audit records (without any stored secret); raises ``PyMongoError``."""
    with tenant_database(fleet, tenant) as db:
        docs = list(db[fleet.audit_collection].find({}, {UNDO_SECRETS_KEY: 0}))
    return [_from_db(d) for d in docs]


def merge_records(*sources: Iterable[AuditRecord]) -> list[AuditRecord]:
    """Records from several places, one per id, oldest first. Pure."""
    by_id: dict[str, AuditRecord] = {}
    for source in sources:
        for rec in source:
            by_id.setdefault(rec.id, rec)
    return sorted(by_id.values(), key=lambda r: (r.time, r.id))


def list_audit(
    fleet: Fleet, tenant: str | None = None, *, warnings: list[str] | None = None
) -> list[AuditRecord]:
    """Every audit record (of one tenant, or all), merged from the local file and the tenant databases.

    A database that cannot be read is skipped; why goes to ``warnings`` when given.
    """
    local = [r for r in read_local(local_path(fleet)) if tenant is None or r.tenant == tenant]
    tenants = [t for t in fleet.tenants if tenant is None or t.name == tenant]
    remote: list[AuditRecord] = []
    for t in tenants:
        try:
            remote.extend(read_tenant_audit(fleet, t))
        except PyMongoError as exc:
            if warnings is not None:
                warnings.append(f"audit records of {db_error_text(t, exc)} not listed")
    return merge_records(local, remote)


def find_audit(fleet: Fleet, audit_id: str) -> tuple[AuditRecord | None, dict[str, Any]]:
    """The record with this id and, from the tenant database only, any stored undo secrets."""
    local = next((r for r in read_local(local_path(fleet)) if r.id == audit_id), None)
    candidates = [_known_tenant(fleet, local.tenant)] if local else list(fleet.tenants)
    for tenant in [t for t in candidates if t is not None]:
        try:
            with tenant_database(fleet, tenant) as db:
                doc = db[fleet.audit_collection].find_one({"_id": audit_id})
        except PyMongoError:
            continue
        if doc is not None:
            return _from_db(doc), dict(doc.get(UNDO_SECRETS_KEY) or {})
    return local, {}


def history_after(fleet: Fleet, record: AuditRecord) -> list[AuditRecord]:
    """Applied records of the same tenant after ``record``, oldest first (who changed things since)."""
    return [
        r
        for r in list_audit(fleet, record.tenant)
        if r.outcome == "applied" and (r.time, r.id) > (record.time, record.id) and r.id != record.id
    ]
