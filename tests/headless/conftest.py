"""Fleets for the headless tests: real SecantusDB databases, env files, and planted secret canaries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsdash.config.catalog import build_catalog
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company

CANARY = "CANARY-s3cr3t-7f9e2d"
"""Planted in every secret field (DB and env) and in the DSN password; must never be printed."""

CLOSED_ENDPOINTS = {"graph_api": "http://127.0.0.1:9", "cloudinary_api": "http://127.0.0.1:9"}


def canary_company(tenant: str, **overrides: Any) -> dict[str, Any]:
    """A complete Company whose every secret is a canary, with tenant-specific identifiers."""
    return healthy_company(
        whatsappPermanentToken=f"{CANARY}-wa-{tenant}",
        whatsappAppSecret=f"{CANARY}-app-{tenant}",
        whatsappWebhookVerifyToken=f"{CANARY}-verify-{tenant}",
        emailPass=f"{CANARY}-mail-{tenant}",
        smtpPass=f"{CANARY}-smtp-{tenant}",
        smtpUser=f"mailer@{tenant}.example",
        cloudinaryApiSecret=f"{CANARY}-cld-{tenant}",
        cloudinaryClientFolder=tenant,
        whatsappPhoneNumberId=str(1099000000000 + abs(hash(tenant)) % 10**6),
        **overrides,
    )


def env_for(company: Mapping[str, Any], **extra: str) -> dict[str, str]:
    """The deployment env carrying the same config as ``company`` under each field's env-var name."""
    env: dict[str, str] = {}
    for spec in build_catalog().values():
        for field in spec.fields:
            value = company.get(field)
            if value is not None:
                env[spec.env_name(field)] = str(value).lower() if isinstance(value, bool) else str(value)
    env.update(extra)
    return env


def make_fleet(
    directory: Path,
    mongo_url: str,
    tenants: Mapping[str, list[dict[str, Any]] | None],
    *,
    urls: Mapping[str, str] | None = None,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Seed each tenant's database (``None``: leave it empty) and write tenants.toml + env files.

    ``urls`` overrides a tenant's server URL (e.g. a server that will stop, or a closed port).
    """
    files = []
    for name, companies in tenants.items():
        base = (urls or {}).get(name, mongo_url)
        db_name = f"{name}_{uuid.uuid4().hex[:8]}"
        if companies is not None:
            seed_company(base, db_name, *companies)
        first = companies[0] if companies else canary_company(name)
        env = env_for(first, DATABASE_URL=database_url(base, db_name), VERCEL_TOKEN=f"{CANARY}-vercel")
        files.append(TenantFiles(name, None, env=env))
    merged = {"endpoints": CLOSED_ENDPOINTS, **(tables or {})}
    return write_fleet(directory, files, tables=merged)
