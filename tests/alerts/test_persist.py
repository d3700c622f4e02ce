"""Alert state survives a reopen of the SQLite file and lives beside the results store's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opsdash.alerts.persist import AlertStateStore
from opsdash.alerts.state import AlertState
from opsdash.checks.base import Status
from opsdash.engine.store import ResultStore


def test_states_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "opsdash.sqlite3"
    results = ResultStore(path)
    started = datetime(2025, 1, 1, 12, tzinfo=UTC)
    firing = AlertState("acme", "db", firing=True, failures=3, severity="critical", started_at=started,
                        summary="ping failed", last_status=Status.CRIT, updated_at=started)
    quiet = AlertState("beta", "config:email", successes=4, last_status=Status.OK)
    store = AlertStateStore(path)
    store.save([firing, quiet])
    store.close()

    reopened = AlertStateStore(path)
    assert reopened.load() == {firing.key: firing, quiet.key: quiet}
    reopened.save([AlertState("acme", "db", successes=1)])
    assert reopened.load()[("acme", "db")].firing is False
    reopened.delete([("beta", "config:email")])
    assert set(reopened.load()) == {("acme", "db")}
    reopened.close()
    assert results.latest() == []
    results.close()
