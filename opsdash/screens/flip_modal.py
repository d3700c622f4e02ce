"""The flip modal: preflight result, a reason, a confirm, and the outcome. Viewers are refused with why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from opsdash.screens.detail_model import ServiceView
from opsdash.screens.keymap import bindings
from opsdash.screens.messages import ActionDone
from opsdash.screens.view_model import status_label

if TYPE_CHECKING:
    from opsdash.screens.app import OpsdashApp


def preflight_text(preflight: Any, target: str) -> str:
    """``ready`` or the list of problems, plus the probe of the target config when there was one."""
    if preflight.ok:
        text = f"Preflight: ✓ {target.upper()} config is complete and valid"
    else:
        problems = ", ".join(f"{k}: {v}" for k, v in preflight.problems.items()) or "not ready"
        text = f"Preflight: ✗ NOT ready: {problems}"
    probe = getattr(preflight, "probe", None)
    if probe is not None:
        text += f"\nProbe of {target.upper()} config: {status_label(probe.status)} {probe.summary}"
    return text


def outcome_text(outcome: Any) -> str:
    text = f"{outcome.outcome.upper()}: {outcome.message}"
    if getattr(outcome, "redeploy_needed", False):
        text += "\nThe deployment must be redeployed for the app to read the new value."
    if getattr(outcome, "audit_id", ""):
        text += f"\naudit id {outcome.audit_id}"
    return text


class FlipModal(ModalScreen[bool]):
    """Flip one service's flag for one tenant; dismisses with whether a flip was applied."""

    BINDINGS = bindings("form")
    SCOPES: ClassVar[tuple[str, ...]] = ("form",)
    app: OpsdashApp

    def __init__(self, tenant: str, view: ServiceView) -> None:
        super().__init__()
        self.tenant = tenant
        self.view = view
        self.target = str(view.target)
        self.preflight: Any = None
        self.applied = False
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal"):
            yield Static(
                f"Flip {self.view.title} for {self.tenant} to {self.target.upper()}", classes="modal-title"
            )
            yield Static(f"now: {self.view.flag_text}, reads {self.view.source.upper()}", id="flag-now")
            yield Static("Preflight: running…", id="preflight")
            yield Static("", id="refusal", classes="refusal")
            yield Input(
                placeholder="reason (required, goes to the audit log)", id="reason", classes="compact"
            )
            yield Checkbox("force: flip although preflight failed", id="force")
            yield Static("", id="outcome", classes="outcome")
            with Horizontal(classes="buttons"):
                yield Button("Flip", id="confirm", variant="warning")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#force", Checkbox).display = False
        self.query_one("#outcome").display = False
        self.query_one("#refusal").display = False
        refusal = self.app.backend.refusal() if self.app.backend else "no actions backend"
        if refusal:
            self._refuse(refusal)
            return
        self.query_one("#reason", Input).focus()
        self.run_preflight()

    def _refuse(self, why: str) -> None:
        self.query_one("#refusal", Static).update(f"READ-ONLY: {why}")
        self.query_one("#refusal").display = True
        self.query_one("#reason").display = False
        self.query_one("#confirm", Button).display = False
        self.query_one("#preflight", Static).update("Preflight: not run (writes are refused)")
        self.query_one("#close", Button).focus()

    @work(thread=True, exit_on_error=False, group="flip")
    def run_preflight(self) -> None:
        try:
            result = self.app.backend.preflight_flip(self.tenant, self.view.service, self.target)
        except Exception as exc:
            self.post_message(ActionDone("preflight", error=str(exc)))
            return
        self.post_message(ActionDone("preflight", result))

    @work(thread=True, exit_on_error=False, group="flip")
    def run_flip(self, reason: str, force: bool) -> None:
        try:
            result = self.app.backend.flip(
                self.tenant, self.view.service, self.target, reason=reason, force=force
            )
        except Exception as exc:
            self.post_message(ActionDone("flip", error=str(exc)))
            return
        self.post_message(ActionDone("flip", result))

    @on(ActionDone)
    def _done(self, message: ActionDone) -> None:
        if message.kind == "preflight":
            if message.error:
                self.query_one("#preflight", Static).update(f"Preflight: failed to run: {message.error}")
                self.query_one("#force", Checkbox).display = True
                return
            self.preflight = message.value
            self.query_one("#preflight", Static).update(preflight_text(message.value, self.target))
            self.query_one("#force", Checkbox).display = not message.value.ok
            return
        self.busy = False
        box = self.query_one("#outcome", Static)
        box.display = True
        if message.error:
            box.update(f"FAILED: {message.error}")
            return
        outcome = message.value
        box.update(outcome_text(outcome))
        if outcome.outcome == "applied":
            self.applied = True
            self.query_one("#confirm", Button).display = False
            self.query_one("#reason").display = False
            self.query_one("#force").display = False
            self.query_one("#close", Button).focus()

    def action_submit(self) -> None:
        if self.applied or self.busy or not self.query_one("#confirm", Button).display:
            return
        reason = self.query_one("#reason", Input).value.strip()
        box = self.query_one("#outcome", Static)
        box.display = True
        if not reason:
            box.update("A reason is required: it goes to the audit log.")
            self.query_one("#reason", Input).focus()
            return
        if self.preflight is None:
            box.update("Wait for the preflight to finish.")
            return
        force = self.query_one("#force", Checkbox).value
        if not self.preflight.ok and not force:
            box.update("Preflight failed: fix the target config first, or tick force.")
            return
        box.update("Flipping…")
        self.busy = True
        self.run_flip(reason, force)

    def action_cancel(self) -> None:
        self.dismiss(self.applied)

    @on(Input.Submitted, "#reason")
    def _reason_entered(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(self.applied)
