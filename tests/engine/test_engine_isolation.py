"""The scheduled fleet-wide isolation check compares what the tenants' own config runs loaded.

At fleet size, reading every tenant again inside the one isolation deadline cannot finish: the check must
judge from the config runs' recent loads, and its first run must wait for them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pymongo import MongoClient

from opsdash.checks.base import CheckResult, Status
from opsdash.config.fleet import load_fleet
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore, Transition
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import SecantusServer, database_url
from opsdash.testing.seed import healthy_company, seed_company

SHARED_NUMBER = "1099000000001"
POLL = {
    "db_interval": 600,
    "config_interval": 600,
    "integration_interval": 600,
    "db_timeout": 2,
}


def block_finds(url: str) -> None:
    """From now on every ``find`` on the server hangs for 30 s: no Company document can be read."""
    with MongoClient(url, serverSelectionTimeoutMS=5000) as admin:
        admin.admin.command(
            "configureFailPoint", "failCommand", mode="alwaysOn",
            data={"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 30_000},
        )


async def test_the_scheduled_isolation_check_judges_the_config_runs_loads_without_reading_again(
    tmp_path: Path,
) -> None:
    numbers = {"a": SHARED_NUMBER, "b": SHARED_NUMBER, "c": "1099000000003"}
    with SecantusServer() as server:
        tenants = []
        for name, number in numbers.items():
            fields = healthy_company(whatsappPhoneNumberId=number, smtpUser=f"mailer-{number}@acme.example")
            seed_company(server.url, f"iso_{name}", fields)
            env = {"USE_DB_WHATSAPP": "true"}
            tenants.append(TenantFiles(name, database_url(server.url, f"iso_{name}"), env=env))
        fleet = load_fleet(
            write_fleet(tmp_path, tenants, tables={"poll": POLL, "state": {"dir": "state"}})
        )
        first_isolation = asyncio.Event()
        after_block = asyncio.Event()
        isolation: dict[str, CheckResult] = {}
        blocked = False

        def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
            for result in results:
                if result.check != "isolation":
                    continue
                first_isolation.set()
                if blocked:
                    isolation[result.tenant] = result
            if set(isolation) == set(numbers):
                after_block.set()

        with ResultStore(tmp_path / "state" / "opsdash.sqlite3") as store:
            engine = Engine(fleet, store=store, on_results=on_results, jitter=False)
            await engine.start()
            try:
                await asyncio.wait_for(first_isolation.wait(), 20)
                block_finds(server.url)
                blocked = True
                engine.check_now()
                await asyncio.wait_for(after_block.wait(), 20)
            finally:
                await engine.stop(grace=0)

    assert {name: r.status for name, r in isolation.items()} == {
        "a": Status.WARN, "b": Status.WARN, "c": Status.OK,
    }, {name: r.summary for name, r in isolation.items()}
    assert SHARED_NUMBER in isolation["a"].summary
    assert "Company not read" not in isolation["c"].summary
