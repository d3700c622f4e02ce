"""A fleet whose tenants all send mail through one SMTP relay: what the isolation check costs.

Every tenant of such a fleet shares its SMTP credentials with every other, so the isolation check warns
for all of them. This seeds N tenant databases (default 1,000) on a local SecantusDB, each with its own
WhatsApp number and Cloudinary cloud, and either one SMTP user for all (``shared``) or one each
(``distinct``), then times a cold and a warm ``Engine.run_once(groups=["db", "config"])`` (no latency
proxy) and reports the size of one isolation result and the process's peak RSS. Each variant runs in a
process of its own, so that each peak is its own.

    python bench/shared_relay.py [--tenants 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient

from opsdash.config.fleet import load_fleet
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import SecantusServer, database_url
from opsdash.testing.seed import healthy_company, prisma_document

VARIANTS = ("shared", "distinct")


def company(i: int, variant: str) -> dict[str, object]:
    fields = healthy_company(
        fullName=f"Tenant {i}", whatsappPhoneNumberId=f"10990{i}", cloudinaryCloudName=f"cloud{i}"
    )
    if variant == "distinct":
        fields["smtpUser"] = f"mailer{i}@relay.example"
    return fields


async def passes(fleet_file: Path) -> dict[str, object]:
    fleet = load_fleet(fleet_file)
    figures: dict[str, object] = {}
    with ResultStore.for_fleet(fleet) as store:
        engine = Engine(fleet, store=store, jitter=False)
        try:
            for label in ("cold", "warm"):
                started = time.perf_counter()
                results = await engine.run_once(groups=["db", "config"])
                figures[f"{label}_s"] = round(time.perf_counter() - started, 3)
        finally:
            await engine.stop()
    isolation = next(r for r in results if r.check == "isolation")
    figures["isolation"] = isolation.status.value
    figures["summary_chars"] = len(isolation.summary)
    figures["details_bytes"] = len(json.dumps(isolation.details))
    figures["summary"] = isolation.summary[:120]
    return figures


def run_variant(variant: str, tenants: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, SecantusServer() as server:
        with MongoClient(server.url) as client:
            for i in range(tenants):
                client[f"relay_{i}"]["Company"].insert_one(prisma_document(company(i, variant)))
        files = [TenantFiles(f"t{i}", database_url(server.url, f"relay_{i}")) for i in range(tenants)]
        fleet_file = write_fleet(Path(tmp), files, tables={"state": {"dir": "state"}})
        figures = asyncio.run(passes(fleet_file))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"variant": variant, "tenants": tenants, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant here (used by the parent)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.tenants)))
        return 0
    for variant in VARIANTS:
        done = subprocess.run(
            [sys.executable, __file__, "--variant", variant, "--tenants", str(args.tenants)],
            capture_output=True, text=True, check=True,
        )
        print(done.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
