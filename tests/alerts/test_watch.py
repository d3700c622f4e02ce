"""``opsdash watch`` end to end: a real Alertmanager, a tenant DB that really goes down, a webhook
receiver whose first delivery fails, restarts mid-incident, and signals."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsdash.engine.store import ResultStore
from tests.alerts.conftest import (
    AlertmanagerProcess,
    RestartableSecantus,
    WatchProcess,
    WebhookReceiver,
    wait_until,
)
from tests.headless.conftest import CANARY, canary_company, make_fleet

FAST = {
    "poll": {"db_interval": 0.5, "config_interval": 3600, "integration_interval": 3600, "db_timeout": 0.3,
             "backoff_max": 1},
    "alerts": {"resend_interval": 1, "retry_initial": 0.2, "retry_max": 1},
}
LABELS = {"alertname": "OpsdashCheckFailing", "tenant": "acme", "check": "db", "severity": "critical"}


def db_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The db check's events: the integration probes (closed endpoints) run at start too, and fail."""
    return [e for e in events if e["check"] == "db"]


def next_db_event(watch: WatchProcess) -> dict[str, Any]:
    while True:
        event = watch.next_event()
        if event["check"] == "db":
            return event


def fleet_with_acme_on(server: RestartableSecantus, tmp_path: Path, mongo_url: str) -> Path:
    return make_fleet(
        tmp_path, mongo_url, {"acme": [canary_company("acme")], "beta": [canary_company("beta")]},
        urls={"acme": server.url}, tables=FAST,
    )


def db_results_since(state_dir: Path, since: datetime, tenant: str = "acme") -> int:
    store = ResultStore(state_dir / "opsdash.sqlite3")
    try:
        return len(store.history(tenant, "db", since=since))
    finally:
        store.close()


def test_db_down_fires_one_alert_survives_a_restart_and_resolves(
    tmp_path: Path, mongo_url: str, state_dir: Path, alertmanager: AlertmanagerProcess,
    tenant_server: RestartableSecantus,
) -> None:
    fleet = fleet_with_acme_on(tenant_server, tmp_path, mongo_url)
    started = datetime.now(UTC)
    watch = WatchProcess(fleet, ["--ndjson", "--alertmanager", alertmanager.url], tmp_path / "watch1.err")
    wait_until(lambda: db_results_since(state_dir, started) >= 3, "healthy db results")
    assert db_events(watch.drain()) == [], "a healthy db raised an alert"

    tenant_server.stop()
    firing = next_db_event(watch)
    assert {k: firing[k] for k in ("event", "tenant", "check", "severity", "status")} == {
        "event": "firing", "tenant": "acme", "check": "db", "severity": "critical", "status": "CRIT"}
    [alert] = wait_until(lambda: alertmanager.alerts(tenant="acme", check="db"), "the alert in Alertmanager")
    assert alert["labels"] == LABELS
    assert alert["annotations"]["summary"] and alert["status"]["state"] == "active"
    first_start = alert["startsAt"]

    assert watch.stop() == 0
    restarted = datetime.now(UTC)
    watch2 = WatchProcess(fleet, ["--ndjson", "--alertmanager", alertmanager.url], tmp_path / "watch2.err")
    wait_until(lambda: db_results_since(state_dir, restarted) >= 3, "failing db results after the restart")
    assert db_events(watch2.drain()) == [], "the restart re-fired (or resolved) the alert"
    assert "1 alert(s) still firing from before" in watch2.stderr_text()
    again = alertmanager.alerts(tenant="acme", check="db")
    assert len(again) == 1 and again[0]["labels"] == LABELS and again[0]["startsAt"] == first_start

    tenant_server.start()
    resolved = next_db_event(watch2)
    assert (resolved["event"], resolved["tenant"], resolved["check"]) == ("resolved", "acme", "db")
    assert resolved["ends_at"] and resolved["starts_at"] == firing["starts_at"]
    wait_until(
        lambda: alertmanager.alerts(tenant="acme", check="db") == [], "the alert to resolve in Alertmanager"
    )
    assert alertmanager.alerts(tenant="beta", check="db") == []

    assert watch2.stop() == 0
    for proc in (watch, watch2):
        err = proc.stderr_text()
        assert "Traceback" not in err and CANARY not in err
        assert CANARY not in "".join(proc.seen)


def test_webhook_gets_one_firing_and_one_resolved_even_when_the_first_attempt_fails(
    tmp_path: Path, mongo_url: str, state_dir: Path, tenant_server: RestartableSecantus,
) -> None:
    fleet = fleet_with_acme_on(tenant_server, tmp_path, mongo_url)
    with WebhookReceiver(fail_first=1) as receiver:
        started = datetime.now(UTC)
        watch = WatchProcess(
            fleet,
            ["--webhook", f"{receiver.url}/hook", "--heartbeat-url", f"{receiver.url}/ping/{CANARY}-uuid"],
            tmp_path / "watch.err",
        )
        wait_until(lambda: receiver.requests_to("/ping/.*"), "a heartbeat")
        wait_until(lambda: db_results_since(state_dir, started) >= 3, "healthy db results")
        tenant_server.stop()
        wait_until(lambda: receiver.accepted(), "the firing message to be accepted")
        tenant_server.start()
        wait_until(lambda: len(receiver.accepted()) >= 2, "the resolved message")
        recovered = datetime.now(UTC)
        wait_until(lambda: db_results_since(state_dir, recovered) >= 4, "more healthy results")
        assert watch.stop(signal.SIGINT) == 0

        bodies = receiver.accepted()
        assert [(b["event"], b["tenant"], b["check"], b["severity"]) for b in bodies] == [
            ("firing", "acme", "db", "critical"), ("resolved", "acme", "db", "critical")]
        assert len(receiver.requests_to("/hook")) == 3, "one failed attempt, then exactly two deliveries"
        assert all(r.header("content-type") == "application/json" for r in receiver.requests_to("/hook"))
        assert watch.drain() == [], "stdout carries NDJSON only when asked"
        err = watch.stderr_text()
        assert "webhook http://127.0.0.1" in err and "HTTP 500" in err
        assert CANARY not in err and "Traceback" not in err


def test_bad_alert_policy_and_urls_are_one_line_errors(cli, tmp_path: Path, mongo_url: str,
                                                       state_dir: Path) -> None:
    fleet = make_fleet(tmp_path, mongo_url, {"acme": [canary_company("acme")]},
                       tables={"alerts": {"fire_after": 0}})
    result = cli(["--config", str(fleet), "watch"])
    assert result.returncode == 2 and result.stdout == ""
    expected = f"opsdash: {fleet}: alerts.fire_after: Input should be greater than or equal to 1"
    assert result.stderr.strip() == expected

    good = make_fleet(tmp_path / "good", mongo_url, {"acme": [canary_company("acme")]})
    result = cli(["--config", str(good), "watch", "--webhook", "ftp://example"])
    assert result.returncode == 2
    assert result.stderr.strip() == "opsdash: --webhook: expected an http:// or https:// URL"
