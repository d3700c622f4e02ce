"""``python -m opsdash``."""

from opsdash.cli import entry

entry()
