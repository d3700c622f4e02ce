"""The help screen: every command with its current keys, what the symbols mean, and the filter syntax."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsdash.screens.keymap import COMMANDS, bindings, keys_for

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp

SCOPE_TITLES = {
    "app": "Everywhere",
    "overview": "Overview",
    "detail": "Tenant detail",
    "audit": "Audit log",
    "form": "Modals and forms",
}
LEGEND = (
    "✓ OK   ! WARN   ✗ CRIT   ? UNKNOWN (not decided)   - no result yet\n"
    "DB / ENV: where a flagged service reads its config; '!' after it: the fallback is not ready\n"
    "Filter (/): a name part or tag; ok, warn, crit, unknown; or tag:x name:x status:x\n"
    'Keys can be remapped in tenants.toml: [keymap] <id> = "keys"; ctrl+p lists every command'
)


def help_table(keymap: dict[str, str]) -> Table:
    table = Table(box=None, padding=(0, 1, 0, 0), show_header=True, expand=True)
    table.add_column("Keys", no_wrap=True, width=14)
    table.add_column("Command", ratio=1)
    table.add_column("id", style="dim", no_wrap=True)
    for scope, title in SCOPE_TITLES.items():
        table.add_row(f"[b]{title}[/b]", "", "")
        for command in COMMANDS:
            if command.scope == scope:
                table.add_row(keys_for(command, keymap), command.description, command.id)
    return table


class HelpScreen(ModalScreen[None]):
    """``?``: the keys, the legend and how to remap."""

    BINDINGS = [*bindings("form")]
    SCOPES: ClassVar[tuple[str, ...]] = ()
    app: OpsdashApp

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal", id="help-body"):
            yield Static("opsdash help  (escape closes)", classes="modal-title")
            yield Static(LEGEND, markup=False)
            yield Static(help_table(dict(self.app.fleet.keymap)))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        self.dismiss(None)
