"""What plain ``opsdash`` does: open the dashboard on a terminal, else show the resolved config."""

from __future__ import annotations

import argparse
import sys

from opsdash.commands import config_cmd


def run(args: argparse.Namespace) -> int:
    if sys.stdin.isatty() and sys.stdout.isatty():
        from opsdash.commands import dashboard

        return dashboard.run(args)
    args.tenant = None
    args.json = False
    return config_cmd.run_show(args)
