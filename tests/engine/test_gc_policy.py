"""The collector's pace in a process that sweeps: above what one pass keeps alive, never lowered."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from opsdash.config.fleet import Fleet, load_fleet
from opsdash.engine.gc_policy import (
    SWEEP_GEN0_THRESHOLD,
    TRACKED_PER_TENANT,
    pace_for_sweeps,
    sweep_threshold,
)
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, prisma_document


@pytest.fixture(autouse=True)
def kept_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_threshold_grows_with_the_fleet_above_a_floor() -> None:
    assert sweep_threshold(0) == SWEEP_GEN0_THRESHOLD
    assert sweep_threshold(10) == SWEEP_GEN0_THRESHOLD
    assert sweep_threshold(100) == SWEEP_GEN0_THRESHOLD
    assert sweep_threshold(1_000) == 450_000
    assert sweep_threshold(5_000) == 2_250_000


def test_pacing_raises_only_the_first_threshold_and_never_lowers_it() -> None:
    gc.set_threshold(700, 10, 10)
    pace_for_sweeps(1_000)
    assert gc.get_threshold() == (450_000, 10, 10)
    pace_for_sweeps(10)
    assert gc.get_threshold() == (450_000, 10, 10)


def test_a_collector_switched_off_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    pace_for_sweeps(1_000)
    assert gc.get_threshold() == (0, 10, 10)


ENV = {
    "USE_DB_CLOUDINARY": "true",
    "USE_DB_WHATSAPP": "false",
    "USE_DB_AUTH_CALLBACK": "true",
    "USE_DB_WHATSAPP_OTP": "true",
    "WHATSAPP_PERMANENT_TOKEN": "EAAG-env-token",
    "WHATSAPP_PHONE_NUMBER_ID": "1099",
    "SMTP_HOST": "smtp.example",
    "SMTP_PORT": "587",
    "AUTH_CALLBACK_URL": "https://tenant.example/api/auth/callback",
}


async def tracked_by_a_first_pass(fleet: Fleet) -> int:
    """Tracked objects a fresh engine's first db+config pass allocates and keeps (the collector paused,
    so that none is collected or promoted while counting)."""
    was_enabled = gc.isenabled()
    with ResultStore.for_fleet(fleet) as store:
        engine = Engine(fleet, store=store, jitter=False)
        try:
            gc.collect()
            gc.disable()
            before = gc.get_count()[0]
            await engine.run_once(groups=["db", "config"])
            return gc.get_count()[0] - before
        finally:
            if was_enabled:
                gc.enable()
            await engine.stop()


async def test_a_first_pass_stays_below_the_threshold_with_a_quarter_to_spare(
    tmp_path: Path, mongo_url: str
) -> None:
    """The threshold's premise holds for the pass that keeps the most: a fresh engine's first pass (new
    clients, nothing reused yet; what ``opsdash check`` makes, and the dashboard's first runs). Per
    tenant: the growth from 20 to 120 tenants, so what a pass allocates once cancels out."""
    prefix = f"gc_{uuid.uuid4().hex[:8]}"
    with MongoClient(mongo_url) as client:
        for i in range(120):
            company = healthy_company(
                fullName=f"Tenant {i}", whatsappPhoneNumberId=f"1099{i}", cloudinaryClientFolder=f"t{i}",
                smtpUser=f"mailer{i}@example.com",
            )
            client[f"{prefix}_{i}"]["Company"].insert_one(prisma_document(company))
    counts = {}
    for size in (20, 120):
        tenants = [
            TenantFiles(f"t{i}", database_url(mongo_url, f"{prefix}_{i}"), env=ENV) for i in range(size)
        ]
        fleet_file = write_fleet(tmp_path / f"fleet{size}", tenants, tables={"state": {"dir": "state"}})
        counts[size] = await tracked_by_a_first_pass(load_fleet(fleet_file))
    per_tenant = (counts[120] - counts[20]) / 100
    assert per_tenant <= 0.75 * TRACKED_PER_TENANT, (per_tenant, counts)
