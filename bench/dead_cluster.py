"""A cluster outage under the scheduled engine: do the healthy clusters' tenants keep their pace?

Seeds 20 healthy tenant databases on a local SecantusDB and points N more tenants (default 1,000) at a
loopback port that refuses connections, then runs the engine as the dashboard and ``opsdash watch`` do
(default intervals and timeouts, integration probes included) for ``--seconds`` (default 60) and
reports, from the results it publishes (on ``run_bounded``'s loop, as ``opsdash watch`` runs: reads
still stuck on the dead cluster at the end are given a bounded time to stop):

- the db results each healthy tenant got, and the longest gap between two of them (its pace is 15 s);
- how long it took until every tenant of the dead cluster had a db result, and their statuses.

With ``--back-after S`` the dead cluster comes back after S seconds (a SecantusDB starts on its port,
holding its tenants' Company documents), and the script also reports how many of its tenants were seen
OK again, and how long after the cluster came back the last of them was.

    python bench/dead_cluster.py [--dead 1000] [--seconds 60] [--back-after S]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from pymongo import MongoClient

from opsdash.checks.base import CheckResult
from opsdash.config.fleet import load_fleet
from opsdash.engine.loop import run_bounded, widen_default_executor
from opsdash.engine.scheduler import Engine, io_threads
from opsdash.engine.store import ResultStore, Transition
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import SecantusServer, database_url, free_port
from opsdash.testing.seed import healthy_company, prisma_document

HEALTHY = 20
REFUSING = "mongodb://127.0.0.1:9/"


def seed_companies(url: str, databases: list[str]) -> None:
    with MongoClient(url) as client:
        for index, database in enumerate(databases):
            fields = healthy_company(
                fullName=f"Tenant {database}", whatsappPhoneNumberId=f"9{index}", smtpUser=f"d{index}"
            )
            client[database]["Company"].insert_one(prisma_document(fields))


async def bring_back(server: SecantusServer, databases: list[str], after: float, back: list[float]) -> None:
    """Start the dead cluster's server after ``after`` seconds and seed it; ``back`` gets the moment."""
    await asyncio.sleep(after)
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(seed_companies, server.url, databases)
    back.append(time.perf_counter())


async def measure(
    fleet_file: Path,
    dead: int,
    seconds: float,
    returning: SecantusServer | None = None,
    back_after: float = 0,
) -> None:
    fleet = load_fleet(fleet_file)
    widen_default_executor(io_threads(fleet))
    started = time.perf_counter()
    db_results: dict[str, list[tuple[float, str]]] = defaultdict(list)

    def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
        now = time.perf_counter() - started
        for result in results:
            if result.check == "db":
                db_results[result.tenant].append((now, result.status.value))

    with ResultStore.for_fleet(fleet) as store:
        engine = Engine(fleet, store=store, on_results=on_results)
        await engine.start()
        back: list[float] = []
        comeback = None
        if returning is not None:
            databases = [f"dead_{i}" for i in range(dead)]
            comeback = asyncio.ensure_future(bring_back(returning, databases, back_after, back))
        await asyncio.sleep(seconds)
        await engine.stop(grace=0)
        if comeback is not None:
            await comeback
    healthy = [db_results[f"ok{i}"] for i in range(HEALTHY)]
    gaps = [b[0] - a[0] for seen in healthy for a, b in itertools.pairwise(seen)]
    print(f"healthy tenants' db results in {seconds:g} s: {sorted(len(seen) for seen in healthy)}")
    print(f"longest gap between a healthy tenant's db results: {max(gaps, default=float('nan')):.1f} s")
    down = [db_results[f"dead{i}"] for i in range(dead)]
    reported = [seen[0][0] for seen in down if seen]
    print(
        f"dead cluster: {len(reported)} of {dead} tenants with a db result"
        + (f", the last first one after {max(reported):.1f} s" if reported else "")
        + f"; statuses {dict(Counter(status for seen in down for _, status in seen))}"
    )
    if back:
        came_back = back[0] - started
        again = [
            next(moment for moment, status in seen if moment > came_back and status == "OK")
            for seen in down
            if any(moment > came_back and status == "OK" for moment, status in seen)
        ]
        print(
            f"dead cluster back after {came_back:.1f} s: {len(again)} of {dead} tenants seen OK again"
            + (f", the last {max(again) - came_back:.1f} s after it came back" if again else "")
            + "; statuses after it came back "
            + str(dict(Counter(status for seen in down for moment, status in seen if moment > came_back)))
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dead", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--back-after", type=float, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    returning = None if args.back_after is None else SecantusServer(port=free_port())
    dead_url = REFUSING if returning is None else f"mongodb://127.0.0.1:{returning.requested_port}/"
    with tempfile.TemporaryDirectory() as tmp, SecantusServer() as server:
        with MongoClient(server.url) as client:
            for i in range(HEALTHY):
                fields = healthy_company(
                    fullName=f"Tenant {i}", whatsappPhoneNumberId=f"1{i}", smtpUser=f"u{i}"
                )
                client[f"ok_{i}"]["Company"].insert_one(prisma_document(fields))
        tenants = [TenantFiles(f"ok{i}", database_url(server.url, f"ok_{i}")) for i in range(HEALTHY)]
        tenants += [TenantFiles(f"dead{i}", database_url(dead_url, f"dead_{i}")) for i in range(args.dead)]
        fleet_file = write_fleet(Path(tmp), tenants, tables={"state": {"dir": "state"}})
        try:
            run_bounded(measure(fleet_file, args.dead, args.seconds, returning, args.back_after or 0))
        finally:
            if returning is not None:
                returning.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
