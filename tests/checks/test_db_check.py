"""The db check against a real SecantusDB server, a hanging listener, a closed port and a bad host."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from opsdash.checks import db
from opsdash.checks.base import Status
from opsdash.checks.context import CheckContext
from opsdash.checks.reuse import FACTS_MAX_AGE_S
from opsdash.checks.runner import run_group
from opsdash.config.fleet import Fleet, Tenant
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.fleetfile import TenantFiles
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.checks.conftest import FleetFactory
from tests.engine.test_pass_cache import CommandCounter, count_commands

DEADLINE_SLACK = 1.2
"""The issue's bound: a hung check ends within its deadline plus 20%."""


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


@pytest.fixture
def hanging() -> Iterator[HangingListener]:
    with HangingListener() as listener:
        yield listener


@pytest.fixture
def app_name() -> str:
    """A client application name only this test's opsdash client uses (failpoints filter on it)."""
    return f"opsdash-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def arm(mongo_url: str) -> Iterator[Callable[..., None]]:
    """Arm a ``failCommand`` failpoint scoped to one appName; switched off after the test."""
    admin = MongoClient(mongo_url, serverSelectionTimeoutMS=5000)

    def arm_failpoint(app: str, mode: Any = "alwaysOn", **data: Any) -> None:
        admin.admin.command(
            {"configureFailPoint": "failCommand", "mode": mode, "data": {"appName": app, **data}}
        )

    yield arm_failpoint
    admin.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    admin.close()


def one_tenant(make_fleet: FleetFactory, url: str, db_timeout: float = 5) -> Fleet:
    return make_fleet([TenantFiles("acme", url)], poll={"db_timeout": db_timeout})


def armable_tenant(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    db_timeout: float = 5,
) -> tuple[Tenant, CheckContext, CommandCounter]:
    """One tenant with a healthy Company, and a context whose clients carry ``app_name`` (what the fail
    points match) and count the commands they send."""
    seed_company(db_url, db_name(db_url), healthy_company())
    fleet = one_tenant(make_fleet, db_url, db_timeout)
    ctx = make_ctx(fleet)
    return fleet.tenants[0], ctx, count_commands(ctx, timeout_s=db_timeout, app_name=app_name)


async def test_healthy_database_reports_version_latency_size_and_stripped_target(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], db_url: str
) -> None:
    seed_company(db_url, db_name(db_url), healthy_company())
    fleet = one_tenant(make_fleet, db_url)
    [result] = await run_group(make_ctx(fleet), fleet.tenants[0], "db", 3.0)
    assert result.status == Status.OK, result.summary
    assert (result.check, result.tenant) == ("db", "acme")
    assert result.details["version"]
    assert result.details["latency_ms"] >= 0
    assert result.details["size_on_disk"] > 0
    assert "size_unknown" not in result.details
    assert result.details["company_count"] == 1
    assert result.details["target"] == f"{fleet.tenants[0].mongo.hosts[0]}/{db_name(db_url)}"
    assert result.details["findings"] == []
    assert result.summary.startswith("ok: 127.0.0.1:")


@pytest.mark.parametrize(
    ("documents", "status", "code"), [(0, Status.CRIT, "no_company"), (2, Status.WARN, "multiple_company")]
)
async def test_company_count(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    documents: int,
    status: Status,
    code: str,
) -> None:
    seed_company(db_url, db_name(db_url), *[healthy_company() for _ in range(documents)])
    fleet = one_tenant(make_fleet, db_url)
    [result] = await run_group(make_ctx(fleet), fleet.tenants[0], "db", 3.0)
    assert result.status == status
    assert result.details["company_count"] == documents
    assert [f["code"] for f in result.details["findings"]] == [code]


async def test_hung_server_ends_crit_timeout_within_deadline(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], hanging: HangingListener
) -> None:
    host, port = hanging.address
    fleet = one_tenant(make_fleet, f"mongodb://{host}:{port}/acme?directConnection=true", db_timeout=30)
    ctx = make_ctx(fleet)
    deadline = 1.5
    started = time.monotonic()
    [result] = await run_group(ctx, fleet.tenants[0], "db", deadline)
    elapsed = time.monotonic() - started
    assert hanging.connections >= 1
    assert (result.status, result.error_class) == (Status.CRIT, "timeout"), result.summary
    assert elapsed <= deadline * DEADLINE_SLACK, elapsed


