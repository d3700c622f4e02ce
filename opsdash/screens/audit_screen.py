"""The audit log: every flip, edit and undo, newest first, filterable by tenant, with undo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Static

from opsdash.screens.flip_modal import outcome_text
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import ActionDone
from opsdash.screens.overview import TitleBar

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp

AUDIT_COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("time", "Time (UTC)", 16),
    ("tenant", "Tenant", 12),
    ("action", "Action", 6),
    ("subject", "Subject", 18),
    ("outcome", "Outcome", 8),
    ("who", "By / reason", None),
)


def audit_cells(record: Any) -> tuple[str, ...]:
    """One audit record as table cells; changes are never shown here (secrets stay in the record)."""
    subject = getattr(record, "subject", None)
    subject = subject() if callable(subject) else subject
    if not subject:
        subject = record.service or ",".join(record.fields) or ""
    operator = getattr(record.operator, "user", str(record.operator))
    return (
        record.time.strftime("%Y-%m-%d %H:%M"),
        record.tenant,
        record.action,
        str(subject),
        record.outcome,
        f"{operator}: {record.reason}",
    )


def filter_records(records: Sequence[Any], tenant_text: str) -> list[Any]:
    text = tenant_text.strip().lower()
    ordered = sorted(records, key=lambda r: r.time, reverse=True)
    return [r for r in ordered if text in r.tenant.lower()] if text else ordered


class ConfirmUndo(ModalScreen[bool]):
    """Ask before undoing: an undo is a write like any other."""

    BINDINGS = bindings("form")
    SCOPES: ClassVar[tuple[str, ...]] = ("form",)

    def __init__(self, record: Any) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        cells = audit_cells(self.record)
        with Vertical(classes="modal"):
            yield Static(f"Undo {cells[2]} of {cells[3]} on {cells[1]} ({cells[0]})?", classes="modal-title")
            yield Static(f"audit id {self.record.id}; the undo is audited too.")
            with Horizontal(classes="buttons"):
                yield Button("Undo (ctrl+s)", id="yes", variant="warning")
                yield Button("Cancel", id="no")

    def action_submit(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class AuditScreen(Screen[None]):
    """Audit records from the tenants' databases and the local log."""

    BINDINGS = bindings("audit")
    SCOPES: ClassVar[tuple[str, ...]] = ("audit",)
    app: OpsdashApp

    def __init__(self, tenant: str | None = None) -> None:
        super().__init__()
        self.tenant_text = tenant or ""
        self.records: list[Any] = []
        self.shown: list[Any] = []

    def compose(self) -> ComposeResult:
        yield TitleBar()
        table: DataTable[str] = DataTable(id="audit-table", cursor_type="row", cell_padding=0)
        yield table
        yield Static("Loading the audit log…", id="audit-status")
        yield Input(value=self.tenant_text, placeholder="tenant filter", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#counts", Static).update("audit log")
        self.query_one("#filter").display = bool(self.tenant_text)
        table = self.query_one("#audit-table", DataTable)
        used = sum((w or 0) + 1 for _, _, w in AUDIT_COLUMNS)
        for key, label, width in AUDIT_COLUMNS:
            table.add_column(label, key=key, width=(width or max(12, self.size.width - used - 3)) + 1)
        table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="audit")
    def load(self) -> None:
        try:
            records = list(self.app.backend.list_audit(None))
        except Exception as exc:
            self.post_message(ActionDone("audit", error=str(exc)))
            return
        self.post_message(ActionDone("audit", records))

    @work(thread=True, exit_on_error=False, group="audit-undo")
    def run_undo(self, audit_id: str) -> None:
        try:
            outcome = self.app.backend.undo(audit_id)
        except Exception as exc:
            self.post_message(ActionDone("undo", error=str(exc)))
            return
        self.post_message(ActionDone("undo", outcome))

    @on(ActionDone)
    def _done(self, message: ActionDone) -> None:
        status = self.query_one("#audit-status", Static)
        if message.kind == "audit":
            if message.error:
                status.update(f"Cannot read the audit log: {message.error}")
                return
            self.records = message.value
            self._show()
            return
        if message.error:
            status.update(f"Undo FAILED: {message.error}")
            self.notify(f"undo failed: {message.error}", severity="error")
            return
        status.update(outcome_text(message.value).replace("\n", " · "))
        self.load()

    def _show(self) -> None:
        self.shown = filter_records(self.records, self.tenant_text)
        table = self.query_one("#audit-table", DataTable)
        with self.app.batch_update():
            table.clear()
            for record in self.shown:
                table.add_row(*audit_cells(record), key=record.id)
        where = f" for '{self.tenant_text}'" if self.tenant_text else ""
        self.query_one("#audit-status", Static).update(
            f"{len(self.shown)} of {len(self.records)} records{where} · u undoes the selected one"
        )

    def selected(self) -> Any | None:
        table = self.query_one("#audit-table", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def action_undo(self) -> None:
        record = self.selected()
        if record is None:
            return
        refusal = self.app.backend.refusal() if self.app.backend else "no actions backend"
        if refusal:
            self.query_one("#audit-status", Static).update(f"READ-ONLY: {refusal}")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.query_one("#audit-status", Static).update(f"Undoing {record.id}…")
                self.run_undo(record.id)

        self.app.push_screen(ConfirmUndo(record), callback=confirmed)

    def action_start_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#filter"):
            self.query_one("#audit-table").focus()
            return
        self.app.pop_screen()

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.tenant_text = event.value
        self._show()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#audit-table").focus()
