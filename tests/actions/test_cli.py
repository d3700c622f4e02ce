"""The flag, edit, audit and undo commands as an operator runs them (real processes, non-interactive)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bson import Int64
from dotenv import dotenv_values

from opsdash.actions.audit import local_path, read_local
from tests.actions.conftest import CANARIES, CANARY_NEW, TwoTenants
from tests.conftest import CliResult, run_opsdash


def _run(t: TwoTenants, *args: str, input: str | None = None) -> CliResult:
    return run_opsdash(["--config", str(t.path), *args], input=input)


def _no_leaks(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text
        for canary in CANARIES:
            assert canary not in text


def test_flag_both_directions(two_tenants: TwoTenants) -> None:
    res = _run(two_tenants, "flag", "acme", "cloudinary", "env", "--reason", "db outage", "--yes")
    assert res.returncode == 0, res.stderr
    assert 'USE_DB_CLOUDINARY "true" -> "false"' in res.stdout and "preflight: OK" in res.stdout
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "false"
    res = _run(two_tenants, "flag", "acme", "cloudinary", "db", "--reason", "recovered", "--yes")
    assert res.returncode == 0, res.stderr
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "true"
    _no_leaks(res.stdout, res.stderr)


def test_without_a_terminal_and_without_yes_it_refuses_rather_than_hangs(two_tenants: TwoTenants) -> None:
    before = two_tenants.company("acme")
    res = _run(two_tenants, "edit", "acme", "fullName=New Name", "--reason", "r")
    assert res.returncode == 2 and "pass --yes" in res.stderr
    res = _run(two_tenants, "flag", "acme", "cloudinary", "env", "--reason", "r")
    assert res.returncode == 2 and "pass --yes" in res.stderr
    assert two_tenants.company("acme") == before
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "true"
    assert [r.outcome for r in read_local(local_path(two_tenants.fleet()))] == ["refused", "refused"]


def test_edit_writes_prisma_types_and_shows_the_diff(two_tenants: TwoTenants) -> None:
    res = _run(two_tenants, "edit", "acme", "taxPercentage=18", "smtpPort=465", "--reason", "r", "--yes")
    assert res.returncode == 0, res.stderr
    assert "taxPercentage  15 -> 18" in res.stdout and "smtpPort       '587' -> '465'" in res.stdout
    doc = two_tenants.company("acme")
    assert type(doc["taxPercentage"]) is Int64 and doc["smtpPort"] == "465"


def test_secret_values_come_from_stdin_never_argv(two_tenants: TwoTenants) -> None:
    before = two_tenants.company("acme")
    res = _run(two_tenants, "edit", "acme", f"smtpPass={CANARY_NEW}", "--reason", "r", "--yes")
    assert res.returncode == 2 and "never taken from the command line" in res.stderr
    assert two_tenants.company("acme") == before
    res = _run(two_tenants, "edit", "acme", "smtpPass", "--reason", "rotate", "--yes", "--secret-stdin",
               input=CANARY_NEW + "\n")
    assert res.returncode == 0, res.stderr
    assert two_tenants.company("acme")["smtpPass"] == CANARY_NEW
    assert "<set sha256:" in res.stdout
    listing = _run(two_tenants, "audit", "acme", "--json")
    _no_leaks(res.stdout, res.stderr, listing.stdout, listing.stderr,
              local_path(two_tenants.fleet()).read_text(encoding="utf-8"))
    res = _run(two_tenants, "edit", "acme", "smtpPass", "--reason", "r", "--yes")
    assert res.returncode == 2 and "use --secret-stdin" in res.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["edit", "acme", "smtpPort=99999"], "invalid smtpPort"),
        (["edit", "acme", "bogusField=1"], "unknown Company field 'bogusField'"),
        (["edit", "nope", "fullName=x"], "unknown tenant 'nope'"),
        (["flag", "nope", "cloudinary", "env"], "unknown tenant 'nope'"),
        (["flag", "acme", "mail", "env"], "unknown service 'mail'"),
        (["--read-only", "flag", "acme", "cloudinary", "env"], "viewer"),
        (["--read-only", "edit", "acme", "fullName=x"], "viewer"),
    ],
)
def test_refusals_exit_2_and_write_only_their_audit_record(
    two_tenants: TwoTenants, args: list[str], words: str
) -> None:
    company = two_tenants.company("acme")
    files = {p: p.read_text(encoding="utf-8") for p in two_tenants.env_files.values()}
    res = _run(two_tenants, *args, "--reason", "r", "--yes")
    assert res.returncode == 2
    assert res.stderr.startswith("opsdash: refused:") and words in res.stderr
    assert res.stderr.count("\n") == 1 and res.stdout == ""
    _no_leaks(res.stdout, res.stderr)
    assert two_tenants.company("acme") == company
    assert {p: p.read_text(encoding="utf-8") for p in files} == files
    (record,) = read_local(local_path(two_tenants.fleet()))
    assert record.outcome == "refused"


def test_operators_table_makes_unlisted_users_viewers(two_tenants: TwoTenants) -> None:
    with two_tenants.path.open("a", encoding="utf-8") as fh:
        fh.write('\n[operators]\nsomeone-else = "admin"\n')
    res = _run(two_tenants, "edit", "acme", "fullName=x", "--reason", "r", "--yes")
    assert res.returncode == 2 and "viewer" in res.stderr
    assert two_tenants.company("acme")["fullName"] == "Acme Trading"


def test_audit_lists_and_undo_reverts(two_tenants: TwoTenants) -> None:
    res = _run(two_tenants, "edit", "acme", "fullName=Acme Two", "--reason", "rename", "--yes")
    audit_id = res.stdout.split("audit ")[1].split()[0]
    listing = json.loads(_run(two_tenants, "audit", "--json").stdout)
    (record,) = listing["records"]
    assert record["id"] == audit_id and record["changes"][0]["after"] == "Acme Two"
    assert record["operator"]["user"] and record["reason"] == "rename" and record["time"].endswith("+00:00")
    text = _run(two_tenants, "audit", "acme").stdout
    assert audit_id in text and "fullName" in text
    res = _run(two_tenants, "undo", audit_id, "--yes")
    assert res.returncode == 0, res.stderr
    assert two_tenants.company("acme")["fullName"] == "Acme Trading"
    res = _run(two_tenants, "undo", audit_id, "--yes")
    assert res.returncode == 2 and "changed since by" in res.stderr
    assert _run(two_tenants, "audit", "nope").returncode == 2


def test_audit_is_readable_without_a_local_file(two_tenants: TwoTenants, tmp_path: Path) -> None:
    res = _run(two_tenants, "edit", "acme", "fullName=Acme Three", "--reason", "r", "--yes")
    assert res.returncode == 0
    local_path(two_tenants.fleet()).unlink()
    listing = json.loads(_run(two_tenants, "audit", "acme", "--json").stdout)
    assert [r["outcome"] for r in listing["records"]] == ["applied"]
