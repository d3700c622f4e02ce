"""Preflight judgement: the target source alone must be complete, and its latest probe must have passed."""

from __future__ import annotations

from opsdash.actions.preflight import judge, probe_check_id, target_problems
from opsdash.checks.base import CheckResult, Status
from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.resolve import CompanyRead
from opsdash.testing.seed import healthy_company, prisma_document

CLOUD = DEFAULT_CATALOG["cloudinary"]
FULL_ENV = {"CLOUDINARY_CLOUD_NAME": "c", "CLOUDINARY_API_KEY": "123", "CLOUDINARY_API_SECRET": "s"}


def test_env_target_needs_every_required_env_var_and_ignores_the_db() -> None:
    read = CompanyRead(documents=(prisma_document(healthy_company()),))
    assert target_problems(CLOUD, FULL_ENV, read, "env") == {}
    partial = {k: v for k, v in FULL_ENV.items() if k != "CLOUDINARY_API_SECRET"}
    expected = {"cloudinaryApiSecret": "CLOUDINARY_API_SECRET unset"}
    assert target_problems(CLOUD, partial, read, "env") == expected
    bad = {**FULL_ENV, "CLOUDINARY_API_KEY": "abc"}
    assert target_problems(CLOUD, bad, read, "env") == {"cloudinaryApiKey": "must be a numeric id"}


def test_sensitive_vercel_variables_cannot_be_verified() -> None:
    env = {**FULL_ENV, "CLOUDINARY_API_SECRET": None}
    hidden = frozenset({"CLOUDINARY_API_SECRET"})
    problems = target_problems(CLOUD, env, CompanyRead(), "env", sensitive=hidden)
    assert "sensitive" in problems["cloudinaryApiSecret"]


def test_db_target_needs_one_complete_company_without_env_help() -> None:
    good = CompanyRead(documents=(prisma_document(healthy_company()),))
    assert target_problems(CLOUD, FULL_ENV, good, "db") == {}
    lacking = CompanyRead(documents=(prisma_document(healthy_company(cloudinaryApiSecret=None)),))
    assert target_problems(CLOUD, FULL_ENV, lacking, "db") == {"cloudinaryApiSecret": "missing"}
    assert "no Company" in target_problems(CLOUD, {}, CompanyRead(), "db")["Company"]
    two = CompanyRead(documents=(prisma_document(healthy_company()), prisma_document(healthy_company())))
    assert "2 Company documents" in target_problems(CLOUD, {}, two, "db")["Company"]
    down = CompanyRead(error="ServerSelectionTimeoutError")
    assert "cannot read" in target_problems(CLOUD, {}, down, "db")["Company"]


def test_probe_ids_follow_the_flag() -> None:
    assert probe_check_id("cloudinary", "env", flag_on=True) == "cloudinary:fallback"
    assert probe_check_id("cloudinary", "env", flag_on=False) == "cloudinary"
    assert probe_check_id("cloudinary", "db", flag_on=True) == "cloudinary"
    assert probe_check_id("cloudinary", "db", flag_on=False) is None
    assert probe_check_id("whatsapp_otp", "env", flag_on=True) is None


def _probe(status: Status, **details: object) -> CheckResult:
    return CheckResult(tenant="acme", check="cloudinary:fallback", status=status, summary="401 bad secret",
                       details=dict(details))


def test_judge_uses_the_uncapped_probe_status() -> None:
    assert judge({}, None).ok
    assert judge({}, _probe(Status.OK)).ok
    capped = judge({}, _probe(Status.WARN, probe_status="CRIT"))
    assert not capped.ok
    assert "CRIT" in capped.problems["probe"] and "401 bad secret" in capped.problems["probe"]
    assert judge({}, _probe(Status.WARN, probe_status="OK")).ok
    assert not judge({"x": "missing"}, None).ok
