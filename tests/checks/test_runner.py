"""The runner end to end: real tenant databases, env files and loopback services, per check group."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.runner import group_check_ids, run_fleet, run_group, timeout_results
from opsdash.config.fleet import Fleet
from opsdash.fakes.cloudinary import FakeCloudinary
from opsdash.fakes.graph import FakeGraphAPI, appsecret_proof
from opsdash.fakes.smtp import StartTLSSMTPServer, TLSMaterial
from opsdash.fakes.tcp import HangingListener
from opsdash.testing.fleetfile import TenantFiles
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.checks.conftest import FleetFactory

CONFIG_IDS = (
    "config:whatsapp",
    "config:whatsapp_otp",
    "config:cloudinary",
    "config:auth",
    "config:email",
    "config:business",
    "fallback:whatsapp",
    "fallback:whatsapp_otp",
    "fallback:cloudinary",
    "fallback:auth",
)
INTEGRATION_IDS = (
    "whatsapp",
    "whatsapp:fallback",
    "cloudinary",
    "cloudinary:fallback",
    "smtp",
    "auth",
    "auth:fallback",
)


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A Graph API, a Cloudinary and a STARTTLS SMTP server, plus the CA file that trusts the SMTP cert."""
    tls = TLSMaterial()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    with FakeGraphAPI() as graph, FakeCloudinary() as cloud, StartTLSSMTPServer({}, tls=tls) as mail:
        yield {"graph": graph, "cloud": cloud, "smtp": mail, "ca_file": str(ca_file)}


def endpoints(services: dict[str, Any]) -> dict[str, str]:
    return {
        "graph_api": services["graph"].url,
        "cloudinary_api": services["cloud"].url,
        "extra_ca_file": services["ca_file"],
    }


def test_group_check_ids(make_fleet: FleetFactory) -> None:
    fleet = make_fleet()
    assert group_check_ids(fleet, "db") == ("db",)
    assert group_check_ids(fleet, "config") == CONFIG_IDS
    assert group_check_ids(fleet, "integrations") == INTEGRATION_IDS


async def test_timeout_results_cover_the_group_with_the_flags_last_read(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], db_url: str
) -> None:
    fleet = make_fleet([TenantFiles("acme", db_url, {"USE_DB_CLOUDINARY": "true"})])
    tenant = fleet.tenants[0]
    started = datetime.now(UTC)
    never_read = timeout_results(tenant, fleet, "integrations", 4.0, started)
    assert [r.check for r in never_read] == list(INTEGRATION_IDS)
    ctx = make_ctx(fleet)
    await run_group(ctx, tenant, "config", 4.0)
    results = timeout_results(tenant, fleet, "integrations", 4.0, started, ctx=ctx)
    assert [r.check for r in results] == ["whatsapp", "cloudinary", "cloudinary:fallback", "smtp", "auth"]
    assert {(r.status, r.error_class, r.timestamp) for r in results} == {(Status.CRIT, "timeout", started)}
    assert results[0].summary == "timed out: no result within the 4 s deadline"
    config = timeout_results(tenant, fleet, "config", 4.0, started, ctx=ctx)
    assert tuple(r.check for r in config) == CONFIG_IDS


async def test_config_group_reports_every_service_and_fallback(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], db_url: str
) -> None:
    seed_company(db_url, db_name(db_url), healthy_company())
    env = {
        "USE_DB_CLOUDINARY": "true",
        "CLOUDINARY_CLOUD_NAME": "env-cloud",
        "CLOUDINARY_API_KEY": "999888777666555",
        "USE_DB_WHATSAPP": "yes",
    }
    fleet = make_fleet([TenantFiles("acme", db_url, env)])
    results = by_check(await run_group(make_ctx(fleet), fleet.tenants[0], "config", 3.0))
    assert tuple(results) == CONFIG_IDS
    cloud = results["config:cloudinary"]
    assert (cloud.status, cloud.source) == (Status.OK, "db")
    assert set(cloud.details) == {"source", "flag", "completeness", "problems", "fields", "findings"}
    assert cloud.details["flag"] == {"name": "USE_DB_CLOUDINARY", "raw": "true", "on": True}
    assert cloud.details["fields"]["cloudinaryApiSecret"]["value"].startswith("<set sha256:")
    flip = results["fallback:cloudinary"]
    assert (flip.status, flip.source) == (Status.WARN, "env")
    assert flip.summary == "safe to flip to env: no, CLOUDINARY_API_SECRET unset"
    whatsapp = results["config:whatsapp"]
    assert whatsapp.status == Status.CRIT  # flag "yes" is off: env has no WhatsApp config at all
    assert [f["code"] for f in whatsapp.details["findings"]] == ["flag_not_true"]
    assert results["fallback:whatsapp"].details["target"] == "db"
    assert results["fallback:whatsapp"].status == Status.OK
    assert results["config:email"].status == Status.OK


