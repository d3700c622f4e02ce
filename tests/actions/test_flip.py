"""Flips against real dotenv files and a real database: both directions, preflight, roles, audit."""

from __future__ import annotations

import json
from typing import Any

from dotenv import dotenv_values

from opsdash.actions.audit import list_audit, local_path
from opsdash.actions.flip import flip
from opsdash.actions.preflight import preflight_flip
from opsdash.checks.base import CheckResult, Status
from tests.actions.conftest import ADMIN, CANARIES, VIEWER, TwoTenants


class RecordedResults:
    """A results store holding given results (the engine's store interface: ``latest_one``)."""

    def __init__(self, *results: CheckResult) -> None:
        self._results = {(r.tenant, r.check): r for r in results}

    def latest_one(self, tenant: str, check: str) -> CheckResult | None:
        return self._results.get((tenant, check))


def _flag(t: TwoTenants, tenant: str, key: str = "USE_DB_CLOUDINARY") -> str | None:
    return dotenv_values(t.env_files[tenant]).get(key)


def test_flip_to_env_and_back_to_db(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    original = two_tenants.env_files["acme"].read_text(encoding="utf-8")
    out = flip(fleet, "acme", "cloudinary", "env", reason="cloudinary creds rotated", operator=ADMIN)
    assert out.outcome == "applied", out.message
    assert _flag(two_tenants, "acme") == "false"
    text = two_tenants.env_files["acme"].read_text(encoding="utf-8")
    assert text == original.replace("USE_DB_CLOUDINARY=true  #", "USE_DB_CLOUDINARY=false  #")
    assert not out.redeploy_needed

    back = flip(fleet, "acme", "cloudinary", "db", reason="fixed", operator=ADMIN)
    assert back.outcome == "applied", back.message
    assert _flag(two_tenants, "acme") == "true"
    assert _flag(two_tenants, "beta") == "true"

    records = list_audit(fleet, "acme")
    assert [(r.action, r.outcome) for r in records] == [("flip", "applied"), ("flip", "applied")]
    first = records[0]
    assert first.operator.user == "tester" and first.operator.ssh_client == "10.9.8.7"
    assert (first.changes[0].field, first.changes[0].before, first.changes[0].after) == (
        "USE_DB_CLOUDINARY", "true", "false")
    assert first.reason == "cloudinary creds rotated" and first.service == "cloudinary"
    db_records = two_tenants.collection_docs("acme", "OpsdashAudit")
    assert {d["_id"] for d in db_records} == {out.audit_id, back.audit_id}
    assert two_tenants.collection_docs("beta", "OpsdashAudit") == []


def test_preflight_failure_is_refused_listing_what_is_missing(two_tenants: TwoTenants) -> None:
    env_file = two_tenants.env_files["acme"]
    text = env_file.read_text(encoding="utf-8")
    env_file.write_text(text.replace('CLOUDINARY_API_SECRET="', 'UNRELATED="'), encoding="utf-8")
    before = env_file.read_text(encoding="utf-8")
    fleet = two_tenants.fleet()
    pre = preflight_flip(fleet, "acme", "cloudinary", "env")
    assert not pre.ok and pre.problems == {"cloudinaryApiSecret": "CLOUDINARY_API_SECRET unset"}
    out = flip(fleet, "acme", "cloudinary", "env", reason="db down", operator=ADMIN)
    assert out.outcome == "refused" and out.exit_code == 2
    assert "CLOUDINARY_API_SECRET unset" in out.message and "--force" in out.message
    assert env_file.read_text(encoding="utf-8") == before
    assert [p.name for p in env_file.parent.iterdir()] == ["acme.env", "beta.env"]

    forced = flip(fleet, "acme", "cloudinary", "env", reason="db down", operator=ADMIN, force=True)
    assert forced.outcome == "applied" and "forced" in forced.message
    assert _flag(two_tenants, "acme") == "false"
    record = list_audit(fleet, "acme")[-1]
    assert record.extra["forced"] is True


def test_a_failed_latest_probe_blocks_the_flip(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    probe = CheckResult(tenant="acme", check="cloudinary:fallback", status=Status.WARN,
                        summary="Cloudinary answered 401", details={"probe_status": "CRIT"})
    store = RecordedResults(probe)
    out = flip(fleet, "acme", "cloudinary", "env", reason="x", operator=ADMIN, store=store)
    assert out.outcome == "refused" and "Cloudinary answered 401" in out.message
    assert _flag(two_tenants, "acme") == "true"
    passed = RecordedResults(probe.model_copy(update={"details": {"probe_status": "OK"}}))
    assert flip(fleet, "acme", "cloudinary", "env", reason="x", operator=ADMIN, store=passed).applied


def test_db_target_preflight_checks_the_company_document(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    out = flip(fleet, "acme", "whatsapp", "db", reason="migrate", operator=ADMIN)
    assert out.applied, out.message
    assert _flag(two_tenants, "acme", "USE_DB_WHATSAPP") == "true"
    again = flip(fleet, "acme", "whatsapp", "db", reason="migrate", operator=ADMIN)
    assert again.outcome == "refused" and "already" in again.message


def test_refusals_write_nothing_but_their_audit_record(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    files = {name: p.read_text(encoding="utf-8") for name, p in two_tenants.env_files.items()}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"tenant": "nope", "service": "cloudinary", "target": "env"}, "unknown tenant 'nope'"),
        ({"tenant": "acme", "service": "mail", "target": "env"}, "unknown service 'mail'"),
        ({"tenant": "acme", "service": "email", "target": "env"}, "has no feature flag"),
        ({"tenant": "acme", "service": "cloudinary", "target": "sideways"}, "unknown target"),
    ]
    for kwargs, expected in cases:
        out = flip(fleet, reason="r", operator=ADMIN, **kwargs)
        assert out.outcome == "refused" and out.exit_code == 2 and expected in out.message
    viewer = flip(fleet, "acme", "cloudinary", "env", reason="r", operator=VIEWER)
    assert viewer.outcome == "refused" and "viewer" in viewer.message
    assert {name: p.read_text(encoding="utf-8") for name, p in two_tenants.env_files.items()} == files
    lines = local_path(fleet).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["outcome"] for line in lines] == ["refused"] * 5
    assert all(c not in "\n".join(lines) for c in CANARIES)


def test_cli_reads_the_latest_probe_from_the_engine_store(two_tenants: TwoTenants) -> None:
    from opsdash.engine.store import ResultStore
    from tests.conftest import run_opsdash

    fleet = two_tenants.fleet()
    store = ResultStore.for_fleet(fleet)
    try:
        store.record([CheckResult(tenant="acme", check="cloudinary:fallback", status=Status.WARN,
                                  summary="Cloudinary answered 401", details={"probe_status": "CRIT"})])
    finally:
        store.close()
    res = run_opsdash(["--config", str(two_tenants.path), "flag", "acme", "cloudinary", "env",
                       "--reason", "r", "--yes"])
    assert res.returncode == 2 and "Cloudinary answered 401" in res.stderr
    assert _flag(two_tenants, "acme") == "true"
