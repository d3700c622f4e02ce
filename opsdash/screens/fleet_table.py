"""FleetTable: the overview's table, a line-API widget that paints only the lines on screen.

Rows are keyed by tenant and hold plain cell texts; a row costs a tuple of strings until it is scrolled into
view, and a change to a row off screen repaints nothing. Textual's DataTable renders every visible cell
through Rich after any update, which at 1,000 rows blocked the event loop for hundreds of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opsdash.screens.view_model import table_line


class FleetTable(ScrollView, can_focus=True):
    """A header line and one line per row, with a row cursor that stays on its key when rows reorder."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-table--header", "fleet-table--cursor"}
    DEFAULT_CSS = """
    FleetTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .fleet-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .fleet-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .fleet-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .fleet-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .fleet-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor moved to another row (``key`` is None when the table is empty)."""

        def __init__(self, table: FleetTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FleetTable:
            return self.table

    class RowSelected(Message):
        """A row was clicked."""

        def __init__(self, table: FleetTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FleetTable:
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._labels: tuple[str, ...] = ()
        self._widths: tuple[int, ...] = ()
        self._cells: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._cursor = 0

    # -- data ------------------------------------------------------------------------------------

    def set_columns(self, columns: Iterable[tuple[str, int]]) -> None:
        """New columns as (label, width); every row is dropped."""
        pairs = list(columns)
        self._labels = tuple(label for label, _ in pairs)
        self._widths = tuple(width for _, width in pairs)
        self._cells, self._order, self._index = {}, [], {}
        self._cursor = 0
        self._resize()
        self.refresh()

    def add_rows(self, rows: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Add rows at the end (``set_order`` places them); a key already held is replaced in place."""
        for key, cells in rows:
            if key not in self._cells:
                self._index[key] = len(self._order)
                self._order.append(key)
            self._cells[key] = tuple(cells)
        self._resize()
        self.refresh()

    def remove_rows(self, keys: Iterable[str]) -> None:
        gone = {key for key in keys if key in self._cells}
        if not gone:
            return
        current = self.cursor_key
        for key in gone:
            del self._cells[key]
        self._reorder([key for key in self._order if key not in gone], current)

    def update_cells(self, changes: Mapping[str, Mapping[int, str]]) -> None:
        """Change some cells of some rows (by key, then column index); only rows on screen are repainted,
        the others show their new text when scrolled into view."""
        top, height = int(self.scroll_offset.y), self._body_height()
        for key, changed in changes.items():
            cells = list(self._cells[key])
            for index, text in changed.items():
                cells[index] = text
            self._cells[key] = tuple(cells)
            row = self._index[key]
            if top <= row < top + height:
                self.refresh_lines(row + 1)

    def set_order(self, order: Sequence[str]) -> None:
        """Show the rows in ``order`` (exactly the keys the table holds); the cursor keeps its row."""
        if list(order) == self._order:
            return
        if set(order) != self._cells.keys():
            raise ValueError("set_order needs exactly the keys the table holds")
        self._reorder(list(order), self.cursor_key)

    def _reorder(self, order: list[str], keep: str | None) -> None:
        self._order = order
        self._index = {key: i for i, key in enumerate(order)}
        if keep is not None and keep in self._index:
            self._cursor = self._index[keep]
        self._cursor = max(0, min(self._cursor, len(order) - 1))
        self._resize()
        self._scroll_to_cursor()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._order)

    def row(self, key: str) -> tuple[str, ...]:
        return self._cells[key]

    def row_at(self, index: int) -> tuple[str, ...]:
        return self._cells[self._order[index]]

    # -- cursor ----------------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor if self._order else -1

    @property
    def cursor_key(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row ``row`` (clamped), scroll it into view and say so."""
        if not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row == self._cursor:
            self._scroll_to_cursor()
            return
        old, self._cursor = self._cursor, row
        self.refresh_lines(old + 1)
        self.refresh_lines(row + 1)
        self._scroll_to_cursor()
        self.post_message(self.RowHighlighted(self, self.cursor_key))

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._body_height())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._body_height())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= row < len(self._order):
            self.move_cursor(row)
            self.post_message(self.RowSelected(self, self._order[row]))

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # -- painting --------------------------------------------------------------------------------

    def _resize(self) -> None:
        width = sum(w + 1 for w in self._widths)
        self.virtual_size = Size(width, len(self._order) + 1)

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top, height = int(self.scroll_offset.y), self._body_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            text = table_line(self._labels, self._widths)
            style = base + self.get_component_rich_style("fleet-table--header")
        else:
            row = scroll_y + y - 1
            if row >= len(self._order):
                return Strip.blank(width, base)
            text = table_line(self._cells[self._order[row]], self._widths)
            style = self._cursor_style() if row == self._cursor else base
        strip = Strip([Segment(text, style)], self.virtual_size.width)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _cursor_style(self) -> Style:
        return self.rich_style + self.get_component_rich_style("fleet-table--cursor")