async def test_integrations_probe_effective_config_then_env_fallback(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    services: dict[str, Any],
) -> None:
    graph, cloud, mail = services["graph"], services["cloud"], services["smtp"]
    company = healthy_company()
    graph.add_number(
        company["whatsappPhoneNumberId"],
        token=company["whatsappPermanentToken"],
        app_secret=company["whatsappAppSecret"],
    )
    graph.add_number("1099000000777", token="env-token-expired", app_id="7777777777")
    graph.expire_token("env-token-expired")
    cloud.add_cloud(
        company["cloudinaryCloudName"],
        company["cloudinaryApiKey"],
        company["cloudinaryApiSecret"],
        presets=[company["cloudinaryUploadPreset"]],
    )
    host, port = mail.address
    mail.users[company["smtpUser"]] = company["smtpPass"]
    company.update(smtpHost=host, smtpPort=str(port))
    seed_company(db_url, db_name(db_url), company)
    env = {
        "USE_DB_WHATSAPP": "true",
        "WHATSAPP_PERMANENT_TOKEN": "env-token-expired",
        "WHATSAPP_PHONE_NUMBER_ID": "1099000000777",
        "USE_DB_CLOUDINARY": "true",
        "CLOUDINARY_CLOUD_NAME": "env-cloud",
        "CLOUDINARY_API_KEY": "1",
    }
    fleet = make_fleet([TenantFiles("acme", db_url, env)], endpoints=endpoints(services))
    results = by_check(await run_group(make_ctx(fleet), fleet.tenants[0], "integrations", 5.0))
    assert tuple(results) == (
        "whatsapp",
        "whatsapp:fallback",
        "cloudinary",
        "cloudinary:fallback",
        "smtp",
        "auth",
    )
    assert (results["whatsapp"].status, results["whatsapp"].source) == (Status.OK, "db")
    fallback = results["whatsapp:fallback"]
    assert (fallback.status, fallback.source, fallback.details["probe_status"]) == (
        Status.WARN,
        "env",
        "CRIT",
    )
    assert fallback.summary.startswith("env fallback: token invalid or expired")
    assert results["cloudinary"].status == Status.OK, results["cloudinary"].summary
    assert results["cloudinary:fallback"].status == Status.UNKNOWN
    assert results["cloudinary:fallback"].summary == "env fallback: not probed: CLOUDINARY_API_SECRET unset"
    assert results["smtp"].status == Status.OK, results["smtp"].summary
    assert results["auth"].status == Status.UNKNOWN  # USE_DB_AUTH_CALLBACK is off and env has no URL
    assert results["auth"].summary == "not probed: AUTH_CALLBACK_URL unset"


async def test_integrations_run_concurrently_within_the_deadline(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    services: dict[str, Any],
) -> None:
    """Three hung services, each probed up to the deadline: sequential probes could not fit."""
    company = healthy_company()
    with HangingListener() as graph, HangingListener() as cloud, HangingListener() as mail:
        company.update(smtpHost=mail.host, smtpPort=str(mail.port))
        seed_company(db_url, db_name(db_url), company)
        env = {"USE_DB_WHATSAPP": "true", "USE_DB_CLOUDINARY": "true"}
        fleet = make_fleet(
            [TenantFiles("acme", db_url, env)],
            endpoints={
                "graph_api": f"http://{graph.host}:{graph.port}",
                "cloudinary_api": f"http://{cloud.host}:{cloud.port}",
            },
        )
        ctx = make_ctx(fleet)
        deadline = 2.0
        started = time.monotonic()
        results = by_check(await run_group(ctx, fleet.tenants[0], "integrations", deadline))
        elapsed = time.monotonic() - started
    for check in ("whatsapp", "cloudinary", "smtp"):
        assert (results[check].status, results[check].error_class) == (Status.CRIT, "timeout"), check
    assert elapsed <= deadline * 1.2, [(r.check, r.duration_s) for r in results.values()]


