"""``opsdash config check`` and ``opsdash config show``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from opsdash.config.fleet import Fleet, Tenant, find_config, load_fleet
from opsdash.config.report import render_tenant_text, tenant_to_dict
from opsdash.config.resolve import TenantResolution
from opsdash.engine.mongo import MongoClients
from opsdash.engine.resolution import resolve_tenants


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="validate or show tenant configuration")
    sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate tenants.toml and every env file")
    check.set_defaults(func=run_check)
    show = sub.add_parser("show", help="print each tenant's resolved config per service")
    show.add_argument("tenant", nargs="?", help="only this tenant")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=run_show)


def load(args: argparse.Namespace) -> Fleet:
    """The fleet named by ``--config`` / ``$OPSDASH_CONFIG`` / the default locations."""
    return load_fleet(find_config(args.config))


def run_check(args: argparse.Namespace) -> int:
    fleet = load(args)
    for tenant in fleet.tenants:
        tenant.env_source.read()
    print(f"{fleet.path}: OK, {len(fleet.tenants)} tenants")
    return 0


async def _resolve(
    fleet: Fleet, names: list[str] | None
) -> list[tuple[Tenant, TenantResolution]]:
    clients = MongoClients(timeout_s=fleet.poll.db_timeout)
    tenants = fleet.select(names)
    try:
        resolutions = await resolve_tenants(fleet, tenants, clients)
    finally:
        await clients.close()
    return list(zip(tenants, resolutions, strict=True))


def run_show(args: argparse.Namespace) -> int:
    fleet = load(args)
    pairs = asyncio.run(_resolve(fleet, [args.tenant] if args.tenant else None))
    if args.json:
        doc = {"tenants": [tenant_to_dict(r, t.mongo.display) for t, r in pairs]}
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print("\n\n".join(render_tenant_text(r, t.mongo.display) for t, r in pairs))
    return 0
