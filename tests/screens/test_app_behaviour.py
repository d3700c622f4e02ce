"""Pilot tests of the app shell: live updates by diff, filter, keymap, palette, help, quit, NO_COLOR."""

from __future__ import annotations

import threading
from datetime import timedelta

from textual.pilot import Pilot
from opsdash.checks.base import CheckResult, Status
from opsdash.screens.fleet_table import FleetTable
from opsdash.screens.help_screen import HelpScreen
from opsdash.screens.keymap import COMMANDS
from opsdash.screens.overview import OverviewScreen
from tests.screens.scenarios import NOW, healthy_plans, mixed_plans, plan_results


def healthy() -> list[CheckResult]:
    return [r for plan in healthy_plans() for r in plan_results(plan)]


def mixed() -> list[CheckResult]:
    return [r for plan in mixed_plans() for r in plan_results(plan)]


def table_rows(app) -> list[tuple[str, str]]:
    table = app.screen.query_one("#fleet", FleetTable)
    return [(table.row_at(i)[1], table.row_at(i)[0]) for i in range(table.row_count)]


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def post_from_thread(app, results: list[CheckResult]) -> None:
    thread = threading.Thread(target=app.post_results, args=(results, []))
    thread.start()
    thread.join()


async def test_results_posted_from_another_thread_update_only_changed_cells(make_app) -> None:
    app = make_app(healthy())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        assert all(status == "✓ OK" for _, status in table_rows(app))
        table = screen.query_one("#fleet", FleetTable)
        updates: list[dict] = []
        original = table.update_cells

        def spy(changes):
            updates.append({key: dict(cells) for key, cells in changes.items()})
            return original(changes)

        table.update_cells = spy
        slower = CheckResult(
            tenant="delta-deli",
            check="db",
            status=Status.OK,
            summary="ok",
            details={"latency_ms": 480.0},
            timestamp=NOW - timedelta(seconds=4),
        )
        post_from_thread(app, [slower])
        await settle(pilot)
        screen.refresh_rows()
        await settle(pilot)
        assert updates == [{"delta-deli": {2: "✓ 480ms"}}]
        assert table.row("delta-deli")[2] == "✓ 480ms"


async def test_a_tenant_turning_crit_moves_to_the_top_and_the_cursor_stays_put(make_app) -> None:
    app = make_app(healthy())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        down = CheckResult(
            tenant="delta-deli",
            check="db",
            status=Status.CRIT,
            summary="connection refused",
            timestamp=NOW - timedelta(seconds=4),
            error_class="connect",
        )
        post_from_thread(app, [down])
        await settle(pilot)
        screen.refresh_rows()
        await settle(pilot)
        rows = table_rows(app)
        assert rows[0] == ("delta-deli", "✗ CRIT")
        assert [name for name, _ in rows[1:]] == sorted(name for name, _ in rows[1:])
        assert "CRIT 1" in str(screen.query_one("#counts").content)
        assert screen.selected_tenant() == "acme-prod"
        await pilot.press("up")
        await settle(pilot)
        assert str(screen.query_one("#why").content) == "delta-deli: db: connection refused"


async def test_filter_by_status_and_tag_then_clear(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"crit", "enter")
        await settle(pilot)
        assert {name for name, _ in table_rows(app)} == {"acme-prod", "corner-cafe", "delta-deli"}
        await pilot.press("slash")
        await pilot.press(*[" ", "e", "u"])
        await settle(pilot)
        assert [name for name, _ in table_rows(app)] == ["acme-prod"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(table_rows(app)) == 6


async def test_keymap_remaps_bindings_by_id(make_app) -> None:
    app = make_app(mixed(), keymap={"help": "f2", "open-tenant": "o"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "o")
        await settle(pilot)
        assert type(app.screen).__name__ == "DetailScreen"


async def test_palette_lists_every_command_of_the_screen(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
    wanted = {c.description for c in COMMANDS if c.scope in ("app", "overview")}
    assert wanted <= titles


def test_every_command_has_a_unique_id_per_scope() -> None:
    seen = {(c.scope, c.id) for c in COMMANDS}
    assert len(seen) == len(COMMANDS)
    assert len({c.id for c in COMMANDS}) == len(COMMANDS)


async def test_q_quits(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_no_color_keeps_status_words(make_app, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        statuses = {status for _, status in table_rows(app)}
    assert statuses == {"✗ CRIT", "! WARN", "? UNKN", "✓ OK"}
