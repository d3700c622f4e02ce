"""OpsdashApp: the on-call dashboard. It holds the latest results and hands them to its screens.

Data comes in through small seams so tests are deterministic: a ``ResultsSource`` (the results store), a
``Backend`` (the actions), a clock, and an optional engine factory whose callback posts messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer

from opsdash.checks.base import CheckResult
from opsdash.config.fleet import Fleet
from opsdash.screens.alarms import ANNOUNCE_EVERY_S, announcements, still_critical, turned_critical
from opsdash.screens.backend import Backend, EngineLike, ResultsCallback, ResultsSource
from opsdash.screens.keymap import bindings, commands_for, unknown_ids
from opsdash.screens.messages import ResultsArrived

TERMINAL_POLL_S = 5.0
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
"""Signals that make the dashboard exit normally (Ctrl+C in a raw-mode terminal arrives as a key)."""
ABSORB_SLICE = 1000
"""Results absorbed per event-loop turn (about 5 ms of work)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class OpsdashApp(App[int]):
    """The fleet dashboard."""

    CSS_PATH = "opsdash.tcss"
    TITLE = "opsdash"
    BINDINGS = bindings("app")
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        fleet: Fleet,
        source: ResultsSource,
        *,
        backend: Backend | None = None,
        clock: Callable[[], datetime] = utc_now,
        engine_factory: Callable[[ResultsCallback], EngineLike] | None = None,
        read_only: bool = False,
        watch_terminal: bool = False,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.source = source
        self.backend = backend
        self.clock = clock
        self.read_only = read_only or bool(backend is not None and backend.read_only)
        self.latest: dict[tuple[str, str], CheckResult] = {}
        self.results_version = 0
        self.engine: EngineLike | None = None
        self.store_refusal: str | None = None
        """Why the engine's results store refuses writes, while it does (shown as a badge)."""
        self.announce_every_s = ANNOUNCE_EVERY_S
        self._unannounced: list[CheckResult] = []
        self._announced_at: float | None = None
        self._announcing: Timer | None = None
        self._engine_factory = engine_factory
        self._watch_terminal = watch_terminal
        self._refresh_s = refresh_s
        self._had_tty = sys.stdin.isatty()
        self._caught_signals: list[signal.Signals] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        from opsdash.screens.overview import OverviewScreen

        self.set_keymap(dict(self.fleet.keymap))
        unknown = unknown_ids(self.fleet.keymap)
        if unknown:
            self.notify(
                f"[keymap] in {self.fleet.path.name}: unknown binding id {', '.join(unknown)}",
                severity="warning",
                timeout=10,
            )
        self.absorb(self.source.latest())
        self.push_screen(OverviewScreen())
        self.call_after_refresh(gc.freeze)
        if self._engine_factory is not None:
            self.start_engine()
        self._catch_signals(STOP_SIGNALS)
        if self._watch_terminal:
            self.set_interval(TERMINAL_POLL_S, self._check_terminal)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._terminal_gone)
                self._caught_signals.append(signal.SIGHUP)

    def _catch_signals(self, signals: Iterable[signal.Signals]) -> None:
        """Turn these signals into a normal exit, so the terminal is restored and whoever ran the app
        (``opsdash dashboard``, ``opsdash demo``) gets to clean up; undone on unmount."""
        loop = asyncio.get_running_loop()
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._exit_on_signal)
                self._caught_signals.append(signum)

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._caught_signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        self._caught_signals.clear()

    @work(thread=True, exit_on_error=False, group="engine")
    def start_engine(self) -> None:
        """Start the engine off the UI thread; its callback only posts messages. Its start is the first
        check of everyone (a sweep of the db and config checks, the integration probes right after);
        asking it for another would only run them twice."""
        assert self._engine_factory is not None
        engine = self._engine_factory(self.post_results)
        try:
            engine.start()
        except Exception as exc:
            self.call_from_thread(self.notify, f"check engine failed to start: {exc}", severity="error")
            return
        self.engine = engine

    def post_results(self, results: list[CheckResult], transitions: list[Any]) -> None:
        """The engine's callback (on its own thread): hand the batch to the UI as a message. The store's
        ``transitions`` are not used: the dashboard judges changes against what it shows (``alarms``)."""
        self.post_message(ResultsArrived(results))

    def _check_terminal(self) -> None:
        if self._had_tty and not sys.stdin.isatty():
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        self.exit(0)

    def _exit_on_signal(self) -> None:
        self.exit(0)

    # -- state -----------------------------------------------------------------------------------

    def absorb(self, results: Iterable[CheckResult]) -> list[CheckResult]:
        """Keep the newest result per (tenant, check); return those that turned their check CRIT."""
        turned: list[CheckResult] = []
        for result in results:
            current = self.latest.get(result.key)
            if current is None or result.timestamp >= current.timestamp:
                if turned_critical(current, result):
                    turned.append(result)
                self.latest[result.key] = result
        self.results_version += 1
        return turned

    def tenant_results(self, tenant: str) -> dict[str, CheckResult]:
        return {check: r for (name, check), r in self.latest.items() if name == tenant}

    @on(ResultsArrived)
    async def _on_results(self, message: ResultsArrived) -> None:
        """Absorb a batch a slice at a time, yielding to the loop in between, so a fleet-wide batch never
        holds up input or painting; then announce the checks that turned CRIT, with one bell."""
        results = message.results
        turned: list[CheckResult] = []
        for start in range(0, len(results), ABSORB_SLICE):
            if start:
                await asyncio.sleep(0)
            turned += self.absorb(results[start : start + ABSORB_SLICE])
        if turned:
            self._unannounced += turned
            self._announce_soon()
        self._note_store()

    def _announce_soon(self) -> None:
        """Announce the checks that turned CRIT now, or when ``announce_every_s`` has passed since the
        last announcement."""
        if self._announcing is not None:
            return
        since = None if self._announced_at is None else time.monotonic() - self._announced_at
        if since is None or since >= self.announce_every_s:
            self._announce()
        else:
            self._announcing = self.set_timer(self.announce_every_s - since, self._announce)

    def _announce(self) -> None:
        """A toast per check that turned CRIT (one for many) and one bell."""
        self._announcing = None
        turned = still_critical(self._unannounced, self.latest)
        self._unannounced = []
        if not turned:
            return
        for text in announcements(turned):
            self.notify(text, severity="error")
        self.bell()
        self._announced_at = time.monotonic()

    def _note_store(self) -> None:
        """Show whether the engine's results store takes the results (read after each batch): a toast
        when it starts or stops refusing, and a badge while it refuses."""
        refusal = self.engine.store_refusal() if self.engine is not None else None
        if refusal == self.store_refusal:
            return
        if refusal is None:
            self.notify("the results store records again")
        elif self.store_refusal is None:
            self.notify(
                f"the results store refuses writes ({refusal}): results are shown here, not kept",
                severity="error",
                timeout=30,
            )
        self.store_refusal = refusal
        for screen in self.screen_stack:
            for badge in screen.query("#store-badge"):
                badge.display = refusal is not None

    # -- actions available everywhere ------------------------------------------------------------

    def action_help(self) -> None:
        from opsdash.screens.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_open_audit(self, tenant: str | None = None) -> None:
        from opsdash.screens.audit_screen import AuditScreen

        if self.backend is None:
            self.notify("no audit log: this dashboard has no actions backend", severity="warning")
            return
        self.push_screen(AuditScreen(tenant))

    def check_now(self, tenant: str | None) -> None:
        if self.engine is None:
            self.notify("no check engine is running", severity="warning")
            return
        try:
            self.engine.check_now(tenant)
        except RuntimeError as exc:
            self.notify(f"cannot check now: {exc}", severity="warning")
            return
        self.notify(f"checking {tenant or 'every tenant'} now")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every dashboard command that applies to the current screen, then Textual's own."""
        scopes = ["app", *getattr(screen, "SCOPES", ())]
        for command in commands_for(scopes):
            target = screen if command.scope != "app" else self
            yield SystemCommand(
                command.description,
                f"{command.id} ({command.keys})",
                partial(target.run_action, command.action),
            )
        yield from super().get_system_commands(screen)
