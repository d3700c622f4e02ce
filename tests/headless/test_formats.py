"""Report model and renderers, from hand-made results: worst status, Nagios lines, Prometheus text."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime

import jsonschema
import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.headless.formats import RENDERERS, nagios, prometheus, text
from opsdash.headless.report import build_report
from opsdash.headless.schema import SCHEMA_PATH

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def r(tenant: str, check: str, status: Status, summary: str = "", **kw: object) -> CheckResult:
    return CheckResult(tenant=tenant, check=check, status=status, summary=summary or f"{check} {status}",
                       timestamp=NOW, **kw)  # type: ignore[arg-type]


MIXED = [
    r("acme", "db", Status.CRIT, "ping failed | timed out", error_class="timeout", duration_s=5.001),
    r("acme", "config:email", Status.OK, duration_s=0.01),
    r("beta", "db", Status.WARN, "2 Company documents", duration_s=0.02),
    r("gamma", "db", Status.OK, 'weird "quoted" \\ summary\nsecond line', duration_s=0.003),
    r("delta", "whatsapp", Status.UNKNOWN, "not probed: token missing"),
]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.OK),
        ([Status.OK, Status.OK], Status.OK),
        ([Status.OK, Status.UNKNOWN], Status.UNKNOWN),
        ([Status.UNKNOWN, Status.WARN], Status.WARN),
        ([Status.WARN, Status.CRIT, Status.UNKNOWN], Status.CRIT),
    ],
)
def test_worst_status_and_exit_code(statuses: list[Status], expected: Status) -> None:
    report = build_report([r("acme", f"c{i}", s) for i, s in enumerate(statuses)], ["acme"], NOW)
    assert report.status is expected
    assert report.exit_code == {"OK": 0, "WARN": 1, "CRIT": 2, "UNKNOWN": 3}[expected]


def test_report_groups_by_tenant_in_fleet_order_including_tenants_without_results() -> None:
    report = build_report(MIXED, ["gamma", "acme", "beta", "delta", "empty"], NOW)
    assert [t.name for t in report.tenants] == ["gamma", "acme", "beta", "delta", "empty"]
    acme = report.tenants[1]
    assert acme.status is Status.CRIT and [c.check for c in acme.checks] == ["config:email", "db"]
    assert report.tenant_counts.model_dump() == {"OK": 2, "WARN": 1, "CRIT": 1, "UNKNOWN": 1}


def test_json_validates_against_the_published_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    doc = json.loads(RENDERERS["json"](build_report(MIXED, ["acme", "beta", "gamma", "delta"], NOW)))
    jsonschema.Draft202012Validator(schema).validate(doc)
    doc["tenants"][0]["status"] = "BROKEN"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(doc)


def test_nagios_first_line_and_perfdata() -> None:
    out = nagios.render(build_report(MIXED, ["acme", "beta", "gamma", "delta"], NOW)).splitlines()
    status_text, perf = out[0].split(" | ")
    assert status_text.startswith("OPSDASH CRITICAL - 1/4 tenants critical, 1 warning, 1 unknown (acme: db: ")
    assert "ping failed / timed out" in status_text
    assert "'tenants_critical'=1;;1;0;4" in perf.split()
    assert "[CRITICAL] acme" in out and "  \\_[CRITICAL] db - ping failed / timed out" in out
    assert any("'acme db'=5.001s;;;0" in line for line in out)
    assert all(line.count("|") <= 1 for line in out)


def test_nagios_ok_line() -> None:
    report = build_report([r("acme", "db", Status.OK, duration_s=0.5)], ["acme"], NOW)
    lines = nagios.render(report).splitlines()
    assert lines[0].startswith("OPSDASH OK - 1/1 tenants OK | 'tenants'=1;;;0")
    assert lines[1] == "1 tenants OK | 'acme db'=0.5s;;;0"


def test_nagios_names_at_most_three_problems() -> None:
    many = [r(f"t{i}", "db", Status.CRIT) for i in range(6)]
    first = nagios.first_line(build_report(many, [f"t{i}" for i in range(6)], NOW))
    assert "t0: db" in first and "t2: db" in first and "t3" not in first.split("|")[0]
    assert "+3 more tenants" in first


def test_text_lists_problems_under_each_tenant() -> None:
    out = text.render(build_report(MIXED, ["acme", "beta", "gamma", "delta"], NOW))
    lines = out.splitlines()
    assert lines[0].startswith("opsdash check: CRIT  4 tenants")
    acme = lines.index(next(line for line in lines if line.startswith("acme")))
    assert "1/2 checks OK" in lines[acme] and "db" in lines[acme + 1] and "[timeout]" in lines[acme + 1]
    assert not any("config:email" in line for line in lines)


def test_prometheus_has_no_timestamps_and_passes_promtool() -> None:
    out = prometheus.render(build_report(MIXED, ["acme", "beta", "gamma", "delta"], NOW))
    assert 'opsdash_check_status{tenant="acme",check="db"} 2' in out
    assert 'opsdash_check_duration_seconds{tenant="acme",check="db"} 5.001' in out
    samples = [line for line in out.splitlines() if not line.startswith("#")]
    assert samples and all(len(line.split(" ")) == 2 for line in samples), "a sample carries a timestamp"
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=out, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_prometheus_escapes_label_values() -> None:
    assert prometheus.escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