async def test_closed_port_is_crit_connect_never_ok(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]
) -> None:
    fleet = one_tenant(make_fleet, f"mongodb://127.0.0.1:{closed_port()}/acme?directConnection=true")
    [result] = await run_group(make_ctx(fleet), fleet.tenants[0], "db", 1.0)
    assert (result.status, result.error_class) == (Status.CRIT, "connect"), result.summary
    assert result.details["findings"][0]["code"] == "db_unreachable"


async def test_host_that_does_not_exist_is_crit_dns(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]
) -> None:
    fleet = one_tenant(make_fleet, "mongodb://no-such-host.invalid:27017/acme?directConnection=true")
    [result] = await run_group(make_ctx(fleet), fleet.tenants[0], "db", 1.0)
    assert (result.status, result.error_class) == (Status.CRIT, "dns"), result.summary


@pytest.mark.parametrize(
    ("data", "error_class"),
    [
        ({"failCommands": ["ping"], "errorCode": 13}, "auth"),
        ({"failCommands": ["ping"], "errorCode": 18}, "auth"),
        ({"failCommands": ["ping"], "errorCode": 50}, "timeout"),
        ({"failCommands": ["find"], "errorCode": 2}, "protocol"),
        ({"failCommands": ["ping"], "errorCode": 91}, "connect"),
        ({"failCommands": ["ping"], "closeConnection": True}, "connect"),
    ],
)
async def test_failpoint_errors_are_crit_with_their_class(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
    data: dict[str, Any],
    error_class: str,
) -> None:
    tenant, ctx, _ = armable_tenant(make_fleet, make_ctx, db_url, app_name)
    arm(app_name, **data)
    [result] = await run_group(ctx, tenant, "db", 2.0)
    assert (result.status, result.error_class) == (Status.CRIT, error_class), result.summary


async def test_blocked_connection_times_out_within_deadline(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
) -> None:
    tenant, ctx, _ = armable_tenant(make_fleet, make_ctx, db_url, app_name, db_timeout=30)
    arm(app_name, failCommands=["ping"], blockConnection=True, blockTimeMS=5000)
    deadline = 1.0
    started = time.monotonic()
    [result] = await run_group(ctx, tenant, "db", deadline)
    elapsed = time.monotonic() - started
    assert (result.status, result.error_class) == (Status.CRIT, "timeout"), result.summary
    assert elapsed <= deadline * DEADLINE_SLACK, elapsed


async def test_dsn_password_never_appears(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], mongo_url: str
) -> None:
    canary = "dsn-canary-Pa55w0rd"
    host = mongo_url.split("://", 1)[1].split("/", 1)[0]
    fleet = one_tenant(make_fleet, f"mongodb://opsdash:{canary}@{host}/acme?directConnection=true")
    [result] = await run_group(make_ctx(fleet), fleet.tenants[0], "db", 2.0)
    assert canary not in result.model_dump_json()
    assert "opsdash:" not in result.details["target"]


async def test_the_tenants_of_one_cluster_share_one_listdatabases_for_their_sizes(
    make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext], mongo_url: str
) -> None:
    names = [f"size_{uuid.uuid4().hex[:10]}_{n}" for n in range(3)]
    for name in names:
        seed_company(mongo_url, name, healthy_company())
    fleet = make_fleet([TenantFiles(name, database_url(mongo_url, name)) for name in names])
    ctx = make_ctx(fleet)
    counter = count_commands(ctx, timeout_s=5)
    runs = [run_group(ctx, tenant, "db", 3.0) for tenant in fleet.tenants]
    results = [result for [result] in await asyncio.gather(*runs)]
    assert [r.status for r in results] == [Status.OK] * 3, [r.summary for r in results]
    assert all(r.details["size_on_disk"] > 0 for r in results)
    assert all("on disk" in r.summary for r in results)
    assert counter.sent["listDatabases"] == 1
    assert counter.sent["dbStats"] == 0


