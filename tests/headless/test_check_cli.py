"""``opsdash check`` as an operator runs it: real processes, real SecantusDB, every format and exit code."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from opsdash.checks.base import CheckResult, Status
from opsdash.config.fleet import load_fleet
from opsdash.engine.loop import run_bounded
from opsdash.engine.store import ResultStore
from opsdash.headless.check import one_pass
from opsdash.headless.schema import SCHEMA_PATH
from opsdash.testing.mongo_server import free_port
from tests.conftest import CliResult
from tests.headless.conftest import CANARY, canary_company, make_fleet

PROMTOOL = "/usr/bin/promtool"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def closed_dsn_base() -> str:
    """A server URL nobody listens on, with a canary password in it."""
    return f"mongodb://opsdash:{CANARY}-dsn@127.0.0.1:{free_port()}/?directConnection=true"


@pytest.fixture
def healthy(tmp_path: Path, mongo_url: str, state_dir: Path) -> Path:
    return make_fleet(
        tmp_path, mongo_url, {"acme": [canary_company("acme")], "beta": [canary_company("beta")]}
    )


@pytest.fixture
def degraded(tmp_path: Path, mongo_url: str, state_dir: Path) -> Path:
    """beta has two Company documents (WARN: findFirst() picks one arbitrarily)."""
    return make_fleet(
        tmp_path, mongo_url,
        {"acme": [canary_company("acme")], "beta": [canary_company("beta"), canary_company("beta")]},
    )


@pytest.fixture
def broken(tmp_path: Path, mongo_url: str, state_dir: Path) -> Path:
    """acme's database is unreachable (and its DSN holds a canary password); beta has no Company."""
    return make_fleet(
        tmp_path, mongo_url, {"acme": None, "beta": [], "gamma": [canary_company("gamma")]},
        urls={"acme": closed_dsn_base()},
        tables={"poll": {"db_timeout": 1, "integration_timeout": 2}},
    )


def check(cli, fleet: Path, *args: str) -> CliResult:
    return cli(["--config", str(fleet), "check", *args])


def assert_no_canary(result: CliResult, *files: Path) -> None:
    assert CANARY not in result.stdout
    assert CANARY not in result.stderr
    for path in files:
        assert CANARY not in path.read_text(encoding="utf-8")


def test_healthy_fleet_is_ok_in_every_format(cli, healthy: Path, tmp_path: Path) -> None:
    for fmt in ("json", "text", "nagios", "prometheus"):
        result = check(cli, healthy, "--check", "db", "--check", "config", "--format", fmt)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stderr == ""
        assert_no_canary(result)
        if fmt == "json":
            doc = json.loads(result.stdout)
            jsonschema.validate(doc, SCHEMA)
            assert doc["status"] == "OK" and [t["name"] for t in doc["tenants"]] == ["acme", "beta"]
            assert {c["check"] for c in doc["tenants"][0]["checks"]} >= {"db", "config:whatsapp", "isolation"}
        if fmt == "nagios":
            assert result.stdout.startswith("OPSDASH OK - 2/2 tenants OK | ")


def test_degraded_fleet_warns(cli, degraded: Path) -> None:
    result = check(cli, degraded, "--check", "db", "--format", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] == "WARN"
    beta = next(t for t in doc["tenants"] if t["name"] == "beta")
    assert beta["status"] == "WARN" and "2 Company documents" in beta["checks"][0]["summary"]
    assert_no_canary(result)


def test_broken_fleet_every_format_is_valid_and_leaks_nothing(cli, broken: Path, tmp_path: Path) -> None:
    result = check(cli, broken, "--format", "json")
    assert result.returncode == 2, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    by_name = {t["name"]: t for t in doc["tenants"]}
    acme_db = next(c for c in by_name["acme"]["checks"] if c["check"] == "db")
    assert acme_db["status"] == "CRIT" and acme_db["error_class"] in ("connect", "timeout")
    assert by_name["beta"]["status"] == "CRIT"
    assert_no_canary(result)

    nagios = check(cli, broken, "--format", "nagios")
    assert nagios.returncode == 2
    assert nagios.stdout.startswith("OPSDASH CRITICAL - ")
    assert "/3 tenants critical" in nagios.stdout.splitlines()[0]
    assert_no_canary(nagios)

    text = check(cli, broken)
    assert text.returncode == 2 and "acme" in text.stdout and "CRIT" in text.stdout
    assert_no_canary(text)

    prom_file = tmp_path / "textfile" / "opsdash.prom"
    prom_file.parent.mkdir()
    prom = check(cli, broken, "--format", "prometheus", "--output", str(prom_file))
    assert prom.returncode == 2 and prom.stdout == ""
    assert [p.name for p in prom_file.parent.iterdir()] == ["opsdash.prom"]
    body = prom_file.read_text(encoding="utf-8")
    assert 'opsdash_check_status{tenant="acme",check="db"} 2' in body
    assert "opsdash_check_duration_seconds{" in body
    promtool = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    assert_no_canary(prom, prom_file)


