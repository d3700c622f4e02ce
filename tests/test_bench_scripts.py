"""The bench scripts still run: each, at its smallest, exits 0 and prints its figures. No figure is
judged here (targets live in ``bench/``); a script the code moved away from fails here, not in the next
session's bench run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALLEST = {
    "store_record": (["--tenants", "5", "--passes", "2"], "history rows"),
    "shared_relay": (["--tenants", "3"], '"isolation": "WARN"'),
    "dead_cluster": (["--dead", "3", "--seconds", "3", "--back-after", "0.5"], "dead cluster back after"),
    "sweep": (
        ["--sizes", "10", "--repeat", "1", "--naive-sample", "2", "--check-runs", "1", "--skip-tui",
         "--skip-scheduled"],
        "N=10 (a) opsdash sweep, cold",
    ),
    "dashboard_refresh": (["--tenants", "20", "--rounds", "1"], "worst single layout refresh"),
    "ab": ([".", ".", "--tenants", "5", "--rounds", "1", "--passes", "1"], "client CPU"),
}


@pytest.mark.parametrize("script", sorted(SMALLEST))
def test_a_bench_script_runs_at_its_smallest(script: str) -> None:
    arguments, printed = SMALLEST[script]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), *arguments],
        capture_output=True, text=True, cwd=ROOT, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert printed in done.stdout
    assert "Traceback" not in done.stderr
