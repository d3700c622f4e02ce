"""Pilot tests: drive the flip and edit flows end to end against SecantusDB and real dotenv files."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo import MongoClient
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from opsdash.actions.audit import list_audit
from opsdash.checks.context import CheckContext
from opsdash.checks.runner import run_group
from opsdash.config.envsource import DotenvFile
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.engine.store import ResultStore
from opsdash.screens.app import OpsdashApp
from opsdash.screens.backend import FleetBackend
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.seed import healthy_company, seed_company

CANARY_OLD = "canary-old-smtp-pass-41d7"
CANARY_NEW = "canary-new-smtp-pass-93be"
ENV = {
    "USE_DB_CLOUDINARY": "true",
    "CLOUDINARY_CLOUD_NAME": "env-cloud",
    "CLOUDINARY_API_KEY": "998877665544",
    "CLOUDINARY_API_SECRET": "env-cloud-secret-0c1d",
}


@dataclass
class Live:
    fleet: Fleet
    store: ResultStore
    url: str
    database: str
    env_file: Path

    def company(self) -> dict:
        with MongoClient(self.url) as client:
            (doc,) = list(client[self.database]["Company"].find({}))
        return doc


@pytest.fixture
def live(tmp_path: Path, db_url: str, state_dir: Path) -> Iterator[Live]:
    database = db_url.rsplit("/", 1)[1].split("?", 1)[0]
    seed_company(db_url, database, healthy_company(smtpPass=CANARY_OLD))
    path = write_fleet(tmp_path, [TenantFiles("acme", db_url, ENV, ("prod",))])
    fleet = load_fleet(path)
    store = ResultStore.for_fleet(fleet)

    async def config_results() -> list:
        ctx = CheckContext.create(fleet)
        try:
            return await run_group(ctx, fleet.tenants[0], "config", 10)
        finally:
            await ctx.aclose()

    store.record(asyncio.run(config_results()))
    yield Live(fleet, store, db_url, database, tmp_path / "env" / "acme.env")
    store.close()


def app_for(live: Live, read_only: bool = False) -> OpsdashApp:
    backend = FleetBackend(live.fleet, read_only=read_only, store=live.store)
    return OpsdashApp(live.fleet, live.store, backend=backend, read_only=read_only, refresh_s=3600)


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def plain(widget: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=200, file=io.StringIO(), color_system=None, record=True)
    console.print(widget.content)
    return console.export_text()


def text_of(pilot: Pilot, selector: str) -> str:
    return plain(pilot.app.screen.query_one(selector, Static))


def screen_text(pilot: Pilot) -> str:
    return "\n".join(plain(w) for w in pilot.app.screen.query(Static))


async def test_flip_flow_writes_env_file_and_audits(live: Live) -> None:
    app = app_for(live)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "enter", "right", "right")
        assert 'USE_DB_CLOUDINARY="true" (on)' in text_of(pilot, "#body-cloudinary")
        await press(pilot, "f")
        assert "Preflight: ✓ ENV config is complete and valid" in text_of(pilot, "#preflight")
        await pilot.press("enter")
        await settle(pilot)
        assert "A reason is required" in text_of(pilot, "#outcome")
        assert DotenvFile(live.env_file).read()["USE_DB_CLOUDINARY"] == "true"
        pilot.app.screen.query_one("#reason", Input).value = "cloudinary DB creds rotated"
        await settle(pilot)
        await press(pilot, "enter")
        assert text_of(pilot, "#outcome").startswith("APPLIED")
    assert DotenvFile(live.env_file).read()["USE_DB_CLOUDINARY"] != "true"
    records = [r for r in list_audit(live.fleet, "acme") if r.action == "flip"]
    assert [(r.outcome, r.service, r.reason) for r in records] == [
        ("applied", "cloudinary", "cloudinary DB creds rotated")
    ]


async def test_read_only_flip_is_refused_and_nothing_changes(live: Live) -> None:
    before = live.env_file.read_text()
    app = app_for(live, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.query_one("#read-only-badge").display
        await press(pilot, "enter", "right", "right", "f")
        assert "READ-ONLY" in text_of(pilot, "#refusal")
        assert not app.screen.query_one("#confirm").display
        await press(pilot, "ctrl+s")
    assert live.env_file.read_text() == before
    assert [r for r in list_audit(live.fleet, "acme") if r.outcome == "applied"] == []


async def open_email_form(pilot: Pilot) -> None:
    await press(pilot, "enter", "right", "right", "right", "right", "e")


async def test_edit_flow_writes_company_fields_and_audits(live: Live) -> None:
    app = app_for(live)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_email_form(pilot)
        form = pilot.app.screen
        form.query_one("#in-smtpPort", Input).value = "70000"
        await settle(pilot)
        assert "must be a port number" in text_of(pilot, "#err-smtpPort")
        await press(pilot, "ctrl+s")
        assert text_of(pilot, "#diff").startswith("Fix first: smtpPort")
        form.query_one("#in-smtpPort", Input).value = "2525"
        form.query_one("#in-smtpPass", Input).value = CANARY_NEW
        form.query_one("#reason", Input).value = "new relay"
        await settle(pilot)
        await press(pilot, "ctrl+s")
        assert form.query_one("#confirm").display
        review = text_of(pilot, "#diff")
        assert "smtpPort: 587 → 2525" in review
        assert CANARY_NEW not in review and CANARY_OLD not in review
        assert live.company()["smtpPort"] == "587"
        await press(pilot, "ctrl+s")
        assert text_of(pilot, "#diff").startswith("APPLIED")
        assert CANARY_NEW not in screen_text(pilot) and CANARY_OLD not in screen_text(pilot)
    doc = live.company()
    assert doc["smtpPort"] == "2525"
    assert doc["smtpPass"] == CANARY_NEW
    (record,) = [r for r in list_audit(live.fleet, "acme") if r.action == "edit"]
    assert record.outcome == "applied"
    assert set(record.fields) == {"smtpPort", "smtpPass"}


async def test_edit_conflict_is_reported_and_nothing_is_overwritten(live: Live) -> None:
    app = app_for(live)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_email_form(pilot)
        form = pilot.app.screen
        form.query_one("#in-smtpPort", Input).value = "2525"
        form.query_one("#reason", Input).value = "new relay"
        await settle(pilot)
        await press(pilot, "ctrl+s")
        with MongoClient(live.url) as client:
            client[live.database]["Company"].update_one({}, {"$set": {"smtpPort": "465"}})
        await press(pilot, "ctrl+s")
        assert text_of(pilot, "#diff").startswith("CONFLICT")
    assert live.company()["smtpPort"] == "465"
