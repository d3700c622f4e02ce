"""``opsdash flag TENANT SERVICE env|db`` and ``opsdash redeploy TENANT``."""

from __future__ import annotations

import argparse
from typing import Any

from opsdash.actions.api import FlipPlan, describe_problems, flip, open_store, record_refusal, redeploy
from opsdash.commands.action_shell import (
    NO_TTY,
    ask,
    confirmer,
    interactive,
    load,
    offer_redeploy,
    operator_of,
    report,
)


def register(subparsers: Any) -> None:
    flag = subparsers.add_parser(
        "flag",
        help="point a service at its DB config or env fallback (writes its USE_DB_* flag)",
        description="Flip a service's feature flag after a preflight of the target source; audited.",
    )
    flag.add_argument("tenant", help="tenant name from tenants.toml")
    flag.add_argument("service", help="whatsapp, whatsapp_otp, cloudinary or auth")
    flag.add_argument("target", choices=("env", "db"), help="env: flag false; db: flag true")
    flag.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    flag.add_argument("--force", action="store_true", help="flip even if the preflight fails")
    flag.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    flag.add_argument("--redeploy", action="store_true",
                      help="Vercel tenants: redeploy production after the change, without asking")
    flag.set_defaults(func=run_flag)

    again = subparsers.add_parser("redeploy", help="redeploy a Vercel tenant's current production deployment")
    again.add_argument("tenant")
    again.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    again.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    again.set_defaults(func=run_redeploy)


def _render(plan: FlipPlan) -> list[str]:
    lines = [plan.describe()]
    if plan.preflight.ok:
        lines.append("preflight: OK")
    else:
        lines.append(f"preflight: FAILED, forced: {describe_problems(plan.preflight.problems)}")
    if plan.redeploy_applies:
        lines.append("Vercel applies env changes only to new deployments: a redeploy will be needed")
    return lines


def run_flag(args: argparse.Namespace) -> int:
    fleet = load(args)
    operator = operator_of(args, fleet)
    store = open_store(fleet)
    try:
        outcome = flip(
            fleet, args.tenant, args.service, args.target, reason=args.reason, operator=operator,
            force=args.force, store=store, confirm=confirmer(args.yes, _render, "Write this flag?"),
        )
    finally:
        if store is not None:
            store.close()
    code = report(outcome)
    if outcome.applied:
        return max(code, offer_redeploy(args, fleet, args.tenant, operator, outcome, args.reason))
    return code


def run_redeploy(args: argparse.Namespace) -> int:
    fleet = load(args)
    operator = operator_of(args, fleet)
    if not args.yes:
        if not interactive():
            return report(record_refusal(fleet, args.tenant, "redeploy", operator=operator,
                                         reason=args.reason, message=NO_TTY))
        if not ask(f"Redeploy {args.tenant}'s current production deployment?"):
            return report(record_refusal(fleet, args.tenant, "redeploy", operator=operator,
                                         reason=args.reason, message="not confirmed by the operator"))
    return report(redeploy(fleet, args.tenant, reason=args.reason, operator=operator))
