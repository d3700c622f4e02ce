"""Company edits against a real database: BSON types, optimistic concurrency, isolation, refusals."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from bson import Int64
from pymongo import MongoClient

from opsdash.actions.audit import local_path, read_local
from opsdash.actions.edit import edit, read_company_for_edit
from opsdash.actions.tenant_db import APP_NAME
from opsdash.errors import ActionRefused
from opsdash.redact import fingerprint
from opsdash.testing.seed import healthy_company, seed_company
from tests.actions.conftest import ADMIN, CANARIES, CANARY_NEW, CANARY_SMTP, VIEWER, TwoTenants


def test_every_field_type_is_written_as_prisma_writes_it(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    before = two_tenants.company("acme")
    out = edit(
        fleet,
        "acme",
        {"taxPercentage": "20", "smtpPort": "2525", "requireWhatsappOtp": "true", "fullName": "Acme Ltd"},
        reason="new tax year",
        operator=ADMIN,
    )
    assert out.outcome == "applied", out.message
    after = two_tenants.company("acme")
    assert type(after["taxPercentage"]) is Int64 and after["taxPercentage"] == 20
    assert type(after["smtpPort"]) is str and after["smtpPort"] == "2525"
    assert after["requireWhatsappOtp"] is True
    assert after["fullName"] == "Acme Ltd"
    assert isinstance(after["updatedAt"], datetime) and after["updatedAt"] > before["updatedAt"]
    assert after["createdAt"] == before["createdAt"]
    untouched = set(before) - {"taxPercentage", "smtpPort", "requireWhatsappOtp", "fullName", "updatedAt"}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    assert type(after["shippingFee"]) is Int64


def test_secret_edit_is_audited_by_fingerprint_only(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    out = edit(fleet, "acme", {"smtpPass": CANARY_NEW}, reason="rotate", operator=ADMIN)
    assert out.applied, out.message
    assert two_tenants.company("acme")["smtpPass"] == CANARY_NEW
    change = out.changes[0]
    assert (change.before, change.after, change.secret) == (
        f"sha256:{fingerprint(CANARY_SMTP)}", f"sha256:{fingerprint(CANARY_NEW)}", True)
    local = local_path(fleet).read_text(encoding="utf-8")
    assert all(c not in local for c in CANARIES)
    assert all(c not in out.message for c in CANARIES)
    (db_record,) = two_tenants.collection_docs("acme", "OpsdashAudit")
    assert db_record["undoSecrets"] == {"smtpPass": CANARY_SMTP}
    assert CANARY_NEW not in repr(db_record)


def test_two_concurrent_editors_exactly_one_wins(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    seen = read_company_for_edit(fleet, "acme")
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def editor(host: str) -> None:
        start.wait(timeout=10)
        outcomes[host] = edit(fleet, "acme", {"smtpHost": host}, reason="race", operator=ADMIN,
                              expected=seen)

    threads = [threading.Thread(target=editor, args=(h,)) for h in ("smtp-a.example", "smtp-b.example")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    kinds = sorted(o.outcome for o in outcomes.values())
    assert kinds == ["applied", "conflict"]
    winner = next(h for h, o in outcomes.items() if o.applied)
    loser = next(o for o in outcomes.values() if not o.applied)
    assert two_tenants.company("acme")["smtpHost"] == winner
    assert loser.exit_code == 2 and "nothing written" in loser.message


def test_a_stale_editor_gets_a_conflict_and_no_update_is_lost(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    stale = read_company_for_edit(fleet, "acme")
    assert edit(fleet, "acme", {"smtpHost": "first.example"}, reason="a", operator=ADMIN).applied
    late = edit(fleet, "acme", {"smtpHost": "second.example"}, reason="b", operator=ADMIN, expected=stale)
    assert late.outcome == "conflict"
    assert two_tenants.company("acme")["smtpHost"] == "first.example"
    assert [r.outcome for r in read_local(local_path(fleet))] == ["applied", "conflict"]


def _everything(t: TwoTenants, tenant: str) -> dict[str, list[dict[str, Any]]]:
    with MongoClient(t.urls[tenant], tz_aware=True) as client:
        db = client[t.databases[tenant]]
        return {name: list(db[name].find({}).sort("_id")) for name in sorted(db.list_collection_names())}


def test_an_edit_of_one_tenant_leaves_the_other_identical(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    beta_before = _everything(two_tenants, "beta")
    assert edit(fleet, "acme", {"cloudinaryCloudName": "acme-new", "smtpPass": CANARY_NEW},
                reason="x", operator=ADMIN).applied
    assert _everything(two_tenants, "beta") == beta_before


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"smtpPort": "99999"}, "invalid smtpPort: must be a port number"),
        ({"taxPercentage": "abc"}, "invalid taxPercentage: must be a whole number"),
        ({"requireWhatsappOtp": "yes"}, "must be true or false"),
        ({"email": "not-an-email"}, "invalid email"),
        ({"noSuchField": "1"}, "unknown Company field 'noSuchField'"),
    ],
)
def test_invalid_edits_are_refused_and_write_nothing(
    two_tenants: TwoTenants, changes: dict[str, str], expected: str
) -> None:
    fleet = two_tenants.fleet()
    before = two_tenants.company("acme")
    out = edit(fleet, "acme", changes, reason="r", operator=ADMIN)
    assert out.outcome == "refused" and out.exit_code == 2 and expected in out.message
    assert two_tenants.company("acme") == before
    (record,) = read_local(local_path(fleet))
    assert record.outcome == "refused" and record.fields == tuple(changes)


def test_viewer_and_unknown_tenant_are_refused(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    before = two_tenants.company("acme")
    viewer = edit(fleet, "acme", {"fullName": "X"}, reason="r", operator=VIEWER)
    assert viewer.outcome == "refused" and "viewer" in viewer.message
    nobody = edit(fleet, "nope", {"fullName": "X"}, reason="r", operator=ADMIN)
    assert nobody.outcome == "refused" and "unknown tenant 'nope'" in nobody.message
    assert two_tenants.company("acme") == before
    assert len(read_local(local_path(fleet))) == 2


def test_zero_or_several_company_documents_are_refused(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    db = two_tenants.databases["acme"]
    seed_company(two_tenants.mongo_url, db, healthy_company(), healthy_company(fullName="Dup"))
    out = edit(fleet, "acme", {"fullName": "X"}, reason="r", operator=ADMIN)
    assert out.outcome == "refused" and "more than one Company document" in out.message
    assert {d["fullName"] for d in two_tenants.collection_docs("acme", "Company")} == {"Acme Trading", "Dup"}
    seed_company(two_tenants.mongo_url, db)
    out = edit(fleet, "acme", {"fullName": "X"}, reason="r", operator=ADMIN)
    assert out.outcome == "refused" and "no Company document" in out.message
    assert two_tenants.collection_docs("acme", "Company") == []
    with pytest.raises(ActionRefused):
        read_company_for_edit(fleet, "acme")


def test_local_audit_record_survives_a_failed_database_audit_write(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    with MongoClient(two_tenants.mongo_url) as admin:
        admin.admin.command(
            "configureFailPoint", "failCommand", mode={"times": 1},
            data={"failCommands": ["insert"], "errorCode": 91, "appName": APP_NAME},
        )
        try:
            out = edit(fleet, "acme", {"fullName": "Acme Failover"}, reason="r", operator=ADMIN)
        finally:
            admin.admin.command("configureFailPoint", "failCommand", mode="off")
    assert out.applied and two_tenants.company("acme")["fullName"] == "Acme Failover"
    assert out.warnings and "kept locally only" in out.warnings[0]
    assert [r.id for r in read_local(local_path(fleet))] == [out.audit_id]
    assert two_tenants.collection_docs("acme", "OpsdashAudit") == []
