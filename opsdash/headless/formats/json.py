"""``--format json``: the report document, validating against schema/check-report.schema.json."""

from __future__ import annotations

from opsdash.headless.report import CheckReport


def render(report: CheckReport) -> str:
    return report.model_dump_json(indent=2) + "\n"