async def test_one_hung_tenant_does_not_hold_up_another(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], db_url: str
) -> None:
    seed_company(db_url, db_name(db_url), healthy_company())
    with HangingListener() as hung:
        fleet = make_fleet(
            [
                TenantFiles("hung", f"mongodb://{hung.host}:{hung.port}/hung?directConnection=true"),
                TenantFiles("fine", db_url),
            ],
            poll={"db_timeout": 30},
        )
        ctx = make_ctx(fleet)
        order: list[str] = []

        async def run(index: int) -> list[CheckResult]:
            results = await run_group(ctx, fleet.tenants[index], "db", 2.0)
            order.append(results[0].tenant)
            return results

        [hung_result], [fine_result] = await asyncio.gather(run(0), run(1))
    assert order == ["fine", "hung"]
    assert (fine_result.status, hung_result.status, hung_result.error_class) == (
        Status.OK,
        Status.CRIT,
        "timeout",
    )


async def test_isolation_names_tenants_sharing_things(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], mongo_url: str
) -> None:
    def url(name: str, host: str | None = None) -> str:
        base = database_url(mongo_url, name)
        return base.replace("127.0.0.1", host) if host else base

    shared_db = f"shared_{uuid.uuid4().hex[:8]}"
    names = {n: f"{n}_{uuid.uuid4().hex[:8]}" for n in ("gamma", "delta", "eps")}
    seed_company(url(shared_db), shared_db, healthy_company())
    smtp_same = {
        "smtpHost": "smtp.shared.example",
        "smtpUser": "shared",
        "smtpPass": "canary-shared-smtp-pass",
    }
    seed_company(
        url(names["gamma"]),
        names["gamma"],
        healthy_company(whatsappPhoneNumberId="222", cloudinaryClientFolder="gamma", **smtp_same),
    )
    seed_company(
        url(names["delta"]),
        names["delta"],
        healthy_company(whatsappPhoneNumberId="333", cloudinaryClientFolder="delta", **smtp_same),
    )
    seed_company(
        url(names["eps"]),
        names["eps"],
        healthy_company(whatsappPhoneNumberId="444", cloudinaryClientFolder="eps", smtpUser="eps"),
    )
    fleet = make_fleet(
        [
            TenantFiles("alpha", url(shared_db), {"USE_DB_WHATSAPP": "true"}),
            TenantFiles("beta", url(shared_db, "localhost"), {"USE_DB_WHATSAPP": "true"}),
            TenantFiles("gamma", url(names["gamma"])),
            TenantFiles("delta", url(names["delta"])),
            TenantFiles("eps", url(names["eps"])),
        ]
    )
    results = by_check_tenant(await run_fleet(make_ctx(fleet), 5.0))
    assert {t: r.status for t, r in results.items()} == {
        "alpha": Status.WARN,
        "beta": Status.WARN,
        "gamma": Status.WARN,
        "delta": Status.WARN,
        "eps": Status.OK,
    }
    assert (
        "shares database 127.0.0.1:" in results["alpha"].summary and "with beta" in results["alpha"].summary
    )
    assert "WhatsApp phone number id 1099000000001" in results["beta"].summary
    assert "with alpha" in results["beta"].summary
    assert (
        results["gamma"].summary == "gamma shares SMTP credentials (shared at smtp.shared.example) with delta"
    )
    assert results["delta"].details["shared_with"] == {
        "gamma": ["SMTP credentials (shared at smtp.shared.example)"]
    }
    assert all(r.check == "isolation" for r in results.values())
    assert "canary-shared-smtp-pass" not in "".join(r.model_dump_json() for r in results.values())


