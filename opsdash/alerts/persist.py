"""Alert state in the results store's SQLite file (own table), so a restart neither re-fires nor forgets."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from opsdash.alerts.state import AlertState
from opsdash.checks.base import Status
from opsdash.config.fleet import Fleet

STORE_FILENAME = "opsdash.sqlite3"
_TABLE = "opsdash_alert_state"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    firing INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    severity TEXT,
    started_at TEXT,
    summary TEXT NOT NULL,
    last_status TEXT,
    updated_at TEXT,
    PRIMARY KEY (tenant, check_id)
)
"""
_COLUMNS = (
    "tenant, check_id, firing, failures, successes, severity, started_at, summary, last_status, updated_at"
)


def store_path(fleet: Fleet) -> Path:
    """The SQLite file the results store uses for this fleet."""
    return fleet.state_dir / STORE_FILENAME


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class AlertStateStore:
    """Load and save :class:`AlertState` rows; thread-safe, WAL mode, shares the file with ResultStore."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(_SCHEMA)

    @classmethod
    def for_fleet(cls, fleet: Fleet) -> AlertStateStore:
        return cls(store_path(fleet))

    def load(self) -> dict[tuple[str, str], AlertState]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM {_TABLE}").fetchall()
        states = {}
        for tenant, check, firing, failures, successes, severity, started, summary, last, updated in rows:
            states[(tenant, check)] = AlertState(
                tenant=tenant,
                check=check,
                firing=bool(firing),
                failures=failures,
                successes=successes,
                severity=severity,
                started_at=_dt(started),
                summary=summary,
                last_status=Status(last) if last else None,
                updated_at=_dt(updated),
            )
        return states

    def save(self, states: Iterable[AlertState]) -> None:
        rows = [
            (
                s.tenant, s.check, int(s.firing), s.failures, s.successes, s.severity, _iso(s.started_at),
                s.summary, str(s.last_status) if s.last_status else None, _iso(s.updated_at),
            )
            for s in states
        ]
        if not rows:
            return
        with self._lock, self._conn:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO {_TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def delete(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(f"DELETE FROM {_TABLE} WHERE tenant = ? AND check_id = ?", list(keys))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