def test_unknown_when_the_worst_is_a_check_that_could_not_run(cli, tmp_path: Path, mongo_url: str,
                                                               state_dir: Path) -> None:
    company = canary_company("acme")
    fleet = make_fleet(tmp_path, mongo_url, {"acme": [company]})
    env_file = tmp_path / "env" / "acme.env"
    kept = [line for line in env_file.read_text().splitlines() if not line.startswith("WHATSAPP_")]
    env_file.write_text("\n".join(kept) + "\n")
    result = check(cli, fleet, "--check", "whatsapp", "--format", "json")
    assert result.returncode == 3, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "UNKNOWN"
    assert doc["tenants"][0]["checks"][0]["summary"].startswith("not probed:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope"], "no tenant named 'nope'"),
        (["--check", "mongo"], "--check mongo: unknown check kind"),
        (["--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors_exit_unknown_with_one_line(cli, healthy: Path, args: list[str], message: str) -> None:
    result = check(cli, healthy, *args)
    assert result.returncode == 3
    assert result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unwritable_output_is_one_line(cli, healthy: Path, tmp_path: Path) -> None:
    result = check(cli, healthy, "--check", "db", "--output", str(tmp_path / "missing" / "x.prom"))
    assert result.returncode == 3
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_tenant_filter(cli, healthy: Path) -> None:
    result = check(cli, healthy, "--tenant", "beta", "--check", "db", "--format", "json")
    assert result.returncode == 0
    assert [t["name"] for t in json.loads(result.stdout)["tenants"]] == ["beta"]


def test_a_check_that_leaves_out_isolation_reads_no_other_tenant(cli, tmp_path: Path, mongo_url: str,
                                                                 state_dir: Path) -> None:
    """Asking one tenant for one config check does not compare it with the fleet, which would read every
    other tenant's Company (on a large fleet, most of the run): beta's server is never contacted. Asking
    for the whole config group still runs the isolation check, which connects to it."""
    with contextlib.closing(socket.create_server(("127.0.0.1", 0))) as beta_server:
        beta_server.setblocking(False)
        beta_url = f"mongodb://127.0.0.1:{beta_server.getsockname()[1]}/?directConnection=true"
        fleet = make_fleet(
            tmp_path, mongo_url, {"acme": [canary_company("acme")], "beta": None},
            urls={"beta": beta_url}, tables={"poll": {"db_timeout": 1}},
        )
        narrow = check(cli, fleet, "--tenant", "acme", "--check", "config:whatsapp", "--format", "json")
        assert narrow.returncode == 0, narrow.stdout + narrow.stderr
        assert [c["check"] for c in json.loads(narrow.stdout)["tenants"][0]["checks"]] == ["config:whatsapp"]
        with pytest.raises(BlockingIOError):
            beta_server.accept()
        with ResultStore.for_fleet(load_fleet(fleet)) as store:
            recorded = {r.check for r in store.latest("acme")}
        assert "config:whatsapp" in recorded and "isolation" not in recorded

        whole = check(cli, fleet, "--tenant", "acme", "--check", "config", "--format", "json")
        assert "isolation" in {c["check"] for c in json.loads(whole.stdout)["tenants"][0]["checks"]}
        connection, _ = beta_server.accept()
        connection.close()


def test_headless_never_imports_textual(healthy: Path) -> None:
    code = (
        "import sys\n"
        "from opsdash.cli import main\n"
        f"rc = main(['--config', {str(healthy)!r}, 'check', '--check', 'db', '--format', 'json'])\n"
        "import opsdash.headless.watch, opsdash.alerts.webhook, opsdash.alerts.alertmanager\n"
        "import opsdash.engine.scheduler\n"
        "assert rc == 0, rc\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print('TEXTUAL', loaded, file=sys.stderr)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "TEXTUAL []" in proc.stderr


def hang(env_file: Path) -> Path:
    """Make this env file a FIFO: a read blocks, as on a hung mount."""
    env_file.unlink()
    os.mkfifo(env_file)
    return env_file


def test_an_env_file_that_hangs_at_start_is_one_line_naming_it(cli, healthy: Path, tmp_path: Path) -> None:
    text = healthy.read_text(encoding="utf-8")
    healthy.write_text('[poll]\n"db_timeout" = 1\n\n' + text, encoding="utf-8")
    stuck = hang(tmp_path / "env" / "beta.env")
    result = check(cli, healthy, "--check", "db")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip() == f"opsdash: {stuck}: env file did not answer in 1 s (a hung mount?)"


def test_a_pass_whose_env_read_hangs_after_start_still_ends(healthy: Path, tmp_path: Path) -> None:
    """The env file hangs once the fleet is loaded: the pass reports it and ``opsdash check`` still exits
    (its engine stopped with no grace had waited for the stuck read for ever)."""
    text = healthy.read_text(encoding="utf-8")
    healthy.write_text('[poll]\n"db_timeout" = 1\n\n' + text, encoding="utf-8")
    fleet = load_fleet(healthy)
    stuck = hang(tmp_path / "env" / "beta.env")
    outcome: list[list[CheckResult]] = []
    passing = threading.Thread(
        target=lambda: outcome.append(run_bounded(one_pass(fleet, ["acme", "beta"], ["db", "config"]))),
        daemon=True,
    )
    try:
        passing.start()
        passing.join(timeout=60)
        assert not passing.is_alive(), "the pass never ended"
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(stuck, os.O_WRONLY | os.O_NONBLOCK))
    statuses = {(r.tenant, r.check): (r.status, r.error_class) for r in outcome[0]}
    assert statuses[("acme", "db")] == (Status.OK, None)
    assert statuses[("beta", "db")] == (Status.CRIT, "timeout")
