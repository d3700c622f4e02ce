"""Pilot tests of the app shell: live updates by diff, filter, keymap, palette, help, quit, NO_COLOR."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

from textual.pilot import Pilot

from opsdash.checks.base import CheckResult, Status
from opsdash.screens.fleet_table import FleetTable
from opsdash.screens.help_screen import HelpScreen
from opsdash.screens.keymap import COMMANDS
from opsdash.screens.messages import RowsRendered
from opsdash.screens.overview import OverviewScreen
from opsdash.screens.view_model import render_overview
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


async def test_a_tenant_turning_crit_rings_and_says_so_when_the_store_recorded_no_transition(
    make_app,
) -> None:
    app = make_app(healthy())
    toasts: list[str] = []
    rings: list[None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kwargs: toasts.append(message)
        app.bell = lambda: rings.append(None)
        down = CheckResult(
            tenant="delta-deli", check="db", status=Status.CRIT, summary="connection refused",
            timestamp=NOW - timedelta(seconds=4), error_class="connect",
        )
        post_from_thread(app, [down])
        await settle(pilot)
        assert toasts == ["delta-deli db: CRIT connection refused"]
        assert len(rings) == 1

        still_down = down.model_copy(update={"timestamp": NOW})
        post_from_thread(app, [still_down])
        await settle(pilot)
        assert toasts == ["delta-deli db: CRIT connection refused"]
        assert len(rings) == 1


async def test_checks_turning_crit_soon_after_an_announcement_wait_and_come_together(make_app) -> None:
    app = make_app(healthy())
    app.announce_every_s = 2.0
    toasts: list[str] = []
    rings: list[None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kwargs: toasts.append(message)
        app.bell = lambda: rings.append(None)

        def down(tenant: str, seconds_ago: float, status: Status = Status.CRIT) -> CheckResult:
            return CheckResult(tenant=tenant, check="db", status=status, summary="connection refused",
                               timestamp=NOW - timedelta(seconds=seconds_ago))

        post_from_thread(app, [down("acme-prod", 3)])
        await settle(pilot)
        assert toasts == ["acme-prod db: CRIT connection refused"]
        post_from_thread(app, [down("beta-shop", 3)])
        post_from_thread(app, [down("delta-deli", 3)])
        post_from_thread(app, [down("delta-deli", 2, Status.OK)])
        await settle(pilot)
        assert len(toasts) == 1
        await wait_until(pilot, lambda: len(toasts) > 1, "the second announcement")
        assert toasts[1:] == ["beta-shop db: CRIT connection refused"]
        assert len(rings) == 2


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


async def wait_until(pilot: Pilot, condition, what: str, timeout_s: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.01)


def visible_text(table: FleetTable) -> str:
    """What the table paints now, line by line."""
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


class RecordingEngine:
    """An EngineLike that records what the dashboard asks of it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.checks: list[str | None] = []

    def start(self) -> None:
        self.started.set()

    def stop(self) -> None:
        pass

    def check_now(self, tenant: str | None = None) -> None:
        self.checks.append(tenant)

    def store_refusal(self) -> str | None:
        return None


class RefusingStoreEngine(RecordingEngine):
    """An EngineLike whose results store refuses writes until told otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.refusal: str | None = "OperationalError: database is locked"

    def store_refusal(self) -> str | None:
        return self.refusal


async def test_a_store_refusing_writes_shows_a_badge_and_says_why_until_it_records_again(make_app) -> None:
    engine = RefusingStoreEngine()
    app = make_app(healthy(), engine_factory=lambda on_results: engine)
    toasts: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.engine is engine, "the engine to start")
        app.notify = lambda message, **kwargs: toasts.append(message)
        badge = app.screen.query_one("#store-badge")
        assert not badge.display
        slower = CheckResult(tenant="beta-shop", check="db", status=Status.OK, summary="ok",
                             timestamp=NOW - timedelta(seconds=3))
        post_from_thread(app, [slower])
        await wait_until(pilot, lambda: badge.display, "the store badge")
        assert str(badge.content) == "STORE REFUSES WRITES"
        assert toasts == [
            "the results store refuses writes (OperationalError: database is locked):"
            " results are shown here, not kept"
        ]

        engine.refusal = None
        post_from_thread(app, [slower.model_copy(update={"timestamp": NOW})])
        await wait_until(pilot, lambda: not badge.display, "the store badge to go")
        assert toasts[1:] == ["the results store records again"]


async def test_the_dashboard_starts_the_engine_and_asks_for_no_second_check_of_everyone(make_app) -> None:
    engine = RecordingEngine()
    app = make_app(healthy(), engine_factory=lambda on_results: engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.engine is engine, "the engine to start")
        await app.workers.wait_for_complete()
        assert engine.started.is_set()
        assert engine.checks == []


async def test_results_reach_the_table_through_the_refresh_tick_and_worker(make_app) -> None:
    app = make_app(healthy())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        slower = CheckResult(
            tenant="beta-shop",
            check="db",
            status=Status.WARN,
            summary="slow",
            details={"latency_ms": 900.0},
            timestamp=NOW - timedelta(seconds=3),
        )
        post_from_thread(app, [slower])
        await wait_until(pilot, lambda: app.latest[("beta-shop", "db")] is slower, "the batch to be absorbed")
        screen._tick()
        await settle(pilot)
        rows = table_rows(app)
        assert rows[0] == ("beta-shop", "! WARN")
        assert screen.table.row("beta-shop")[2] == "! 900ms"
        assert "WARN 1" in str(screen.query_one("#counts").content)


async def test_a_stale_rendering_from_an_older_request_is_dropped(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        before = table_rows(app)
        old = render_overview(app.fleet.tenants, [], "", screen._columns_now(), NOW)
        screen.post_message(RowsRendered(old, request=0, query="", base=screen._rendered, diff=None))
        await settle(pilot)
        assert table_rows(app) == before


async def test_rows_off_screen_show_their_new_text_when_scrolled_into_view(make_app) -> None:
    names = [(f"tenant-{i:03d}", ("bulk",)) for i in range(60)]
    results = [
        CheckResult(
            tenant=name,
            check="db",
            status=Status.OK,
            summary="ok",
            details={"latency_ms": 10.0},
            timestamp=NOW - timedelta(seconds=5),
        )
        for name, _ in names
    ]
    app = make_app(results, tenants=names)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.table
        assert table.row_count == 60
        assert "tenant-000" in visible_text(table)
        assert "tenant-059" not in visible_text(table)
        post_from_thread(app, [results[-1].model_copy(update={"details": {"latency_ms": 777.0}})])
        await settle(pilot)
        screen.refresh_rows()
        await settle(pilot)
        await pilot.press("end")
        await settle(pilot)
        assert screen.selected_tenant() == "tenant-059"
        assert "tenant-059" in visible_text(table)
        assert "✓ 777ms" in visible_text(table)
        assert str(screen.query_one("#why").content).startswith("tenant-059:")


async def test_sigterm_makes_the_dashboard_exit_normally(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        installed = signal.getsignal(signal.SIGTERM)
        assert installed not in (signal.SIG_DFL, signal.SIG_IGN, None), "no SIGTERM handler installed"
        os.kill(os.getpid(), signal.SIGTERM)
        await wait_until(pilot, lambda: app._exit, "the app to exit")
    assert app.return_code == 0
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


async def test_ctrl_c_quits(make_app) -> None:
    app = make_app(mixed())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
