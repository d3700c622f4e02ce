"""A fixed actions backend for snapshots: deterministic answers, secrets planted as canaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opsdash.actions.operator import Operator
from opsdash.testing.seed import healthy_company
from tests.screens.scenarios import CANARY, NOW


@dataclass(frozen=True)
class FixedPreflight:
    ok: bool
    problems: dict[str, str]
    probe: Any = None


@dataclass(frozen=True)
class FixedOutcome:
    audit_id: str
    outcome: str
    message: str
    redeploy_needed: bool = False


@dataclass(frozen=True)
class FixedRecord:
    id: str
    time: Any
    operator: Operator
    tenant: str
    action: str
    outcome: str
    reason: str
    message: str = ""
    service: str | None = None
    fields: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        if self.service and self.fields:
            return f"{self.service} ({', '.join(self.fields)})"
        return self.service or ", ".join(self.fields) or "-"


@dataclass
class FixedBackend:
    """Answers every action the same way; records what it was asked."""

    read_only: bool = False
    preflight_ok: bool = True
    company: dict[str, Any] = field(
        default_factory=lambda: healthy_company(
            smtpPass=CANARY, emailPass=CANARY, smtpPort="587", smtpUser=CANARY[:3] + "mailer"
        )
    )
    calls: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def operator(self) -> Operator:
        return Operator("oncall", None, None, "viewer" if self.read_only else "admin")

    def refusal(self) -> str | None:
        if not self.read_only:
            return None
        return "operator 'oncall' has the viewer role (--read-only): writes are refused"

    def preflight_flip(self, tenant: str, service: str, target: str) -> FixedPreflight:
        if self.preflight_ok:
            return FixedPreflight(True, {})
        return FixedPreflight(False, {"CLOUDINARY_API_SECRET": "unset"})

    def flip(self, tenant: str, service: str, target: str, *, reason: str, force: bool) -> FixedOutcome:
        self.calls.append(("flip", (tenant, service, target, reason, force)))
        return FixedOutcome("a1", "applied", f"{service} now reads {target}", redeploy_needed=True)

    def read_company(self, tenant: str) -> dict[str, Any]:
        return dict(self.company)

    def edit(
        self, tenant: str, changes: Mapping[str, str], *, reason: str, expected: Mapping[str, Any]
    ) -> Any:
        self.calls.append(("edit", (tenant, dict(changes), reason, dict(expected))))
        return FixedOutcome("a2", "applied", f"wrote {', '.join(changes)}")

    def list_audit(self, tenant: str | None = None) -> Sequence[FixedRecord]:
        who = Operator("oncall", None, "10.0.0.7", "admin")
        return [
            FixedRecord(
                "a-0003",
                NOW - timedelta(minutes=5),
                who,
                "acme-prod",
                "flip",
                "applied",
                "cloudinary outage on DB creds",
                service="cloudinary",
            ),
            FixedRecord(
                "a-0002",
                NOW - timedelta(hours=2),
                who,
                "delta-deli",
                "edit",
                "applied",
                "new relay port",
                fields=("smtpPort",),
            ),
            FixedRecord(
                "a-0001",
                NOW - timedelta(days=1),
                Operator("bob", None, None, "viewer"),
                "beta-shop",
                "flip",
                "refused",
                "try it",
                service="whatsapp",
            ),
        ]

    def undo(self, audit_id: str) -> FixedOutcome:
        self.calls.append(("undo", audit_id))
        return FixedOutcome("a-0004", "applied", f"undid {audit_id}")
