"""The fleet overview: one row per tenant, worst first, header counts, a filter, live updates by diff."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from opsdash.checks.base import CheckResult
from opsdash.screens.fleet_table import FleetTable
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import RowsRendered
from opsdash.screens.view_model import (
    Column,
    OverviewRendering,
    TableDiff,
    TenantRow,
    columns_for_width,
    diff_rows,
    header_text,
    render_overview,
)

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp

RowsInput = tuple[int, list[CheckResult], str, tuple[Column, ...], dict[str, tuple[str, ...]]]
"""What a rows worker needs: request number, results, filter, columns and the rows the table shows."""


class TitleBar(Horizontal):
    """App name, counts, and the badges for a results store that refuses writes and for READ-ONLY."""

    app: OpsdashApp

    def compose(self) -> ComposeResult:
        yield Static("opsdash", id="app-name")
        yield Static("", id="counts")
        yield Static("STORE REFUSES WRITES", id="store-badge")
        yield Static("READ-ONLY", id="read-only-badge")

    def on_mount(self) -> None:
        self.query_one("#store-badge").display = self.app.store_refusal is not None
        self.query_one("#read-only-badge").display = self.app.read_only


class OverviewScreen(Screen[None]):
    """The screen an on-call engineer sees first."""

    BINDINGS = bindings("overview")
    SCOPES: ClassVar[tuple[str, ...]] = ("overview",)
    app: OpsdashApp

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self._columns: tuple[Column, ...] = ()
        self._rendered: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []
        self._rows: dict[str, TenantRow] = {}
        self._ticked_at: object = None
        self._requested = 0
        self._shown_request = 0
        self._laid_out_width = 0
        self._rows_input: deque[RowsInput] = deque(maxlen=1)

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield FleetTable(id="fleet")
        yield Static("", id="why")
        yield Input(placeholder="filter: name, tag, ok/warn/crit/unknown, tag:x", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.request_rows()
        self.set_interval(self.app._refresh_s, self._tick)

    def _tick(self) -> None:
        """Throttled refresh: at most once per interval, off the event loop, only when something moved."""
        if self.app.screen is not self or self._stamp() == self._ticked_at:
            return
        self.request_rows()

    def _stamp(self) -> tuple[object, ...]:
        app = self.app
        return (app.results_version, int(app.clock().timestamp()), self.query_text, self._columns_now())

    @property
    def table(self) -> FleetTable:
        return self.query_one("#fleet", FleetTable)

    def on_screen_resume(self) -> None:
        self.request_rows()

    def on_resize(self, event: Resize) -> None:
        self.request_rows()

    # -- rendering -------------------------------------------------------------------------------

    def _set_columns(self, columns: tuple[Column, ...]) -> None:
        used = sum((c.width or 0) + 1 for c in columns)
        widths = [c.width if c.width is not None else max(10, self.size.width - used - 3) for c in columns]
        self.table.set_columns((c.label, width) for c, width in zip(columns, widths, strict=True))
        self._rendered, self._order = {}, []
        self._columns = columns
        self._laid_out_width = self.size.width

    def _columns_now(self) -> tuple[Column, ...]:
        return columns_for_width(self.size.width or 80)

    def request_rows(self) -> None:
        """Recompute the overview in a worker thread; rows, sort, filter and the diff against what the
        table shows all happen off the event loop, which only applies the diff."""
        self._ticked_at = self._stamp()
        self._requested += 1
        inputs = (self._requested, list(self.app.latest.values()), self.query_text, self._columns_now())
        self._rows_input.append((*inputs, self._rendered))
        self.compute_rows()

    def refresh_rows(self) -> None:
        """Recompute the overview now, on the event loop, and apply it (tests use it to force a refresh)."""
        app = self.app
        self._requested += 1
        self._shown_request = self._requested
        self.apply_rendering(
            render_overview(
                app.fleet.tenants,
                list(app.latest.values()),
                self.query_text,
                self._columns_now(),
                app.clock(),
            )
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview-rows")
    def compute_rows(self) -> None:
        """Compute the latest requested rendering and its diff against the rows the table showed when it was
        requested (display order is their key order; the screen replaces that dict, never mutates it).

        The inputs travel through a one-slot deque, not as arguments: a finished worker lingers in a
        reference cycle until a full garbage collection, and would keep a whole batch of results alive."""
        try:
            request, results, query, columns, shown = self._rows_input.pop()
        except IndexError:
            return
        rendering = render_overview(self.app.fleet.tenants, results, query, columns, self.app.clock())
        del results
        diff = diff_rows(shown, list(shown), rendering.rendered)
        self.post_message(RowsRendered(rendering, request=request, query=query, base=shown, diff=diff))

    @on(RowsRendered)
    def _rows_rendered(self, message: RowsRendered) -> None:
        stale = (
            message.request <= self._shown_request
            or message.query != self.query_text
            or message.rendering.columns is not self._columns_now()
        )
        if stale:
            return
        self._shown_request = message.request
        diff = message.diff if message.base is self._rendered else None
        self.apply_rendering(message.rendering, diff)

    def apply_rendering(self, rendering: OverviewRendering, diff: TableDiff | None = None) -> None:
        """Show a rendering: header counts, then the table changed by diff (``diff`` when a worker already
        computed it against what the table shows)."""
        self._rows = dict(rendering.rows)
        self.query_one("#counts", Static).update(header_text(rendering.counts))
        with self.app.batch_update():
            if rendering.columns is not self._columns or self.size.width != self._laid_out_width:
                self._set_columns(rendering.columns)
                diff = None
            self._apply(rendering.rendered, diff)
        self._update_why()

    def _apply(self, rendered: list[tuple[str, tuple[str, ...]]], diff: TableDiff | None) -> None:
        """Change the table by diff, keyed by tenant: only changed cells are touched, rows off screen are
        not painted, and the cursor stays on its tenant when the order changes."""
        table = self.table
        if diff is None:
            diff = diff_rows(self._rendered, self._order, rendered)
        if diff.empty:
            return
        table.remove_rows(diff.removed)
        table.add_rows(diff.added)
        table.update_cells(diff.changed)
        table.set_order(diff.order)
        self._rendered = dict(rendered)
        self._order = list(diff.order)

    def selected_tenant(self) -> str | None:
        return self.table.cursor_key

    def _update_why(self) -> None:
        name = self.selected_tenant()
        row = self._rows.get(name) if name else None
        why = self.query_one("#why", Static)
        if row is None:
            why.update("no tenant matches the filter" if self.query_text else "no tenants")
            return
        why.update(f"{name}: {row.reason}")

    @on(FleetTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._update_why()

    @on(FleetTable.RowSelected)
    def _selected(self) -> None:
        self.action_open_tenant()

    # -- actions ---------------------------------------------------------------------------------

    def action_open_tenant(self) -> None:
        from opsdash.screens.detail import DetailScreen

        name = self.selected_tenant()
        if name is not None:
            self.app.push_screen(DetailScreen(name))

    def action_start_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        self._set_query("")
        box.display = False
        self.table.focus()

    def action_check_now(self) -> None:
        self.app.check_now(self.selected_tenant())

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_query(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.table.focus()

    def _set_query(self, text: str) -> None:
        self.query_text = text
        self.refresh_rows()
