"""The results store: latest result per (tenant, check), bounded history and status transitions, in SQLite.

One file, ``<state dir>/opsdash.sqlite3``, in WAL mode so a reader (``opsdash check``) never blocks the
writer (the TUI's engine). Results are stored whole, as JSON, next to the indexed columns queries need.
Timestamps are stored as UTC epoch seconds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.config.fleet import Fleet

STORE_FILENAME = "opsdash.sqlite3"
UPTIME_WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    status TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_key_ts ON results (tenant, check_id, ts);
CREATE INDEX IF NOT EXISTS results_by_ts ON results (ts);
CREATE TABLE IF NOT EXISTS latest (
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    status TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, check_id)
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    check_id TEXT NOT NULL,
    old TEXT,
    new TEXT NOT NULL,
    at REAL NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_tenant_at ON transitions (tenant, at);
CREATE INDEX IF NOT EXISTS transitions_by_at ON transitions (at);
"""


@dataclass(frozen=True)
class Transition:
    """A status change of one check of one tenant; ``old`` is None the first time a check reports."""

    tenant: str
    check: str
    old: Status | None
    new: Status
    at: datetime
    summary: str


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def uptime_share(statuses: Iterable[Status]) -> float | None:
    """The share (0..1) of statuses that are OK; None when there are none."""
    counted = list(statuses)
    if not counted:
        return None
    return sum(1 for s in counted if s is Status.OK) / len(counted)


