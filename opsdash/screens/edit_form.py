"""The edit form: Company fields of one service, inline validation, masked secrets, a diff to confirm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from opsdash.config.company import is_secret
from opsdash.redact import mask_secret
from opsdash.screens.flip_modal import outcome_text
from opsdash.screens.forms import (
    check_text,
    diff_lines,
    expected_values,
    form_errors,
    initial_texts,
    pending_changes,
)
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import ActionDone

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp


def secret_placeholder(value: Any) -> str:
    masked = mask_secret(value)
    shown = "unset" if masked is None else masked.strip("<>")
    return f"unchanged ({shown})"


class EditForm(ModalScreen[bool]):
    """Edit one or several Company fields of a tenant; dismisses with whether an edit was applied."""

    BINDINGS = bindings("form")
    SCOPES: ClassVar[tuple[str, ...]] = ("form",)
    app: OpsdashApp

    def __init__(self, tenant: str, service: str, fields: Sequence[str]) -> None:
        super().__init__()
        self.tenant = tenant
        self.service = service
        self.fields = tuple(fields)
        self.company: dict[str, Any] | None = None
        self.initial: dict[str, str] = {}
        self.reviewed: dict[str, str] | None = None
        self.applied = False
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(
                f"Edit {self.service} fields of {self.tenant} (Company document)", classes="modal-title"
            )
            yield Static("Reading the Company document…", id="status")
            with VerticalScroll(id="edit-fields"):
                for name in self.fields:
                    with Horizontal(classes="field-row"):
                        yield Label(name, classes="field-label")
                        yield Input(
                            id=f"in-{name}",
                            password=is_secret(name),
                            classes="field-input compact",
                            disabled=True,
                        )
                    yield Static("", id=f"err-{name}", classes="field-error")
            yield Input(
                placeholder="reason (required, goes to the audit log)", id="reason", classes="compact"
            )
            yield Static("", id="diff", classes="outcome")
            with Horizontal(classes="buttons"):
                yield Button("Review (ctrl+s)", id="review", variant="primary")
                yield Button("Write", id="confirm", variant="warning")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        for name in self.fields:
            self.query_one(f"#err-{name}").display = False
        self.query_one("#diff").display = False
        self.query_one("#confirm").display = False
        refusal = self.app.backend.refusal() if self.app.backend else "no actions backend"
        if refusal:
            self.query_one("#status", Static).update(f"READ-ONLY: {refusal}")
            self.query_one("#status").add_class("refusal")
            self.query_one("#review").display = False
            self.query_one("#reason").display = False
            self.query_one("#close", Button).focus()
            return
        self.read_company()

    @work(thread=True, exit_on_error=False, group="edit")
    def read_company(self) -> None:
        try:
            company = self.app.backend.read_company(self.tenant)
        except Exception as exc:
            self.post_message(ActionDone("read", error=str(exc)))
            return
        self.post_message(ActionDone("read", company))

    @work(thread=True, exit_on_error=False, group="edit", description="edit: write")
    def write(self, changes: dict[str, str], reason: str, expected: dict[str, Any]) -> None:
        try:
            outcome = self.app.backend.edit(self.tenant, changes, reason=reason, expected=expected)
        except Exception as exc:
            self.post_message(ActionDone("edit", error=str(exc)))
            return
        self.post_message(ActionDone("edit", outcome))

    def _current(self) -> dict[str, str]:
        return {name: self.query_one(f"#in-{name}", Input).value for name in self.fields}

    @on(ActionDone)
    def _done(self, message: ActionDone) -> None:
        status = self.query_one("#status", Static)
        if message.kind == "read":
            if message.error:
                status.update(f"Cannot edit: {message.error}")
                status.add_class("refusal")
                return
            first_read = self.company is None
            self.company = dict(message.value)
            self.initial = initial_texts(self.fields, self.company)
            for name in self.fields:
                box = self.query_one(f"#in-{name}", Input)
                box.disabled = False
                if is_secret(name):
                    box.placeholder = secret_placeholder(self.company.get(name))
                elif first_read:
                    box.value = self.initial[name]
            if first_read:
                status.update("Change one or several fields, give a reason, then review (ctrl+s).")
                self.query_one(f"#in-{self.fields[0]}", Input).focus()
            return
        self.busy = False
        diff = self.query_one("#diff", Static)
        diff.display = True
        if message.error:
            diff.update(f"FAILED: {message.error}")
            return
        outcome = message.value
        if outcome.outcome == "conflict":
            diff.update(
                f"CONFLICT: the Company document changed since this form was opened ({outcome.message}). "
                "The form now holds the current values: review again."
            )
            self.reviewed = None
            self.query_one("#confirm").display = False
            self.read_company()
            return
        diff.update(outcome_text(outcome))
        if outcome.outcome == "applied":
            self.applied = True
            self.query_one("#confirm").display = False
            self.query_one("#review").display = False
            self.query_one("#close", Button).focus()

    @on(Input.Changed, ".field-input")
    def _validate(self, event: Input.Changed) -> None:
        name = str(event.input.id).removeprefix("in-")
        error = self.query_one(f"#err-{name}", Static)
        reason = check_text(name, event.value) if self.company is not None else None
        error.update(f"✗ {reason}" if reason else "")
        error.display = bool(reason)
        if self.reviewed is not None:
            self.reviewed = None
            self.query_one("#confirm").display = False
            self.query_one("#diff").display = False

    def action_submit(self) -> None:
        if self.company is None or self.applied or self.busy or not self.query_one("#review").display:
            return
        if self.reviewed is not None:
            self._write()
            return
        diff = self.query_one("#diff", Static)
        diff.display = True
        current = self._current()
        changes = pending_changes(self.initial, current)
        errors = form_errors({k: current[k] for k in changes})
        if errors:
            diff.update("Fix first: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
            return
        if not changes:
            diff.update("Nothing changed.")
            return
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            diff.update("A reason is required: it goes to the audit log.")
            self.query_one("#reason", Input).focus()
            return
        self.reviewed = changes
        diff.update(
            "Will write:\n" + "\n".join(diff_lines(changes, self.company)) + "\nctrl+s or Write to apply."
        )
        self.query_one("#confirm").display = True
        self.query_one("#confirm", Button).focus()

    def _write(self) -> None:
        assert self.reviewed is not None and self.company is not None
        reason = self.query_one("#reason", Input).value.strip()
        self.busy = True
        self.query_one("#diff", Static).update("Writing…")
        self.write(dict(self.reviewed), reason, expected_values(self.reviewed, self.company))

    def action_cancel(self) -> None:
        self.dismiss(self.applied)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#review")
    def _review(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        if self.reviewed is not None:
            self._write()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(self.applied)
