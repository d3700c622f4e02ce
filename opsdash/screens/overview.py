"""The fleet overview: one row per tenant, worst first, header counts, a filter, live updates by diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from opsdash.checks.base import CheckResult
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import RowsRendered
from opsdash.screens.view_model import (
    Column,
    OverviewRendering,
    TenantRow,
    columns_for_width,
    diff_rows,
    fit,
    header_text,
    render_overview,
)

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp


def _cell(text: str, width: int) -> Text:
    """A cell as plain text (never markup), cut to its column and followed by a one-space gap."""
    return Text(fit(text, width) + " ", no_wrap=True)


class _TenantCell(Text):
    """The tenant cell, carrying its row key so the table can be re-sorted without rebuilding it."""

    def __init__(self, text: str, tenant: str) -> None:
        super().__init__(text, no_wrap=True)
        self.tenant = tenant


class TitleBar(Horizontal):
    """App name, counts and the READ-ONLY badge."""

    def compose(self) -> ComposeResult:
        yield Static("opsdash", id="app-name")
        yield Static("", id="counts")
        yield Static("READ-ONLY", id="read-only-badge")


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
        self._widths: list[int] = []
        self._tenant_index = 1
        self._ticked_at: object = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        table: DataTable[str] = DataTable(id="fleet", cursor_type="row", cell_padding=0, zebra_stripes=False)
        yield table
        yield Static("", id="why")
        yield Input(placeholder="filter: name, tag, ok/warn/crit/unknown, tag:x", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#read-only-badge").display = self.app.read_only
        self.query_one("#filter", Input).display = False
        self.refresh_rows()
        self.set_interval(self.app._refresh_s, self._tick)

    def _tick(self) -> None:
        """Throttled refresh: at most once per interval, off the event loop, only when something moved."""
        app = self.app
        if app.screen is not self:
            return
        stamp = (app.results_version, int(app.clock().timestamp()), self.query_text, self._columns_now())
        if stamp == self._ticked_at:
            return
        self._ticked_at = stamp
        self.compute_rows(list(app.latest.values()), self.query_text, self._columns_now())

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#fleet", DataTable)

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def on_resize(self, event: Resize) -> None:
        self.refresh_rows()

    # -- rendering -------------------------------------------------------------------------------

    def _set_columns(self, columns: tuple[Column, ...]) -> None:
        table = self.table
        table.clear(columns=True)
        self._rendered, self._order = {}, []
        used = sum((c.width or 0) + 1 for c in columns)
        self._widths = []
        for column in columns:
            width = column.width if column.width is not None else max(10, self.size.width - used - 3)
            self._widths.append(width)
            if column.key == "tenant":
                self._tenant_index = len(self._widths) - 1
            table.add_column(_cell(column.label, width), key=column.key, width=width + 1)
        self._columns = columns

    def _add(self, key: str, cells: tuple[str, ...]) -> None:
        self.table.add_row(*self._cells(key, cells), key=key)

    def _cells(self, key: str, cells: tuple[str, ...]) -> list[Text]:
        out = [_cell(text, width) for text, width in zip(cells, self._widths, strict=True)]
        out[self._tenant_index] = _TenantCell(out[self._tenant_index].plain, key)
        return out

    def _columns_now(self) -> tuple[Column, ...]:
        return columns_for_width(self.size.width or 80)

    def refresh_rows(self) -> None:
        """Recompute the overview now, on the event loop, and apply it (used at mount and by tests)."""
        app = self.app
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
    def compute_rows(self, results: list[CheckResult], query: str, columns: tuple[Column, ...]) -> None:
        """Compute the rendering in a thread; only the diff is applied on the event loop."""
        rendering = render_overview(self.app.fleet.tenants, results, query, columns, self.app.clock())
        self.post_message(RowsRendered(rendering))

    @on(RowsRendered)
    def _rows_rendered(self, message: RowsRendered) -> None:
        if message.rendering.columns is self._columns_now():
            self.apply_rendering(message.rendering)

    def apply_rendering(self, rendering: OverviewRendering) -> None:
        """Show a rendering: header counts, then the table changed by diff inside one batch update."""
        self._rows = dict(rendering.rows)
        self.query_one("#counts", Static).update(header_text(rendering.counts))
        with self.app.batch_update():
            if rendering.columns is not self._columns:
                self._set_columns(rendering.columns)
            self._apply(rendering.rendered)
        self._update_why()

    def _apply(self, rendered: list[tuple[str, tuple[str, ...]]]) -> None:
        table = self.table
        diff = diff_rows(self._rendered, self._order, rendered)
        if diff.empty:
            return
        keys = [c.key for c in self._columns]
        selected = self.selected_tenant()
        if len(diff.removed) > len(self._order) // 2:
            table.clear()
            for key, cells in rendered:
                self._add(key, cells)
        else:
            for key in diff.removed:
                table.remove_row(key)
            for key, cells in diff.added:
                self._add(key, cells)
            for key, changed in diff.changed.items():
                for index, text in changed.items():
                    value = _cell(text, self._widths[index])
                    if index == self._tenant_index:
                        value = _TenantCell(value.plain, key)
                    table.update_cell(key, keys[index], value)
            if diff.reordered:
                position = {key: i for i, key in enumerate(diff.order)}
                table.sort("tenant", key=lambda cell: position[cell.tenant])
        self._rendered = dict(rendered)
        self._order = list(diff.order)
        if selected is not None and selected in self._rendered:
            table.move_cursor(row=diff.order.index(selected), animate=False)

    def selected_tenant(self) -> str | None:
        table = self.table
        if not self._order or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    def _update_why(self) -> None:
        name = self.selected_tenant()
        row = self._rows.get(name) if name else None
        why = self.query_one("#why", Static)
        if row is None:
            why.update("no tenant matches the filter" if self.query_text else "no tenants")
            return
        why.update(f"{name}: {row.reason}")

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._update_why()

    @on(DataTable.RowSelected)
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
