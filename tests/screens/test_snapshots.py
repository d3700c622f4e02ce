"""SVG snapshots of every dashboard screen: fixed clock, fixed results, no cursor blink, no secrets.

Regenerate with ``python -m pytest tests/screens --snapshot-update`` and look at the SVGs before committing.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tests.screens.fake_backend import FixedBackend
from tests.screens.scenarios import (
    CANARY,
    healthy_plans,
    history_results,
    mixed_plans,
    plan_results,
)

SNAPSHOTS = Path(__file__).parent / "__snapshots__"


def mixed_results() -> list:
    results = [r for plan in mixed_plans() for r in plan_results(plan)]
    return results + history_results("acme-prod", "whatsapp")


def healthy_results() -> list:
    return [r for plan in healthy_plans() for r in plan_results(plan)]


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def test_overview_healthy(snap_compare, make_app) -> None:
    assert snap_compare(make_app(healthy_results()), run_before=settle)


def test_overview_mixed(snap_compare, make_app) -> None:
    assert snap_compare(make_app(mixed_results()), run_before=settle)


def test_overview_mixed_large_terminal(snap_compare, make_app) -> None:
    assert snap_compare(make_app(mixed_results()), terminal_size=(160, 48), run_before=settle)


def test_overview_filtered_read_only(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "slash", "p", "r", "o", "d", "enter")

    assert snap_compare(make_app(mixed_results(), read_only=True), run_before=run_before)


def test_tenant_detail(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "enter")

    assert snap_compare(make_app(mixed_results()), run_before=run_before)


def test_tenant_detail_problem_service(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "enter", "right", "right")

    assert snap_compare(make_app(mixed_results()), run_before=run_before)


def test_flip_modal_preflight_failed(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "enter", "right", "right", "f")

    app = make_app(mixed_results(), backend=FixedBackend(preflight_ok=False))
    assert snap_compare(app, run_before=run_before)


def test_flip_modal_read_only_refuses(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "enter", "f")

    assert snap_compare(make_app(mixed_results(), read_only=True), run_before=run_before)


def test_edit_form_validation_error(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "enter", "right", "right", "right", "right", "e")
        port = pilot.app.screen.query_one("#in-smtpPort", Input)
        port.focus()
        port.value = "70000"
        await settle(pilot)

    assert snap_compare(make_app(mixed_results()), run_before=run_before)


def test_audit_screen(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "a")

    assert snap_compare(make_app(mixed_results()), run_before=run_before)


def test_help_screen(snap_compare, make_app) -> None:
    async def run_before(pilot: Pilot) -> None:
        await press(pilot, "question_mark")

    assert snap_compare(make_app(mixed_results()), run_before=run_before)


def test_no_secret_canary_in_any_snapshot() -> None:
    svgs = sorted(SNAPSHOTS.rglob("*.svg"))
    assert len(svgs) >= 11
    leaking = [p.name for p in svgs if CANARY in p.read_text(encoding="utf-8")]
    assert leaking == []
