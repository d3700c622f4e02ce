"""Command-line entry point: argument parsing and dispatch only.

Each command lives in its own module under ``opsdash.commands`` (or ``opsdash.headless``) exposing
``register(subparsers)``. Only the module of the command actually invoked is imported: every other
command is a stub built from :data:`COMMAND_HELP`, enough for ``opsdash --help`` and argparse's
"invalid choice" message. So ``opsdash check`` loads neither Textual nor the write actions.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

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

Command = Callable[[argparse.Namespace], int]

COMMAND_HELP: Mapping[str, tuple[tuple[str, str], ...]] = {
    "opsdash.commands.config_cmd": (("config", "validate or show tenant configuration"),),
    "opsdash.commands.dashboard": (("dashboard", "open the live dashboard (the default on a terminal)"),),
    "opsdash.headless.check": ((
        "check",
        "run every check once; exit code is the worst status (Nagios: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN)",
    ),),
    "opsdash.headless.watch": (("watch", "run the checks continuously without the TUI and deliver alerts"),),
    "opsdash.commands.flag": (
        ("flag", "point a service at its DB config or env fallback (writes its USE_DB_* flag)"),
        ("redeploy", "redeploy a Vercel tenant's current production deployment"),
    ),
    "opsdash.commands.edit": (
        ("edit", "set Company fields of one tenant (validated, type-faithful, audited)"),
    ),
    "opsdash.commands.audit": (("audit", "list audited writes (flips, edits, undos, redeploys)"),),
    "opsdash.commands.undo": (("undo", "revert an applied flip or edit by its audit id"),),
    "opsdash.commands.demo": (
        ("demo", "open the dashboard on a demo fleet with one tenant per kind of trouble"),
    ),
}
"""The (command, one-line help) pairs each module's ``register`` adds, in order, so the parser can list
a command without importing its module. A module in COMMAND_MODULES missing here is imported eagerly."""


class LazySubcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands that start as stubs; invoking one imports its module and registers the real parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stub_modules: dict[str, str] = {}

    def add_stub(self, name: str, module_name: str, help: str) -> None:
        self.add_parser(name, help=help)
        self._stub_modules[name] = module_name

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if self._stub_modules.pop(name, None) is None:
            return super().add_parser(name, **kwargs)
        order = list(self._name_parser_map)
        del self._name_parser_map[name]
        position = [action.dest for action in self._choices_actions].index(name)
        del self._choices_actions[position]
        parser = super().add_parser(name, **kwargs)
        if "help" in kwargs:
            self._choices_actions.insert(position, self._choices_actions.pop())
        parsers = dict(self._name_parser_map)
        self._name_parser_map.clear()
        self._name_parser_map.update({key: parsers.pop(key) for key in order})
        self._name_parser_map.update(parsers)
        return parser

    def load(self, name: str) -> None:
        """Import the module behind the stub ``name`` (if it is one) and let it register its commands."""
        module_name = self._stub_modules.get(name)
        if module_name is not None:
            importlib.import_module(module_name).register(self)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
        option_string: str | None = None,
    ) -> None:
        self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def build_parser(*, lazy: bool = True) -> argparse.ArgumentParser:
    """The opsdash parser; ``lazy=False`` imports every command module up front."""
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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", action=LazySubcommands)
    for module_name in COMMAND_MODULES:
        commands = COMMAND_HELP.get(module_name) if lazy else None
        if commands is None:
            importlib.import_module(module_name).register(subparsers)
            continue
        for name, help_line in commands:
            subparsers.add_stub(name, module_name, help_line)
    return parser


def parse(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Command]:
    """Parse ``argv`` (importing the invoked command's module); the arguments and the command to run."""
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        func = importlib.import_module("opsdash.commands.default").run
    return args, func


def dispatch(args: argparse.Namespace, func: Command) -> int:
    """Run a parsed command; an ``OpsdashError`` becomes one line on stderr and its exit code."""
    try:
        return int(func(args) or 0)
    except OpsdashError as exc:
        print(f"opsdash: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run opsdash; returns the process exit code."""
    return dispatch(*parse(argv))


@contextmanager
def imports_without_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a command's modules load, then freeze what they built.

    Imports allocate a great many objects that live as long as the process (modules, classes, pydantic
    schemas); collecting while they pile up only rescans them. ``gc.freeze`` then keeps later collections
    (and the one at exit) from rescanning them.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def entry() -> None:
    """Console-script entry (and ``python -m opsdash``).

    opsdash uses no pydantic plugins, and looking for them reads the entry points of every installed
    distribution on each start, so they are off unless ``PYDANTIC_DISABLE_PLUGINS`` is set (even empty).
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    with imports_without_collection():
        command = parse()
    sys.exit(dispatch(*command))