async def test_sizes_the_server_refuses_leave_the_check_ok_and_are_asked_again_later(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
) -> None:
    tenant, ctx, counter = armable_tenant(make_fleet, make_ctx, db_url, app_name)
    arm(app_name, failCommands=["dbStats"], errorCode=13)
    [refused] = await run_group(ctx, tenant, "db", 3.0)
    assert refused.status == Status.OK, refused.summary
    assert refused.details["size_on_disk"] is None
    assert refused.details["size_unknown"].startswith("dbStats failed")
    assert "? on disk" in refused.summary
    [kept] = await run_group(ctx, tenant, "db", 3.0)
    assert kept.details["size_unknown"] == refused.details["size_unknown"]
    assert counter.sent["dbStats"] == 1

    arm(app_name, mode="off")
    key = db.sizes_key(tenant)
    at, sizes = ctx.reuse.facts[key]
    ctx.reuse.facts[key] = (at - db.SIZES_RETRY_S - 1, sizes)
    [answered] = await run_group(ctx, tenant, "db", 3.0)
    assert answered.details["size_on_disk"] > 0
    assert counter.sent["dbStats"] == 2


async def test_a_check_that_joins_a_slower_sizes_ask_still_ends_ok_and_on_time(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
) -> None:
    tenant, ctx, _ = armable_tenant(make_fleet, make_ctx, db_url, app_name, db_timeout=30)
    arm(app_name, failCommands=["dbStats"], blockConnection=True, blockTimeMS=2_500)
    asked_by_a_longer_run = ctx.reuse.fact_read(
        db.sizes_key(tenant), lambda: db._ask_sizes(ctx, tenant, 10.0)
    )
    deadline = 1.5
    started = time.monotonic()
    [result] = await run_group(ctx, tenant, "db", deadline)
    elapsed = time.monotonic() - started
    assert result.status == Status.OK, result.summary
    assert result.details["size_on_disk"] is None
    assert "did not give the size" in result.details["size_unknown"]
    assert elapsed <= deadline * DEADLINE_SLACK, elapsed
    assert not asked_by_a_longer_run.done()


async def test_a_check_told_to_leave_the_sizes_ends_without_them_and_its_rest_adds_the_size(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
) -> None:
    tenant, ctx, _ = armable_tenant(make_fleet, make_ctx, db_url, app_name, db_timeout=30)
    arm(app_name, failCommands=["dbStats"], blockConnection=True, blockTimeMS=1_500)
    left: list[db.Rest] = []
    first = await db.run(ctx, tenant, 10.0, leave_sizes=left.append)
    sizes_ask = ctx.reuse.fact_reads[db.sizes_key(tenant)]
    assert not sizes_ask.done()
    assert first.status == Status.OK, first.summary
    assert first.details["size_on_disk"] is None
    assert first.details["size_unknown"] == db.SIZES_PENDING
    [rest] = left
    whole = await rest()
    assert sizes_ask.done()
    assert whole.status == Status.OK, whole.summary
    assert whole.details["size_on_disk"] > 0
    assert "size_unknown" not in whole.details
    assert (whole.timestamp, whole.duration_s) == (first.timestamp, first.duration_s)
    assert {k: v for k, v in whole.details.items() if k != "size_on_disk"} == {
        k: v for k, v in first.details.items() if k not in ("size_on_disk", "size_unknown")
    }


async def test_while_old_sizes_are_asked_again_a_check_reports_them_with_their_age_without_waiting(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    db_url: str,
    app_name: str,
    arm: Callable[..., None],
) -> None:
    tenant, ctx, counter = armable_tenant(make_fleet, make_ctx, db_url, app_name, db_timeout=30)
    [first] = await run_group(ctx, tenant, "db", 10.0)
    size = first.details["size_on_disk"]
    assert size > 0
    key = db.sizes_key(tenant)
    at, sizes = ctx.reuse.facts[key]
    ctx.reuse.facts[key] = (at - FACTS_MAX_AGE_S - 60, sizes)
    arm(app_name, failCommands=["dbStats"], blockConnection=True, blockTimeMS=1_500)

    [while_asked] = await run_group(ctx, tenant, "db", 10.0)
    refresh = ctx.reuse.fact_reads[key]
    assert not refresh.done()
    assert while_asked.status == Status.OK, while_asked.summary
    assert while_asked.details["size_on_disk"] == size
    assert while_asked.details["size_age_s"] >= FACTS_MAX_AGE_S + 60
    assert counter.sent["dbStats"] == 2

    await refresh
    [after] = await run_group(ctx, tenant, "db", 10.0)
    assert after.details["size_on_disk"] > 0
    assert after.details["size_age_s"] < 5
    assert counter.sent["dbStats"] == 2
