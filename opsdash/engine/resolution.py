"""Resolve tenants end to end: read env and Company documents at the edge, then resolve purely."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from opsdash.config.catalog import ServiceSpec
from opsdash.config.company import SECRET_FIELDS
from opsdash.config.fleet import Fleet, Tenant
from opsdash.config.resolve import TenantResolution, resolve_tenant
from opsdash.engine.mongo import MongoClients, read_company
from opsdash.redact import name_looks_secret


def tenant_secrets(
    tenant: Tenant,
    env: Mapping[str, str | None],
    catalog: Mapping[str, ServiceSpec],
    company: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every value of this tenant that must never be shown: secret fields (DB and env), secret-looking
    env vars, and the DSN password."""
    secret_vars = frozenset().union(*(spec.secret_env_names() for spec in catalog.values()))
    found = [v for k, v in env.items() if v and (k in secret_vars or name_looks_secret(k))]
    if company:
        found.extend(str(company[f]) for f in SECRET_FIELDS if company.get(f))
    if tenant.mongo.password:
        found.append(tenant.mongo.password)
    return found


async def resolve_one(fleet: Fleet, tenant: Tenant, clients: MongoClients) -> TenantResolution:
    """Read one tenant's env and Company documents and resolve it; a dead DB resolves to env."""
    env = tenant.env_source.read()
    read = await read_company(
        clients, tenant, fleet.poll.db_timeout, secrets=tenant_secrets(tenant, env, fleet.catalog)
    )
    return resolve_tenant(tenant.name, fleet.catalog, env, read)


async def resolve_tenants(
    fleet: Fleet, tenants: Iterable[Tenant], clients: MongoClients
) -> list[TenantResolution]:
    """Resolve several tenants concurrently."""
    return list(await asyncio.gather(*(resolve_one(fleet, t, clients) for t in tenants)))
