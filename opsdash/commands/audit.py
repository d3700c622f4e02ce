"""``opsdash audit [TENANT] [--json]``: every attempted write, from the local log and tenant databases."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from opsdash.actions.api import AuditRecord, Change, list_audit
from opsdash.commands.action_shell import load


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="list audited writes (flips, edits, undos, redeploys)")
    parser.add_argument("tenant", nargs="?", help="only this tenant")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N records")
    parser.set_defaults(func=run)


def _value(value: Any) -> str:
    return "unset" if value is None else json.dumps(value)


def _changes_text(changes: tuple[Change, ...]) -> str:
    return ", ".join(f"{c.field} {_value(c.before)} -> {_value(c.after)}" for c in changes)


def render_line(record: AuditRecord) -> str:
    """One record on one line. Pure."""
    when = record.time.strftime("%Y-%m-%d %H:%M:%SZ")
    parts = [when, record.id, record.tenant, record.operator.display, record.action, record.outcome,
             record.subject]
    if record.changes:
        parts.append(_changes_text(record.changes))
    if record.undo_of:
        parts.append(f"undo of {record.undo_of}")
    parts.append(f"reason: {record.reason}")
    if record.outcome != "applied":
        parts.append(record.message)
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    fleet = load(args)
    if args.tenant:
        fleet.tenant(args.tenant)
    warnings: list[str] = []
    records = list_audit(fleet, args.tenant, warnings=warnings)
    if args.limit is not None:
        records = records[-args.limit:] if args.limit > 0 else []
    for warning in warnings:
        print(f"opsdash: warning: {warning}", file=sys.stderr)
    if args.json:
        json.dump({"records": [r.to_dict() for r in records], "warnings": warnings}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not records:
        print("no audit records")
    else:
        for record in records:
            print(render_line(record))
    return 0
