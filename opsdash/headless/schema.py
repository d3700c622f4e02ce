"""The published JSON Schema of ``opsdash check --format json``, generated from the report models.

Regenerate with ``python -m opsdash.headless.schema``; a test asserts the committed file matches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from opsdash.headless.report import CheckReport

SCHEMA_ID = "https://opsdash.invalid/schema/check-report.schema.json"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "check-report.schema.json"


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a check report."""
    schema = CheckReport.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_schema() -> str:
    return json.dumps(report_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema to ``argv[0]`` or the repository's ``schema/`` directory."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else SCHEMA_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_schema(), encoding="utf-8")
    print(target, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
