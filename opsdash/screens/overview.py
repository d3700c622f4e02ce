"""The fleet overview: one row per tenant, worst first, header counts, a filter, live updates by diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from opsdash.screens.keymap import bindings
from opsdash.screens.view_model import (
    Column,
    TenantRow,
    build_rows,
    columns_for_width,
    diff_rows,
    filter_rows,
    fit,
    header_counts,
    header_text,
    row_cells,
    sort_rows,
)

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp


def _cell(text: str, width: int) -> Text:
    """A cell as plain text (never markup), cut to its column and followed by a one-space gap."""
    return Text(fit(text, width) + " ", no_wrap=True)


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
        if self.app.screen is self:
            self.refresh_rows()

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
            table.add_column(_cell(column.label, width), key=column.key, width=width + 1)
        self._columns = columns

    def _add(self, key: str, cells: tuple[str, ...]) -> None:
        self.table.add_row(*(_cell(text, w) for text, w in zip(cells, self._widths, strict=True)), key=key)

    def refresh_rows(self) -> None:
        """Recompute rows from the app's latest results and apply the difference to the table."""
        app = self.app
        rows = build_rows(app.fleet.tenants, app.latest.values())
        self._rows = {r.name: r for r in rows}
        self.query_one("#counts", Static).update(header_text(header_counts(rows)))
        shown = sort_rows(filter_rows(rows, self.query_text))
        columns = columns_for_width(self.size.width or 80)
        now = app.clock()
        with app.batch_update():
            if columns is not self._columns:
                self._set_columns(columns)
            rendered = [(r.name, row_cells(r, columns, now)) for r in shown]
            self._apply(rendered)
        self._update_why()

    def _apply(self, rendered: list[tuple[str, tuple[str, ...]]]) -> None:
        table = self.table
        diff = diff_rows(self._rendered, self._order, rendered)
        if diff.empty:
            return
        keys = [c.key for c in self._columns]
        selected = self.selected_tenant()
        if diff.reordered or len(diff.removed) > len(self._order) // 2:
            table.clear()
            for key, cells in rendered:
                self._add(key, cells)
            if selected in self._rendered_keys(rendered):
                table.move_cursor(row=diff.order.index(selected), animate=False)
        else:
            for key in diff.removed:
                table.remove_row(key)
            for key, cells in diff.added:
                self._add(key, cells)
            for key, changed in diff.changed.items():
                for index, text in changed.items():
                    table.update_cell(key, keys[index], _cell(text, self._widths[index]))
        self._rendered = dict(rendered)
        self._order = list(diff.order)

    @staticmethod
    def _rendered_keys(rendered: list[tuple[str, tuple[str, ...]]]) -> set[str]:
        return {key for key, _ in rendered}

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