class ResultStore:
    """Latest, history and transitions of check results; thread-safe, survives restarts.

    Retention: history and transitions older than ``history_days`` are removed by :meth:`prune`;
    history beyond ``max_history_per_check`` rows per (tenant, check) is removed as results arrive.
    """

    def __init__(
        self, path: Path, *, history_days: float = 7, max_history_per_check: int = 10_000
    ) -> None:
        if history_days <= 0 or max_history_per_check < 1:
            raise ValueError("history_days must be > 0 and max_history_per_check >= 1")
        self.path = Path(path)
        self.history_days = history_days
        self.max_history_per_check = max_history_per_check
        self._trim_every = max(1, min(64, max_history_per_check // 10))
        self._inserts_since_trim: dict[tuple[str, str], int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=10, check_same_thread=False, isolation_level=None
        )
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise RuntimeError(f"{self.path}: written by a newer opsdash (schema {version})")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    @classmethod
    def for_fleet(cls, fleet: Fleet) -> ResultStore:
        """The store in the fleet's state dir (``[state] dir``, ``$OPSDASH_STATE_DIR`` or XDG state)."""
        return cls(
            fleet.state_dir / STORE_FILENAME,
            history_days=fleet.retention.history_days,
            max_history_per_check=fleet.retention.max_history_per_check,
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one transaction (for modules keeping their own tables here)."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def record(self, results: Iterable[CheckResult]) -> list[Transition]:
        """Store a batch: history rows, the latest per (tenant, check), and the transitions it causes.

        A result older than the stored latest goes to history only. The whole batch is one transaction
        of a few bulk statements, so a 1,000-tenant pass costs about as much as one tenant's.
        """
        batch = list(results)
        if not batch:
            return []
        rows = [
            (r.tenant, r.check, r.status.value, _epoch(r.timestamp), r.model_dump_json()) for r in batch
        ]
        transitions: list[Transition] = []
        with self.transaction() as conn:
            current = self._latest_states(conn, {r.tenant for r in batch})
            conn.executemany(
                "INSERT INTO results (tenant, check_id, status, ts, body) VALUES (?, ?, ?, ?, ?)", rows
            )
            newest: dict[tuple[str, str], tuple[str, str, str, float, str]] = {}
            transition_rows = []
            for result, row in zip(batch, rows, strict=True):
                key = result.key
                previous = current.get(key)
                if previous is not None and row[3] < previous[1]:
                    continue
                newest[key] = row
                old = Status(previous[0]) if previous is not None else None
                current[key] = (row[2], row[3])
                if old is not result.status:
                    transitions.append(
                        Transition(
                            result.tenant, result.check, old, result.status, result.timestamp, result.summary
                        )
                    )
                    transition_rows.append(
                        (result.tenant, result.check, old.value if old else None, row[2], row[3],
                         result.summary)
                    )
            conn.executemany(
                "INSERT OR REPLACE INTO latest (tenant, check_id, status, ts, body) VALUES (?, ?, ?, ?, ?)",
                list(newest.values()),
            )
            conn.executemany(
                "INSERT INTO transitions (tenant, check_id, old, new, at, summary) VALUES (?, ?, ?, ?, ?, ?)",
                transition_rows,
            )
            self._trim_history(conn, [r.key for r in batch])
        return transitions

    @staticmethod
    def _latest_states(
        conn: sqlite3.Connection, tenants: set[str]
    ) -> dict[tuple[str, str], tuple[str, float]]:
        states: dict[tuple[str, str], tuple[str, float]] = {}
        names = sorted(tenants)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for tenant, check, status, ts in conn.execute(
                f"SELECT tenant, check_id, status, ts FROM latest WHERE tenant IN ({marks})", chunk
            ):
                states[(tenant, check)] = (status, ts)
        return states

    def _trim_history(self, conn: sqlite3.Connection, keys: list[tuple[str, str]]) -> None:
        """Keep at most ``max_history_per_check`` rows per check, trimming each check every few inserts
        (a check may briefly hold up to ``_trim_every`` rows more) so the cap costs little per result."""
        due = []
        for key in keys:
            count = self._inserts_since_trim.get(key, 0) + 1
            if count >= self._trim_every:
                due.append(key)
                count = 0
            self._inserts_since_trim[key] = count
        conn.executemany(
            "DELETE FROM results WHERE tenant = ? AND check_id = ? AND id <= ("
            " SELECT id FROM results WHERE tenant = ? AND check_id = ?"
            " ORDER BY id DESC LIMIT 1 OFFSET ?)",
            [(t, c, t, c, self.max_history_per_check) for t, c in dict.fromkeys(due)],
        )

    def latest(self, tenant: str | None = None) -> list[CheckResult]:
        """The latest result of every check, ordered by tenant then check; optionally of one tenant."""
        query = "SELECT body FROM latest"
        params: tuple[str, ...] = ()
        if tenant is not None:
            query += " WHERE tenant = ?"
            params = (tenant,)
        rows = self._fetch(query + " ORDER BY tenant, check_id", params)
        return [CheckResult.model_validate_json(r[0]) for r in rows]

    def latest_one(self, tenant: str, check: str) -> CheckResult | None:
        rows = self._fetch("SELECT body FROM latest WHERE tenant = ? AND check_id = ?", (tenant, check))
        return CheckResult.model_validate_json(rows[0][0]) if rows else None

    def history(
        self, tenant: str, check: str, since: datetime | None = None, limit: int | None = None
    ) -> list[CheckResult]:
        """Results of one check, oldest first; with ``limit``, the most recent ``limit`` of them."""
        query = "SELECT body FROM results WHERE tenant = ? AND check_id = ?"
        params: list[object] = [tenant, check]
        if since is not None:
            query += " AND ts >= ?"
            params.append(_epoch(since))
        query += " ORDER BY ts DESC, id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        rows = self._fetch(query, tuple(params))
        return [CheckResult.model_validate_json(r[0]) for r in reversed(rows)]

    def transitions(self, tenant: str | None = None, since: datetime | None = None) -> list[Transition]:
        """Status changes, oldest first."""
        clauses: list[str] = []
        params: list[object] = []
        if tenant is not None:
            clauses.append("tenant = ?")
            params.append(tenant)
        if since is not None:
            clauses.append("at >= ?")
            params.append(_epoch(since))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._fetch(
            f"SELECT tenant, check_id, old, new, at, summary FROM transitions{where} ORDER BY at, id",
            tuple(params),
        )
        return [
            Transition(t, c, Status(o) if o else None, Status(n), _moment(at), s)
            for t, c, o, n, at, s in rows
        ]

    def uptime(
        self, tenant: str, check: str, window: timedelta, now: datetime | None = None
    ) -> float | None:
        """Share (0..1) of this check's results in ``(now - window, now]`` whose status is OK.

        Every stored result counts once, whatever the interval; None when the window holds no result.
        """
        end = _epoch(now or datetime.now(UTC))
        rows = self._fetch(
            "SELECT status FROM results WHERE tenant = ? AND check_id = ? AND ts > ? AND ts <= ?",
            (tenant, check, end - window.total_seconds(), end),
        )
        return uptime_share(Status(r[0]) for r in rows)

    def uptimes(self, tenant: str, check: str, now: datetime | None = None) -> dict[str, float | None]:
        """Uptime over 1 h, 24 h and 7 d, keyed "1h", "24h", "7d"."""
        moment = now or datetime.now(UTC)
        return {label: self.uptime(tenant, check, w, moment) for label, w in UPTIME_WINDOWS.items()}

    def prune(self, now: datetime | None = None) -> int:
        """Remove history and transitions older than the retention; returns how many rows went."""
        cutoff = _epoch(now or datetime.now(UTC)) - self.history_days * 86_400
        with self.transaction() as conn:
            removed = conn.execute("DELETE FROM results WHERE ts < ?", (cutoff,)).rowcount
            removed += conn.execute("DELETE FROM transitions WHERE at < ?", (cutoff,)).rowcount
        return removed

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.path}: results store is closed")
        return self._conn

    def _fetch(self, query: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(query, params).fetchall()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
