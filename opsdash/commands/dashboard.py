"""``opsdash dashboard`` (and plain ``opsdash`` on a terminal): the Textual TUI.

Textual is imported only inside :func:`run`, so registering this command keeps the headless path free
of it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from opsdash.config.fleet import find_config, load_fleet
from opsdash.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dashboard", help="open the live dashboard (the default on a terminal)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the fleet, start the check engine in its own thread and run the TUI until the operator quits."""
    fleet = load_fleet(find_config(args.config))
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("the dashboard needs a terminal; use 'opsdash check' or 'opsdash watch' instead")
    from opsdash.engine.engine_thread import EngineThread
    from opsdash.engine.store import ResultStore
    from opsdash.screens.app import OpsdashApp
    from opsdash.screens.backend import FleetBackend

    store = ResultStore.for_fleet(fleet)
    read_only = bool(getattr(args, "read_only", False))
    backend = FleetBackend(fleet, read_only=read_only, store=store)
    app = OpsdashApp(
        fleet,
        store,
        backend=backend,
        engine_factory=lambda on_results: EngineThread(fleet, store, on_results),
        read_only=read_only,
        watch_terminal=True,
    )
    try:
        app.run()
    finally:
        if app.engine is not None:
            app.engine.stop()
        store.close()
    return int(app.return_code or 0)
