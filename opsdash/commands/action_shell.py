"""What the write commands (flag, edit, undo) share at the terminal: who is acting, confirmation, the
redeploy offer and turning an :class:`ActionOutcome` into output and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from opsdash.actions.api import ActionOutcome, Operator, current_operator, redeploy
from opsdash.config.fleet import Fleet, find_config, load_fleet

NO_TTY = "no terminal to confirm on: pass --yes to apply without a question"


def load(args: argparse.Namespace) -> Fleet:
    return load_fleet(find_config(args.config))


def operator_of(args: argparse.Namespace, fleet: Fleet) -> Operator:
    return current_operator(fleet, read_only=bool(getattr(args, "read_only", False)))


def interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def ask(question: str) -> bool:
    """A yes/no question on the terminal; anything but y/yes is no."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def confirmer(yes: bool, render: Callable[[Any], list[str]], question: str) -> Callable[[Any], str | None]:
    """A ``confirm`` callback: show the plan; with ``--yes`` go ahead; on a terminal ask; else refuse."""

    def confirm(plan: Any) -> str | None:
        for line in render(plan):
            print(line)
        if yes:
            return None
        if not interactive():
            return NO_TTY
        return None if ask(question) else "not confirmed by the operator: nothing written"

    return confirm


def report(outcome: ActionOutcome) -> int:
    """Print the outcome (applied on stdout, anything else as one ``opsdash:`` line on stderr)."""
    for warning in outcome.warnings:
        print(f"opsdash: warning: {warning}", file=sys.stderr)
    if outcome.applied:
        print(outcome.message)
        print(f"audit {outcome.audit_id} (undo with: opsdash undo {outcome.audit_id})")
    else:
        print(f"opsdash: {outcome.outcome}: {outcome.message} [audit {outcome.audit_id}]", file=sys.stderr)
    return outcome.exit_code


def offer_redeploy(args: argparse.Namespace, fleet: Fleet, tenant: str, operator: Operator,
                   outcome: ActionOutcome, reason: str) -> int:
    """After a Vercel env change: redeploy with ``--redeploy``, ask on a terminal, else say how. Never
    silently."""
    if not outcome.redeploy_needed:
        return 0
    wanted = bool(getattr(args, "redeploy", False))
    if not wanted and interactive():
        wanted = ask(f"Redeploy {tenant}'s current production deployment now?")
    if not wanted:
        print(f"redeploy needed: not redeployed; run `opsdash redeploy {tenant} --reason ...` "
              "or redeploy in Vercel")
        return 0
    return report(redeploy(fleet, tenant, reason=reason, operator=operator))
