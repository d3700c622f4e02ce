"""Command-line entry point: argument parsing and dispatch only.

Each command lives in its own module under ``opsdash.commands`` (or ``opsdash.headless``) exposing
``register(subparsers)``; modules are imported lazily by name, so the headless path never loads Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from opsdash.errors import OpsdashError

COMMAND_MODULES: tuple[str, ...] = (
    "opsdash.commands.config_cmd",
    "opsdash.commands.dashboard",
    "opsdash.headless.check",
    "opsdash.headless.watch",
    "opsdash.commands.flag",
    "opsdash.commands.edit",
    "opsdash.commands.audit",
    "opsdash.commands.undo",
    "opsdash.commands.demo",
)
"""Modules that add subcommands. Each defines ``register(subparsers) -> None`` and sets
``func=run`` (``run(args) -> int``) on the parsers it adds."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsdash",
        description="On-call dashboard for a multi-tenant Next.js + Prisma + MongoDB fleet.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="tenants.toml to use (default: $OPSDASH_CONFIG, ./tenants.toml, then the XDG config dir)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="viewer mode: refuse every write"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run opsdash; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        func = importlib.import_module("opsdash.commands.default").run
    try:
        return int(func(args) or 0)
    except OpsdashError as exc:
        print(f"opsdash: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console-script entry."""
    sys.exit(main())
