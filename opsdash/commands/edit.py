"""``opsdash edit TENANT FIELD=VALUE ...``: set Company fields; secrets are typed hidden or piped, never
given on the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from opsdash.actions.api import EditPlan, Operator, edit, record_refusal, viewer_refusal
from opsdash.commands.action_shell import NO_TTY, confirmer, interactive, load, operator_of, report
from opsdash.config.company import FIELDS_BY_NAME, is_secret
from opsdash.config.fleet import Fleet

SECRET_IN_ARGV = (
    "secret values are never taken from the command line (shell history, ps): give just '{field}' and "
    "type it hidden, or pipe it with --secret-stdin"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "edit",
        help="set Company fields of one tenant (validated, type-faithful, audited)",
        description="Set Company fields. A secret field is given by name only and read without echo "
        "(or one line per secret from stdin with --secret-stdin).",
    )
    parser.add_argument("tenant", help="tenant name from tenants.toml")
    parser.add_argument("assignments", nargs="+", metavar="FIELD=VALUE",
                        help="a field and its new value; for a secret field just its name")
    parser.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--secret-stdin", action="store_true",
                        help="read secret values from stdin, one line per secret field, in order")
    parser.set_defaults(func=run)


def split_assignments(assignments: list[str]) -> tuple[dict[str, str], list[str], str | None]:
    """``(values, secret_fields_to_read, refusal)`` from the command line. Pure; never echoes a value."""
    values: dict[str, str] = {}
    to_read: list[str] = []
    for item in assignments:
        field, has_value, value = item.partition("=")
        if field in values or field in to_read:
            return values, to_read, f"{field} is given twice"
        if is_secret(field):
            if has_value:
                return values, to_read, SECRET_IN_ARGV.format(field=field)
            to_read.append(field)
        elif not has_value:
            if field not in FIELDS_BY_NAME:
                return values, to_read, f"unknown Company field '{field}'"
            return values, to_read, f"give a value: {field}=VALUE"
        else:
            values[field] = value
    return values, to_read, None


def _read_secrets(fields: list[str], from_stdin: bool) -> tuple[dict[str, str], str | None]:
    if from_stdin and not interactive():
        lines = sys.stdin.read().splitlines()
        if len(lines) < len(fields):
            return {}, f"--secret-stdin: expected {len(fields)} line(s) for {', '.join(fields)}"
        return dict(zip(fields, lines, strict=False)), None
    if not interactive():
        return {}, f"no terminal to read {', '.join(fields)} without echo: use --secret-stdin"
    return {f: getpass.getpass(f"{f} (input hidden): ") for f in fields}, None


def _refuse(fleet: Fleet, args: argparse.Namespace, operator: Operator, message: str,
            fields: list[str]) -> int:
    return report(record_refusal(fleet, args.tenant, "edit", operator=operator, reason=args.reason,
                                 message=message, fields=fields))


def run(args: argparse.Namespace) -> int:
    fleet = load(args)
    operator = operator_of(args, fleet)
    values, to_read, refusal = split_assignments(args.assignments)
    named = [a.partition("=")[0] for a in args.assignments]
    if not any(t.name == args.tenant for t in fleet.tenants):
        return _refuse(fleet, args, operator, f"unknown tenant '{args.tenant}' (not in {fleet.path})", named)
    refusal = refusal or viewer_refusal(operator)
    if refusal is None and not args.yes and not interactive():
        refusal = NO_TTY
    if refusal:
        return _refuse(fleet, args, operator, refusal, named)
    if to_read:
        secrets, refusal = _read_secrets(to_read, args.secret_stdin)
        if refusal:
            return _refuse(fleet, args, operator, refusal, named)
        values.update(secrets)

    def render(plan: EditPlan) -> list[str]:
        return [f"{plan.tenant}: Company {plan.document_id}", *plan.diff_lines()]

    outcome = edit(fleet, args.tenant, values, reason=args.reason, operator=operator,
                   confirm=confirmer(args.yes, render, "Apply these changes?"))
    return report(outcome)
