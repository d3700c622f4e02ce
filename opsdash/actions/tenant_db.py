"""A short-lived synchronous connection to one tenant's database, for actions (not checks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from opsdash.config.fleet import Fleet, Tenant
from opsdash.config.resolve import CompanyRead
from opsdash.engine.mongo import describe_mongo_error

APP_NAME = "opsdash-actions"
"""The client's appName; tests scope failpoints to it."""


@contextmanager
def tenant_database(fleet: Fleet, tenant: Tenant) -> Iterator[Database[dict[str, Any]]]:
    """The tenant's database on a fresh client with the fleet's DB timeout; closed on exit."""
    timeout_ms = int(fleet.poll.db_timeout * 1000)
    client: MongoClient[dict[str, Any]] = MongoClient(
        tenant.mongo.url,
        appname=APP_NAME,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        tz_aware=True,
        connect=False,
    )
    try:
        yield client[tenant.mongo.database]
    finally:
        client.close()


def db_error_text(tenant: Tenant, exc: BaseException) -> str:
    """A one-line, password-free reason for a driver error on this tenant's database."""
    secrets = [tenant.mongo.password] if tenant.mongo.password else []
    return f"tenant '{tenant.name}' database {tenant.mongo.display}: {describe_mongo_error(exc, secrets)}"


def read_company_sync(fleet: Fleet, tenant: Tenant, limit: int = 10) -> CompanyRead:
    """The tenant's Company documents, or why they could not be read (never raises a driver error)."""
    try:
        with tenant_database(fleet, tenant) as db:
            docs = list(db[tenant.company_collection].find({}).limit(limit))
    except PyMongoError as exc:
        return CompanyRead(error=db_error_text(tenant, exc))
    return CompanyRead(documents=tuple(docs))