def by_check_tenant(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.tenant: r for r in results}


async def test_no_secret_canary_reaches_any_result_or_log(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    mongo_url: str,
    services: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Canaries in the DB, the env and the DSN password; services that echo them back in errors."""
    caplog.set_level(logging.DEBUG, logger="opsdash")
    db_canaries = {
        "whatsappPermanentToken": "cnry-db-wa-token",
        "whatsappAppSecret": "cnry-db-app-secret",
        "whatsappWebhookVerifyToken": "cnry-db-verify",
        "cloudinaryApiSecret": "cnry-db-cloud-secret",
        "smtpPass": "cnry-db-smtp-pass",
        "emailPass": "cnry-db-email-pass",
    }
    env_canaries = {
        "WHATSAPP_PERMANENT_TOKEN": "cnry-env-wa-token",
        "WHATSAPP_APP_SECRET": "cnry-env-app-secret",
        "CLOUDINARY_API_SECRET": "cnry-env-cloud-secret",
        "SMTP_PASS": "cnry-env-smtp-pass",
    }
    dsn_canary = "cnry-dsn-Pa55"
    database = f"canary_{uuid.uuid4().hex[:8]}"
    graph, cloud, mail = services["graph"], services["cloud"], services["smtp"]
    host, port = mail.address
    company = healthy_company(smtpHost=host, smtpPort=str(port), **db_canaries)
    admin = MongoClient(mongo_url)
    admin[database].command("createUser", "tenant", pwd=dsn_canary, roles=["readWrite"])
    admin.close()
    seed_company(database_url(mongo_url, database), database, company)
    phone = company["whatsappPhoneNumberId"]
    graph.add_number(phone, token=db_canaries["whatsappPermanentToken"])
    graph.force_error(
        phone,
        190,
        message=f"token {db_canaries['whatsappPermanentToken']} rejected; proof "
        f"{appsecret_proof(db_canaries['whatsappAppSecret'], db_canaries['whatsappPermanentToken'])}",
    )
    graph.add_number("1099000000002", token=env_canaries["WHATSAPP_PERMANENT_TOKEN"])
    graph.force_error("1099000000002", 4, message=f"slow down {env_canaries['WHATSAPP_PERMANENT_TOKEN']}")
    cloud.add_cloud(company["cloudinaryCloudName"], company["cloudinaryApiKey"], "another-secret")
    env = {
        "USE_DB_WHATSAPP": "true",
        "USE_DB_CLOUDINARY": "true",
        "WHATSAPP_PHONE_NUMBER_ID": "1099000000002",
        "CLOUDINARY_CLOUD_NAME": "acme-cloud",
        "CLOUDINARY_API_KEY": "123456789012345",
        **env_canaries,
    }
    dsn = database_url(mongo_url, database).replace("mongodb://", f"mongodb://tenant:{dsn_canary}@")
    fleet = make_fleet([TenantFiles("acme", dsn, env)], endpoints=endpoints(services))
    ctx = make_ctx(fleet)
    results: list[CheckResult] = []
    for group in ("db", "config", "integrations"):
        results += await run_group(ctx, fleet.tenants[0], group, 5.0)  # type: ignore[arg-type]
    results += await run_fleet(ctx, 5.0)
    by_id = by_check(results)
    assert by_id["db"].status == Status.OK, by_id["db"].summary
    assert by_id["whatsapp"].status == Status.CRIT and "***" in by_id["whatsapp"].summary
    assert by_id["whatsapp:fallback"].status == Status.WARN and "***" in by_id["whatsapp:fallback"].summary
    assert by_id["cloudinary"].status == Status.CRIT
    outputs = [r.model_dump_json() for r in results] + [rec.getMessage() for rec in caplog.records]
    assert any(rec.name.startswith("opsdash.checks") for rec in caplog.records)
    canaries = [*db_canaries.values(), *env_canaries.values(), dsn_canary]
    leaks = [(c, o[:120]) for o in outputs for c in canaries if c in o]
    assert leaks == []
