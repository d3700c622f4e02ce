"""Fixtures for the check tests: fleets on disk, a real CheckContext, and resolved services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from opsdash.checks.context import CheckContext
from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.config.resolve import CompanyRead, ServiceResolution, resolve_service
from opsdash.testing.fleetfile import TenantFiles, write_fleet

FleetFactory = Callable[..., Fleet]


@pytest.fixture
def make_fleet(tmp_path: Path) -> FleetFactory:
    """Write tenants.toml (+ env files) under tmp_path and load it the way opsdash does."""

    def make(tenants: Sequence[TenantFiles] = (), **tables: Mapping[str, Any]) -> Fleet:
        return load_fleet(write_fleet(tmp_path, tenants, tables=tables))

    return make


@pytest.fixture
async def make_ctx() -> AsyncIterator[Callable[[Fleet], CheckContext]]:
    """``CheckContext.create(fleet)``; every context made is closed after the test."""
    made: list[CheckContext] = []

    def make(fleet: Fleet) -> CheckContext:
        ctx = CheckContext.create(fleet)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        await ctx.aclose()


def resolved(
    service: str,
    *,
    company: Mapping[str, Any] | None = None,
    env: Mapping[str, str | None] | None = None,
    use_db: bool | None = None,
) -> ServiceResolution:
    """A service resolved from in-memory values (no DB): what a live probe receives."""
    read = CompanyRead(documents=(company,) if company is not None else ())
    return resolve_service(DEFAULT_CATALOG[service], env or {}, read, use_db=use_db)
