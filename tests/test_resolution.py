"""Resolution behaves exactly as the app's code does, against Company documents in a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.fleet import load_fleet
from opsdash.config.report import service_to_dict
from opsdash.config.resolve import CompanyRead, TenantResolution, resolve_service, resolve_tenant
from opsdash.engine.mongo import MongoClients
from opsdash.engine.resolution import resolve_one
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import free_port
from opsdash.testing.seed import healthy_company, seed_company

CLOUD_ENV = {
    "CLOUDINARY_CLOUD_NAME": "env-cloud",
    "CLOUDINARY_API_KEY": "999888777666555",
    "CLOUDINARY_API_SECRET": "env-cloud-secret",
}


def resolve_live(
    tmp_path: Path, db_url: str, env: Mapping[str, str], *docs: Mapping[str, Any], seed: bool = True
) -> TenantResolution:
    """Seed the tenant DB, write tenants.toml + env file, and resolve through the real driver."""
    if seed:
        database = db_url.rsplit("/", 1)[1].split("?")[0]
        seed_company(db_url, database, *docs)
    path = write_fleet(
        tmp_path, [TenantFiles("acme", db_url, env)], tables={"poll": {"db_timeout": 1.5}}
    )
    fleet = load_fleet(path)

    async def go() -> TenantResolution:
        clients = MongoClients(timeout_s=1.5)
        try:
            return await resolve_one(fleet, fleet.tenants[0], clients)
        finally:
            await clients.close()

    return asyncio.run(go())


def codes(res: TenantResolution) -> set[str]:
    return {f.code for f in res.findings}


def test_flag_true_reads_db(tmp_path: Path, db_url: str) -> None:
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, healthy_company())
    cloud = res.services["cloudinary"]
    assert cloud.source == "db"
    assert cloud.fields["cloudinaryCloudName"].source == "db"
    assert cloud.fields["cloudinaryCloudName"].value == "acme-cloud"
    assert cloud.completeness == 1.0
    assert not res.findings


@pytest.mark.parametrize("raw", ["TRUE", "True", "1", "yes", " true"])
def test_flag_that_looks_on_but_is_not_exactly_true_uses_env(tmp_path: Path, db_url: str, raw: str) -> None:
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": raw, **CLOUD_ENV}, healthy_company())
    cloud = res.services["cloudinary"]
    assert cloud.flag is not None and cloud.flag.raw == raw and not cloud.flag.on
    assert cloud.source == "env"
    assert cloud.fields["cloudinaryCloudName"].value == "env-cloud"
    assert cloud.fields["cloudinaryCloudName"].source == "env"
    assert "flag_not_true" in codes(res)


def test_flag_off_uses_env_even_when_db_is_complete(tmp_path: Path, db_url: str) -> None:
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "false"}, healthy_company())
    cloud = res.services["cloudinary"]
    assert cloud.source == "env"
    assert cloud.fields["cloudinaryApiSecret"].source == "missing"
    assert cloud.problems["cloudinaryApiSecret"] == "CLOUDINARY_API_SECRET unset"
    assert cloud.completeness == 0.0
    assert "flag_not_true" not in codes(res)


def test_empty_string_in_db_wins_over_env_and_is_reported(tmp_path: Path, db_url: str) -> None:
    doc = healthy_company(cloudinaryApiSecret="")
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, doc)
    secret = res.services["cloudinary"].fields["cloudinaryApiSecret"]
    assert secret.source == "db"
    assert secret.value == ""
    assert res.services["cloudinary"].problems == {"cloudinaryApiSecret": "is empty"}
    shadow = [f for f in res.findings if f.code == "empty_db_shadows_env"]
    assert [(f.service, f.field) for f in shadow] == [("cloudinary", "cloudinaryApiSecret")]


def test_missing_field_falls_through_to_env(tmp_path: Path, db_url: str) -> None:
    doc = healthy_company()
    del doc["cloudinaryApiSecret"]
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, doc)
    secret = res.services["cloudinary"].fields["cloudinaryApiSecret"]
    assert (secret.source, secret.value) == ("env", "env-cloud-secret")
    assert res.services["cloudinary"].fields["cloudinaryCloudName"].source == "db"


def test_null_field_falls_through_to_env(tmp_path: Path, db_url: str) -> None:
    doc = healthy_company(cloudinaryApiSecret=None)
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, doc)
    assert res.services["cloudinary"].fields["cloudinaryApiSecret"].source == "env"


def test_missing_field_with_prisma_default_uses_the_default(tmp_path: Path, db_url: str) -> None:
    doc = healthy_company()
    del doc["whatsappApiVersion"], doc["taxPercentage"]
    res = resolve_live(tmp_path, db_url, {"USE_DB_WHATSAPP": "true", "WHATSAPP_API_VERSION": "v19.0"}, doc)
    version = res.services["whatsapp"].fields["whatsappApiVersion"]
    assert (version.source, version.value) == ("default", "v23.0")
    tax = res.services["business"].fields["taxPercentage"]
    assert (tax.source, tax.value) == ("default", 15)


def test_db_unreachable_falls_back_to_env_with_a_finding(tmp_path: Path) -> None:
    dead = f"mongodb://127.0.0.1:{free_port()}/acme?directConnection=true"
    res = resolve_live(tmp_path, dead, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, seed=False)
    cloud = res.services["cloudinary"]
    assert cloud.source == "env"
    assert cloud.fields["cloudinaryCloudName"].value == "env-cloud"
    assert cloud.completeness == 1.0
    assert "db_unreachable" in codes(res)
    assert res.company_count is None


def test_zero_company_documents(tmp_path: Path, db_url: str) -> None:
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV})
    assert res.company_count == 0
    assert "no_company" in codes(res)
    assert res.services["cloudinary"].fields["cloudinaryCloudName"].source == "env"
    assert res.services["business"].fields["fullName"].source == "missing"


def test_two_company_documents(tmp_path: Path, db_url: str) -> None:
    first, second = healthy_company(fullName="First"), healthy_company(fullName="Second")
    res = resolve_live(tmp_path, db_url, {"USE_DB_CLOUDINARY": "true"}, first, second)
    assert res.company_count == 2
    finding = next(f for f in res.findings if f.code == "multiple_company")
    assert "findFirst()" in finding.message
    assert res.services["business"].fields["fullName"].value in {"First", "Second"}


def test_email_has_no_flag_and_falls_back_per_field(tmp_path: Path, db_url: str) -> None:
    doc = healthy_company()
    del doc["smtpPass"]
    res = resolve_live(tmp_path, db_url, {"SMTP_PASS": "env-smtp-pass", "SMTP_HOST": "ignored"}, doc)
    email = res.services["email"]
    assert email.flag is None
    assert email.fields["smtpHost"].source == "db"
    assert email.fields["smtpPass"].source == "env"


def test_int_fields_come_back_as_numbers_from_bson_long(tmp_path: Path, db_url: str) -> None:
    res = resolve_live(tmp_path, db_url, {}, healthy_company(taxPercentage=7))
    tax = res.services["business"].fields["taxPercentage"]
    assert (tax.source, tax.value, tax.error) == ("db", 7, None)


def test_otp_flag_reads_boolean_from_db_or_env() -> None:
    spec = DEFAULT_CATALOG["whatsapp_otp"]
    read = CompanyRead(documents=({"requireWhatsappOtp": True},))
    on = resolve_service(spec, {"USE_DB_WHATSAPP_OTP": "true"}, read)
    off = resolve_service(spec, {"REQUIRE_WHATSAPP_OTP": "true"}, read)
    assert (on.source, on.fields["requireWhatsappOtp"].value) == ("db", True)
    assert (off.source, off.fields["requireWhatsappOtp"].value) == ("env", True)


def test_use_db_override_answers_what_if_flipped() -> None:
    spec = DEFAULT_CATALOG["cloudinary"]
    read = CompanyRead(documents=({"cloudinaryCloudName": "db-cloud"},))
    now = resolve_service(spec, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, read)
    flipped = resolve_service(spec, {"USE_DB_CLOUDINARY": "true", **CLOUD_ENV}, read, use_db=False)
    assert now.source == "db" and flipped.source == "env"
    assert flipped.complete


def test_resolution_is_pure_and_repeatable() -> None:
    read = CompanyRead(documents=(healthy_company(),))
    env = {"USE_DB_WHATSAPP": "true"}
    assert resolve_tenant("a", DEFAULT_CATALOG, env, read) == resolve_tenant("a", DEFAULT_CATALOG, env, read)


def test_a_report_of_a_resolution_does_not_share_its_problems() -> None:
    env = {"CLOUDINARY_CLOUD_NAME": "env-cloud"}
    res = resolve_service(DEFAULT_CATALOG["cloudinary"], env, CompanyRead())
    shown = service_to_dict(res)
    shown["problems"].clear()
    assert res.problems == {"cloudinaryApiKey": "CLOUDINARY_API_KEY unset",
                            "cloudinaryApiSecret": "CLOUDINARY_API_SECRET unset"}
    assert res.completeness == pytest.approx(1 / 3)
