"""Tenant detail: one tab per service with flag, source, fields, problems, fallback and live history."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from opsdash.checks.base import CheckResult
from opsdash.screens.detail_model import LIVE_CHECK_OF, ServiceView, service_view, tenant_findings
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import HistoryLoaded
from opsdash.screens.overview import TitleBar
from opsdash.screens.view_model import build_row, status_label, status_symbol

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp

HISTORY_LIMIT = 40
UPTIME_WINDOW = timedelta(hours=24)
TAB_TITLES = {
    "whatsapp": "WhatsApp",
    "whatsapp_otp": "OTP",
    "cloudinary": "Cloudinary",
    "auth": "Auth",
    "email": "Email",
    "business": "Business",
}


def render_service(view: ServiceView, read_only: bool) -> RenderableType:
    """The body of one service tab."""
    head = Text()
    head.append(f"{view.flag_text} → reads {view.source.upper()}")
    if view.flippable:
        hint = "read-only" if read_only else f"f: flip flag to {str(view.target).upper()}"
        head.append(f"   [{hint}]", style="dim")
    lines: list[RenderableType] = [
        head,
        Text(f"config {status_label(view.config_status)}  {view.bar}"),
        Text(view.fallback_text, style="bold" if view.fallback_ready is False else ""),
        Text(view.live_text),
    ]
    if view.history_line:
        lines.append(Text(f"history {view.history_line}"))
    table = Table(box=None, padding=(0, 1, 0, 0), expand=True, show_edge=False)
    table.add_column("Field", no_wrap=True, max_width=27)
    table.add_column("Src", no_wrap=True)
    table.add_column("Value", overflow="fold", ratio=1)
    for line in view.fields:
        problem = line.error or view.problems.get(line.name)
        value = Text(line.value)
        if problem:
            value.append(f"  ✗ {problem}", style="bold")
        table.add_row(line.name, line.source, value)
    lines.append(table)
    if view.findings:
        lines.extend(Text(f) for f in view.findings)
    return Group(*lines)


class DetailScreen(Screen[None]):
    """Everything about one tenant, a service per tab."""

    BINDINGS = bindings("detail")
    SCOPES: ClassVar[tuple[str, ...]] = ("detail",)
    app: OpsdashApp

    def __init__(self, tenant: str) -> None:
        super().__init__()
        self.tenant = tenant
        self.history: dict[str, list[CheckResult]] = {}
        self.uptime: dict[str, float | None] = {}
        self._seen_version = -1
        self.views: dict[str, ServiceView] = {}

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("", id="tenant-head")
        with TabbedContent(id="services"):
            for name in self.app.fleet.catalog:
                with TabPane(TAB_TITLES.get(name, name), id=f"svc-{name}"), VerticalScroll():
                    yield Static("", id=f"body-{name}", classes="service-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#counts", Static).update(f"tenant {self.tenant}")
        self.refresh_views()
        self.load_history()
        self.set_interval(self.app._refresh_s, self._tick)

    def _tick(self) -> None:
        if self.app.results_version != self._seen_version and self.app.screen is self:
            self.refresh_views()
            self.load_history()

    @work(thread=True, exit_on_error=False, exclusive=True, group="history")
    def load_history(self) -> None:
        """Read live-check history and uptime from the store (a thread: the store is SQLite)."""
        source, now = self.app.source, self.app.clock()
        history: dict[str, list[CheckResult]] = {}
        uptime: dict[str, float | None] = {}
        for check in LIVE_CHECK_OF.values():
            history[check] = source.history(self.tenant, check, limit=HISTORY_LIMIT)
            uptime[check] = source.uptime(self.tenant, check, UPTIME_WINDOW, now=now)
        self.post_message(HistoryLoaded(self.tenant, history, uptime))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        self.history, self.uptime = message.history, message.uptime
        self.refresh_views()

    @property
    def active_service(self) -> str:
        return self.query_one("#services", TabbedContent).active.removeprefix("svc-")

    def refresh_views(self) -> None:
        app = self.app
        self._seen_version = app.results_version
        by_check = app.tenant_results(self.tenant)
        tenant = app.fleet.tenant(self.tenant)
        row = build_row(tenant, by_check.values())
        head = Text()
        head.append(f"{self.tenant} ", style="bold")
        head.append(status_label(row.status))
        if tenant.tags:
            head.append(f"  tags {','.join(tenant.tags)}")
        head.append(f"  {tenant.mongo.display}")
        for line in tenant_findings(by_check):
            head.append(f"\n{line}")
        self.query_one("#tenant-head", Static).update(head)
        tabs = self.query_one("#services", TabbedContent)
        for name, spec in app.fleet.catalog.items():
            live = LIVE_CHECK_OF.get(name)
            view = service_view(
                name, spec.title, by_check, self.history.get(live or "", []), self.uptime.get(live or "")
            )
            self.views[name] = view
            self.query_one(f"#body-{name}", Static).update(render_service(view, app.read_only))
            status = view.config_status
            live_result = by_check.get(live) if live else None
            if live_result is not None and (status is None or live_result.status.rank > status.rank):
                status = live_result.status
            tab = tabs.get_tab(f"svc-{name}")
            tab.label = f"{status_symbol(status)} {TAB_TITLES.get(name, name)}"

    # -- actions ---------------------------------------------------------------------------------

    def _move(self, step: int) -> None:
        tabs = self.query_one("#services", TabbedContent)
        ids = [f"svc-{n}" for n in self.app.fleet.catalog]
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def action_next_service(self) -> None:
        self._move(1)

    def action_prev_service(self) -> None:
        self._move(-1)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_check_now(self) -> None:
        self.app.check_now(self.tenant)

    def action_tenant_audit(self) -> None:
        self.app.action_open_audit(self.tenant)

    def action_flip(self) -> None:
        from opsdash.screens.flip_modal import FlipModal

        view = self.views.get(self.active_service)
        if view is None or not view.flippable:
            self.notify(f"{self.active_service} has no feature flag to flip", severity="warning")
            return
        if self.app.backend is None:
            self.notify("no actions backend", severity="warning")
            return
        self.app.push_screen(FlipModal(self.tenant, view), callback=self._after_action)

    def action_edit(self) -> None:
        from opsdash.screens.edit_form import EditForm

        if self.app.backend is None:
            self.notify("no actions backend", severity="warning")
            return
        spec = self.app.fleet.catalog[self.active_service]
        self.app.push_screen(EditForm(self.tenant, spec.name, spec.fields), callback=self._after_action)

    def _after_action(self, applied: bool | None) -> None:
        if applied and self.app.engine is not None:
            self.app.check_now(self.tenant)
