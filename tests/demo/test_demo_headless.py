"""``opsdash demo --headless``: every seeded trouble shows up with the status opsdash promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from opsdash.demo.fleet import DEMO_TENANTS

from .leftovers import leftover_files, processes_with_marker


def run_demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    marker = f"OPSDASH_TEST_MARKER={uuid.uuid4().hex}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), marker.split("=")[0]: marker.split("=")[1]}
    env.pop("OPSDASH_STATE_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "opsdash", "demo", "--headless", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    return proc, marker


def test_headless_report_matches_every_seeded_trouble(tmp_path: Path) -> None:
    proc, _ = run_demo(tmp_path, "--format", "json")
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    by_tenant = {t["name"]: t for t in report["tenants"]}
    assert set(by_tenant) == {t.name for t in DEMO_TENANTS}
    assert by_tenant["acme"]["status"] == "OK", by_tenant["acme"]
    for tenant in DEMO_TENANTS:
        statuses = {c["check"]: c["status"] for c in by_tenant[tenant.name]["checks"]}
        for check, expected in tenant.expect.items():
            assert statuses.get(check) == expected, (tenant.name, tenant.trouble, check, statuses)
    summaries = {
        t["name"]: {c["check"]: (c["summary"], c["error_class"]) for c in t["checks"]}
        for t in report["tenants"]
    }
    assert summaries["downtown"]["db"][1] == "connect"
    assert summaries["hangar"]["db"][1] == "timeout"
    assert summaries["expired"]["whatsapp"][1] == "auth"
    assert summaries["mailless"]["smtp"][1] == "auth"
    assert "sharer-b" in summaries["sharer-a"]["isolation"][0]


def test_headless_leaves_no_process_or_temp_file(tmp_path: Path) -> None:
    proc, marker = run_demo(tmp_path, "--format", "text")
    assert proc.returncode == 2, proc.stderr
    assert "acme" in proc.stdout
    assert processes_with_marker(marker.split("=")[1]) == []
    assert leftover_files(tmp_path / "tmp") == []
