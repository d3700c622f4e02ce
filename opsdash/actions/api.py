"""Every write opsdash makes, in one import for the CLI and the TUI alike (sync; run off the UI thread).

Each action validates, checks preconditions, writes, then audits, and returns an :class:`ActionOutcome`
rather than raising for a refusal, so a screen can show ``outcome.message`` as it is.
"""

from __future__ import annotations

from opsdash.actions.audit import AuditRecord, Change, find_audit, list_audit
from opsdash.actions.edit import EditPlan, FieldEdit, edit, read_company_for_edit, render_diff
from opsdash.actions.flip import FlipPlan, flag_value, flip, redeploy
from opsdash.actions.operator import Operator, current_operator, viewer_refusal
from opsdash.actions.outcome import ActionOutcome, record_refusal
from opsdash.actions.preflight import Preflight, describe_problems, open_store, preflight_flip
from opsdash.actions.undo import undo

__all__ = [
    "ActionOutcome",
    "AuditRecord",
    "Change",
    "EditPlan",
    "FieldEdit",
    "FlipPlan",
    "Operator",
    "Preflight",
    "current_operator",
    "describe_problems",
    "edit",
    "find_audit",
    "flag_value",
    "flip",
    "list_audit",
    "open_store",
    "preflight_flip",
    "read_company_for_edit",
    "record_refusal",
    "redeploy",
    "render_diff",
    "undo",
    "viewer_refusal",
]
