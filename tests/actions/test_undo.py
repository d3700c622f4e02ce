"""Undo reverts an applied edit or flip only while nothing changed it since."""

from __future__ import annotations

from dotenv import dotenv_values

from opsdash.actions.audit import local_path
from opsdash.actions.edit import edit
from opsdash.actions.flip import flip
from opsdash.actions.operator import Operator
from opsdash.actions.undo import undo
from tests.actions.conftest import ADMIN, CANARIES, CANARY_NEW, CANARY_SMTP, VIEWER, TwoTenants

ALICE = Operator(user="root", sudo_user="alice", ssh_client="10.0.0.7", role="admin")


def test_undo_round_trips_an_edit_including_a_secret(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    before = two_tenants.company("acme")
    done = edit(fleet, "acme", {"taxPercentage": "21", "smtpPass": CANARY_NEW, "smtpPort": "2525"},
                reason="r", operator=ADMIN)
    assert done.applied
    back = undo(fleet, done.audit_id, operator=ADMIN)
    assert back.outcome == "applied", back.message
    after = two_tenants.company("acme")
    for field in ("taxPercentage", "smtpPass", "smtpPort"):
        assert after[field] == before[field] and type(after[field]) is type(before[field])
    assert after["smtpPass"] == CANARY_SMTP
    again = undo(fleet, done.audit_id, operator=ADMIN)
    assert again.outcome == "refused" and "changed since by tester" in again.message
    assert all(c not in local_path(fleet).read_text(encoding="utf-8") for c in CANARIES)


def test_undo_round_trips_a_flip(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    done = flip(fleet, "acme", "cloudinary", "env", reason="r", operator=ADMIN)
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "false"
    back = undo(fleet, done.audit_id, operator=ADMIN)
    assert back.applied, back.message
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "true"


def test_undo_of_a_flip_of_an_unset_flag_removes_it(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    done = flip(fleet, "acme", "auth", "db", reason="r", operator=ADMIN)
    assert done.applied, done.message
    assert undo(fleet, done.audit_id, operator=ADMIN).applied
    assert "USE_DB_AUTH_CALLBACK" not in dotenv_values(two_tenants.env_files["acme"])


def test_undo_after_a_later_change_is_refused_naming_who(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    first = edit(fleet, "acme", {"smtpHost": "one.example"}, reason="r", operator=ADMIN)
    later = edit(fleet, "acme", {"smtpHost": "two.example"}, reason="r", operator=ALICE)
    out = undo(fleet, first.audit_id, operator=ADMIN)
    assert out.outcome == "refused" and out.exit_code == 2
    assert "changed since by root (sudo by alice) from 10.0.0.7" in out.message
    assert later.audit_id in out.message
    assert two_tenants.company("acme")["smtpHost"] == "two.example"

    flipped = flip(fleet, "acme", "cloudinary", "env", reason="r", operator=ADMIN)
    env_file = two_tenants.env_files["acme"]
    text = env_file.read_text(encoding="utf-8")
    env_file.write_text(text.replace("USE_DB_CLOUDINARY=false", "USE_DB_CLOUDINARY=true"), encoding="utf-8")
    out = undo(fleet, flipped.audit_id, operator=ADMIN)
    assert out.outcome == "refused" and "changed since by" in out.message and "outside opsdash" in out.message


def test_undo_refusals(two_tenants: TwoTenants) -> None:
    fleet = two_tenants.fleet()
    assert "no audit record" in undo(fleet, "deadbeef0000", operator=ADMIN).message
    refused = edit(fleet, "acme", {"smtpPort": "0"}, reason="r", operator=ADMIN)
    out = undo(fleet, refused.audit_id, operator=ADMIN)
    assert out.outcome == "refused" and "only an applied flip or edit" in out.message
    done = edit(fleet, "acme", {"smtpHost": "x.example"}, reason="r", operator=ADMIN)
    viewer = undo(fleet, done.audit_id, operator=VIEWER)
    assert viewer.outcome == "refused" and "viewer" in viewer.message
    assert two_tenants.company("acme")["smtpHost"] == "x.example"
