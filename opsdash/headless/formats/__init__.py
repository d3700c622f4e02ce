"""Renderers of a :class:`~opsdash.headless.report.CheckReport`: pure functions, report in, text out."""

from __future__ import annotations

from collections.abc import Callable

from opsdash.headless.formats import json, nagios, prometheus, text
from opsdash.headless.report import CheckReport

Renderer = Callable[[CheckReport], str]
RENDERERS: dict[str, Renderer] = {
    "json": json.render,
    "text": text.render,
    "nagios": nagios.render,
    "prometheus": prometheus.render,
}
FORMATS: tuple[str, ...] = tuple(RENDERERS)
