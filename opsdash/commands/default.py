"""What plain ``opsdash`` does: open the dashboard when there is one, else show the resolved config."""

from __future__ import annotations

import argparse

from opsdash.commands import config_cmd


def run(args: argparse.Namespace) -> int:
    args.tenant = None
    args.json = False
    return config_cmd.run_show(args)
