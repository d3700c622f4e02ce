"""``opsdash check``: one pass of the checks, a report on stdout (or a file), exit code = worst status.

Usage errors (bad arguments, unknown tenant or check kind, a broken tenants.toml) exit 3, UNKNOWN,
as the Nagios plugin guidelines ask: exit 2 would tell Nagios the fleet is CRITICAL.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CHECK_GROUPS, CheckGroup
from opsdash.config.fleet import Fleet, find_config, load_fleet
from opsdash.engine.loop import run_bounded
from opsdash.errors import ConfigError, OpsdashError
from opsdash.headless import selection
from opsdash.headless.formats import FORMATS, renderer
from opsdash.headless.output import emit
from opsdash.headless.report import build_report

EXIT_UNKNOWN = Status.UNKNOWN.exit_code


def _usage_error(parser: argparse.ArgumentParser) -> Any:
    def error(message: str) -> NoReturn:
        print(f"opsdash check: {' '.join(message.split())}", file=sys.stderr)
        sys.exit(EXIT_UNKNOWN)

    return error


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run every check once; exit code is the worst status (Nagios: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN)",
        description="Run one pass of the checks and print a report. Exit code: 0 OK, 1 WARN, 2 CRIT, "
        "3 UNKNOWN (also for usage errors, as Nagios expects).",
    )
    parser.add_argument("--tenant", action="append", metavar="T", help="only this tenant (repeatable)")
    parser.add_argument(
        "--check", action="append", metavar="KIND",
        help="only these checks: a group (db, config, integrations), a check id or its prefix (repeatable)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--output", metavar="FILE", type=Path,
        help="write to FILE atomically (temp file + rename) instead of stdout",
    )
    parser.error = _usage_error(parser)  # type: ignore[method-assign]
    parser.set_defaults(func=run)


def check_ids_by_group(fleet: Fleet) -> dict[CheckGroup, tuple[str, ...]]:
    from opsdash.checks import runner

    return selection.with_fleet_checks({g: runner.group_check_ids(fleet, g) for g in CHECK_GROUPS})


async def one_pass(
    fleet: Fleet, tenants: list[str], groups: list[CheckGroup], *, fleet_wide: bool = True
) -> list[CheckResult]:
    """``Engine.run_once`` over the chosen tenants and groups (and the fleet-wide checks unless
    ``fleet_wide`` is False), recorded in the results store.

    A read the pass left running (its check gave up at its deadline) gets ``poll.db_timeout`` more to end,
    the longest a read is given, and is then cancelled: one stuck for good (an env file on a hung mount)
    must not keep the process from reporting."""
    from opsdash.engine.loop import widen_default_executor
    from opsdash.engine.scheduler import Engine, io_threads
    from opsdash.engine.store import ResultStore

    widen_default_executor(io_threads(fleet))
    store = ResultStore.for_fleet(fleet)
    engine = Engine(fleet, store=store, jitter=False)
    try:
        return await engine.run_once(tenants, groups, fleet_wide=fleet_wide)
    finally:
        await engine.stop(grace=fleet.poll.db_timeout)
        store.close()


def run(args: argparse.Namespace) -> int:
    try:
        fleet = load_fleet(find_config(args.config))
        tenants = [t.name for t in fleet.select(args.tenant)]
        table = check_ids_by_group(fleet)
        groups = selection.groups_for(args.check, table)
    except ConfigError as exc:
        raise ConfigError(str(exc), exit_code=EXIT_UNKNOWN) from None
    fleet_wide = any(selection.keep(i, args.check, table) for i in selection.FLEET_CHECK_IDS)
    results = run_bounded(one_pass(fleet, tenants, groups, fleet_wide=fleet_wide))
    wanted = [r for r in results if selection.keep(r.check, args.check, table)]
    report = build_report(wanted, tenants, datetime.now(UTC))
    try:
        emit(renderer(args.format)(report), args.output)
    except OSError as exc:
        raise OpsdashError(f"{args.output}: cannot write ({exc.strerror})", exit_code=EXIT_UNKNOWN) from None
    return report.exit_code
