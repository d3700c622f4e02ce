"""The committed JSON Schema is exactly what the models generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opsdash.headless.schema import SCHEMA_PATH, render_schema


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "schema/check-report.schema.json is stale: run python -m opsdash.headless.schema"
    )


def test_regeneration_writes_the_same_file(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    subprocess.run([sys.executable, "-m", "opsdash.headless.schema", str(target)], check=True,
                   capture_output=True)
    assert target.read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")
