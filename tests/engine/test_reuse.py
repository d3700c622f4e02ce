"""Reuse across passes (``opsdash.checks.reuse``): a warm pass skips what did not change, and sees every
change the moment it happens: a Company document edited in the database, an env file rewritten in place
with the same size, a size on disk grown old."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from opsdash.checks.base import CheckResult
from opsdash.checks.context import CheckContext
from opsdash.checks.reuse import FACTS_MAX_AGE_S, Reuse
from opsdash.config.envsource import DotenvFile, file_stamp
from opsdash.config.fleet import load_fleet
from opsdash.engine.resolution import tenant_secrets
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.engine.test_pass_cache import count_commands

FLAGS_ON = {"USE_DB_CLOUDINARY": "true", "USE_DB_WHATSAPP": "true"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as opened:
        yield opened


def by_check(results: list[CheckResult], tenant: str) -> dict[str, CheckResult]:
    return {r.check: r for r in results if r.tenant == tenant}


def same_verdict(first: CheckResult, second: CheckResult) -> bool:
    keep = {"timestamp", "duration_s"}
    return first.model_dump(exclude=keep) == second.model_dump(exclude=keep)


async def test_a_warm_pass_reuses_unchanged_tenants_and_sees_every_change(
    tmp_path: Path, store: ResultStore, mongo_url: str
) -> None:
    databases = {name: f"reuse_{tmp_path.name[-12:]}_{name}" for name in ("edited", "flipped", "steady")}
    for name, database in databases.items():
        seed_company(mongo_url, database, healthy_company(
            cloudinaryClientFolder=name,
            whatsappPhoneNumberId=f"10990{len(name)}{name}",
            smtpUser=f"{name}@mail.example",
            emailUser=f"{name}@mail.example",
        ))
    tenants = [
        TenantFiles(name, database_url(mongo_url, database), env=FLAGS_ON)
        for name, database in databases.items()
    ]
    fleet = load_fleet(write_fleet(tmp_path, tenants, tables={"state": {"dir": "state"}}))
    ctx = CheckContext.create(fleet)
    counter = count_commands(ctx)
    engine = Engine(fleet, store=store, ctx=ctx, jitter=False)
    try:
        first = await engine.run_once(groups=["db", "config"])
        with MongoClient(mongo_url) as client:
            steady_phone = client[databases["steady"]]["Company"].find_one({})["whatsappPhoneNumberId"]
            client[databases["edited"]]["Company"].update_one(
                {}, {"$set": {"cloudinaryApiSecret": "", "whatsappPhoneNumberId": steady_phone}}
            )
        env_file = tmp_path / "env" / "flipped.env"
        before = env_file.read_text()
        env_file.write_text(before.replace('USE_DB_CLOUDINARY="true"', 'USE_DB_CLOUDINARY="TRUE"'))
        assert len(env_file.read_text()) == len(before)
        second = await engine.run_once(groups=["db", "config"])
    finally:
        await engine.stop()
        await ctx.aclose()

    edited_then, edited_now = by_check(first, "edited"), by_check(second, "edited")
    assert edited_then["config:cloudinary"].status.value == "OK"
    assert edited_now["config:cloudinary"].status.value != "OK"
    assert "cloudinaryApiSecret" in edited_now["config:cloudinary"].details["problems"]

    assert edited_then["isolation"].status.value == "OK"
    assert edited_now["isolation"].status.value == "WARN"
    assert "steady" in edited_now["isolation"].summary
    assert by_check(second, "steady")["isolation"].status.value == "WARN"
    assert by_check(second, "flipped")["isolation"].status.value == "OK"

    flipped_then, flipped_now = by_check(first, "flipped"), by_check(second, "flipped")
    assert flipped_then["config:cloudinary"].details["source"] == "db"
    assert flipped_now["config:cloudinary"].details["source"] == "env"
    assert flipped_now["config:cloudinary"].details["flag"]["raw"] == "TRUE"

    steady_then, steady_now = by_check(first, "steady"), by_check(second, "steady")
    assert steady_then.keys() == steady_now.keys()
    for check, result in steady_now.items():
        if check.startswith(("config:", "fallback:")):
            assert same_verdict(steady_then[check], result)
            assert result.timestamp > steady_then[check].timestamp

    assert counter.sent["find"] == 2 * len(databases)
    assert counter.sent["listDatabases"] == 1
    assert counter.sent["buildInfo"] == 1
    for name in databases:
        db_then, db_now = by_check(first, name)["db"].details, by_check(second, name)["db"].details
        assert db_now["size_on_disk"] == db_then["size_on_disk"] > 0
        assert db_now["size_age_s"] >= 0


def test_an_env_file_is_read_again_when_anything_about_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tenant.env"
    path.write_text('A="1"\n')
    source = DotenvFile(path)
    reuse = Reuse()
    stamp = file_stamp(path)
    assert reuse.unchanged_env(source, stamp) is None
    reuse.remember_env(source, stamp, source.read())
    assert reuse.unchanged_env(source, file_stamp(path)) == {"A": "1"}
    replacement = tmp_path / "replacement.env"
    replacement.write_text('A="2"\n')
    replacement.replace(path)
    assert reuse.unchanged_env(source, file_stamp(path)) is None
    path.unlink()
    assert file_stamp(path) is None
    assert reuse.unchanged_env(source, None) is None


def test_a_size_is_kept_until_it_is_older_than_its_max_age() -> None:
    reuse = Reuse()
    reuse.remember_fact("db", {"on_disk": 10}, now=100.0)
    oldest = 100.0 + FACTS_MAX_AGE_S
    assert reuse.fresh_fact("db", now=oldest) == ({"on_disk": 10}, FACTS_MAX_AGE_S)
    assert reuse.fresh_fact("db", now=100.0 + FACTS_MAX_AGE_S + 1) is None
    assert reuse.fresh_fact("other", now=100.0) is None


def test_secrets_are_worked_out_again_for_another_env_or_tenant(tmp_path: Path) -> None:
    fleet = load_fleet(write_fleet(tmp_path, [TenantFiles("acme", "mongodb://ops:dsn-pw@db.example/acme")]))
    tenant = fleet.tenant("acme")
    reuse = Reuse()
    worked_out: list[dict[str, str | None]] = []

    def secrets_of(env: dict[str, str | None]) -> list[str]:
        worked_out.append(env)
        return tenant_secrets(tenant, env, fleet.catalog)

    env = {"CLOUDINARY_API_SECRET": "first-secret"}
    first = reuse.secrets_for(tenant, env, lambda: secrets_of(env))
    assert set(first) == {"first-secret", "dsn-pw"}
    assert reuse.secrets_for(tenant, env, lambda: secrets_of(env)) is first
    assert len(worked_out) == 1

    rewritten = {"CLOUDINARY_API_SECRET": "second-secret"}
    assert "second-secret" in reuse.secrets_for(tenant, rewritten, lambda: secrets_of(rewritten))
    reloaded = load_fleet(write_fleet(tmp_path, [TenantFiles("acme", "mongodb://ops:new-pw@db.example/acme")]))
    moved = reloaded.tenant("acme")
    again = reuse.secrets_for(moved, rewritten, lambda: tenant_secrets(moved, rewritten, fleet.catalog))
    assert "new-pw" in again


def test_the_isolation_check_takes_a_tenants_latest_whole_load_while_it_is_recent() -> None:
    reuse = Reuse()
    assert reuse.recent_load("acme", 90.0, now=0.0) is None
    reuse.remember_loaded("acme", "whole at 0", whole=True, now=0.0)
    reuse.remember_loaded("acme", "failed at 30", whole=False, now=30.0)
    assert reuse.recent_load("acme", 90.0, now=60.0) == "whole at 0"
    assert reuse.recent_load("acme", 90.0, now=100.0) == "failed at 30"
    assert reuse.recent_load("acme", 90.0, now=121.0) is None
    reuse.remember_loaded("acme", "whole at 130", whole=True, now=130.0)
    assert reuse.recent_load("acme", 90.0, now=140.0) == "whole at 130"


async def test_an_ask_still_running_is_joined_and_a_finished_one_is_not() -> None:
    reuse = Reuse()
    release = asyncio.Event()
    asked: list[int] = []

    async def ask() -> dict[str, int]:
        asked.append(1)
        await release.wait()
        return {"on_disk": len(asked)}

    first = reuse.fact_read("sizes", ask)
    second = reuse.fact_read("sizes", ask)
    assert second is first
    release.set()
    assert await first == {"on_disk": 1}
    assert await reuse.fact_read("sizes", ask) == {"on_disk": 2}
    assert len(asked) == 2
