"""Renderers of a :class:`~opsdash.headless.report.CheckReport`: pure functions, report in, text out.

Each format is a module of this package with a ``render(report) -> str``; only the one asked for loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsdash.headless.report import CheckReport

Renderer = Callable[["CheckReport"], str]
FORMATS: tuple[str, ...] = ("json", "text", "nagios", "prometheus")


def renderer(fmt: str) -> Renderer:
    """The ``render`` function of format ``fmt`` (one of :data:`FORMATS`), importing only its module."""
    if fmt not in FORMATS:
        raise KeyError(fmt)
    render: Renderer = importlib.import_module(f"{__name__}.{fmt}").render
    return render


def __getattr__(name: str) -> Any:
    if name == "RENDERERS":
        return {fmt: renderer(fmt) for fmt in FORMATS}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
