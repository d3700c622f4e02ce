"""``opsdash undo AUDIT_ID``: revert an applied flip or edit if nothing changed it since."""

from __future__ import annotations

import argparse
from typing import Any

from opsdash.actions.api import Change, undo
from opsdash.commands.action_shell import confirmer, load, offer_redeploy, operator_of, report


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("undo", help="revert an applied flip or edit by its audit id")
    parser.add_argument("audit_id", metavar="AUDIT_ID", help="from `opsdash audit`")
    parser.add_argument("--reason", default=None, help="why (default: 'undo of AUDIT_ID')")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--redeploy", action="store_true",
                        help="Vercel tenants: redeploy production after the change, without asking")
    parser.set_defaults(func=run)


def _render(changes: tuple[Change, ...]) -> list[str]:
    def shown(value: Any) -> str:
        return "unset" if value is None else repr(value)

    return ["undo would write:", *(f"  {c.field}: {shown(c.before)} -> {shown(c.after)}" for c in changes)]


def run(args: argparse.Namespace) -> int:
    fleet = load(args)
    operator = operator_of(args, fleet)
    outcome = undo(fleet, args.audit_id, operator=operator, reason=args.reason,
                   confirm=confirmer(args.yes, _render, "Undo?"))
    code = report(outcome)
    if outcome.applied:
        reason = args.reason or f"undo of {args.audit_id}"
        return max(code, offer_redeploy(args, fleet, outcome.tenant, operator, outcome, reason))
    return code
