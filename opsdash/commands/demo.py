"""``opsdash demo``: the dashboard (or one headless check) on a realistic fleet that runs on loopback.

Needs the ``demo`` extra (SecantusDB, aiosmtpd). Every server and the temp dir go away on exit,
whether by ``q``, Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from opsdash.errors import OpsdashError

FORMATS = ("text", "json", "nagios", "prometheus")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="open the dashboard on a demo fleet with one tenant per kind of trouble"
    )
    parser.add_argument(
        "--headless", action="store_true", help="run `opsdash check` once against the demo fleet and exit"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format for --headless")
    parser.set_defaults(func=run)


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into SystemExit so every ``with`` block unwinds and cleans up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("secantus") is None:
        raise OpsdashError("the demo needs the 'demo' extra: pip install 'opsdash[demo]'", exit_code=1)
    from opsdash.demo.stack import DemoStack

    with _terminate_as_exit():
        print("opsdash demo: starting the demo fleet on loopback...", file=sys.stderr, flush=True)
        with DemoStack() as stack:
            args.config = str(stack.config_path)
            if args.headless:
                from opsdash.headless import check

                args.tenant, args.check, args.output = None, None, None
                return check.run(args)
            from opsdash.commands import dashboard

            return dashboard.run(args)
