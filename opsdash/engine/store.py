"""The results store: latest result per (tenant, check), bounded history and status transitions, in SQLite.

One file, ``<state dir>/opsdash.sqlite3``, in WAL mode so a reader (``opsdash check``) never blocks the
writer (the TUI's engine). Timestamps are stored as UTC epoch seconds.

Layout (schema 2):

- ``series``: one row per (tenant, check) with its latest result, its number of history rows, the
  sequence number of its last row and a lower bound of the time bucket of its oldest row.
- ``results``: the history, one small row per result (status, ts, duration, body), clustered by
  (5-minute time bucket, series, ts, seq). A pass appends to the current bucket only, so recording costs
  the same whatever the size of the history; one check's rows are found bucket by bucket.
- ``bodies``: the rest of a result (summary, error class, details, source) as JSON, written once per
  change: a result whose content equals its check's latest one points at that same body. A result whose
  timestamp or duration a row cannot give back exactly (not UTC, not finite) keeps its whole JSON as its
  own body, with a NULL duration. Once a body stops being its series' latest, ``until_ts`` records the
  newest ts of the rows using it, so that trimming and pruning drop it with them.

Schema 1 (every result stored whole, in ``results`` and ``latest``) is migrated on open, row for row.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.content import content_json
from opsdash.config.fleet import Fleet
from opsdash.engine.checkpointer import Checkpointer

STORE_FILENAME = "opsdash.sqlite3"
UPTIME_WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
BUCKET_S = 300
_SCHEMA_VERSION = 2
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS series (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        check_id TEXT NOT NULL,
        status TEXT,
        ts REAL,
        duration REAL,
        body_id INTEGER,
        row_count INTEGER NOT NULL DEFAULT 0,
        last_seq INTEGER NOT NULL DEFAULT 0,
        first_bucket INTEGER,
        UNIQUE (tenant, check_id)
    )""",
    """CREATE TABLE IF NOT EXISTS results (
        bucket INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        ts REAL NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        duration REAL,
        body_id INTEGER NOT NULL,
        PRIMARY KEY (bucket, series_id, ts, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS bodies (
        id INTEGER PRIMARY KEY,
        until_ts REAL,
        body BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS bodies_by_until_ts ON bodies (until_ts) WHERE until_ts IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS transitions (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        check_id TEXT NOT NULL,
        old TEXT,
        new TEXT NOT NULL,
        at REAL NOT NULL,
        summary TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS transitions_by_tenant_at ON transitions (tenant, at)",
    "CREATE INDEX IF NOT EXISTS transitions_by_at ON transitions (at)",
    "CREATE TABLE IF NOT EXISTS store_generation (value INTEGER NOT NULL)",
)
_MIGRATE_FROM_1 = (
    "DROP INDEX IF EXISTS results_by_key_ts",
    "DROP INDEX IF EXISTS results_by_ts",
    "ALTER TABLE results RENAME TO results_v1",
    "ALTER TABLE latest RENAME TO latest_v1",
    *_SCHEMA,
    "INSERT INTO series (tenant, check_id)"
    " SELECT tenant, check_id FROM latest_v1 UNION SELECT tenant, check_id FROM results_v1",
    "INSERT INTO bodies (id, until_ts, body) SELECT id, ts, body FROM results_v1",
    "INSERT INTO results (bucket, series_id, ts, seq, status, duration, body_id)"
    " SELECT opsdash_bucket(r.ts), s.id, r.ts, r.id, r.status, NULL, r.id FROM results_v1 r"
    " JOIN series s ON s.tenant = r.tenant AND s.check_id = r.check_id",
    "CREATE TEMP TABLE latest_bodies AS"
    " SELECT l.tenant, l.check_id, l.status, l.ts, l.body,"
    " (SELECT coalesce(max(id), 0) FROM bodies) + row_number() OVER () AS body_id FROM latest_v1 l",
    "INSERT INTO bodies (id, until_ts, body) SELECT body_id, NULL, body FROM temp.latest_bodies",
    "UPDATE series SET status = l.status, ts = l.ts, duration = NULL, body_id = l.body_id"
    " FROM temp.latest_bodies l WHERE l.tenant = series.tenant AND l.check_id = series.check_id",
    "UPDATE series SET row_count = c.n, last_seq = c.last, first_bucket = c.first FROM"
    " (SELECT series_id, count(*) AS n, max(seq) AS last, min(bucket) AS first FROM results"
    " GROUP BY series_id) c WHERE c.series_id = series.id",
    "DROP TABLE temp.latest_bodies",
    "DROP TABLE results_v1",
    "DROP TABLE latest_v1",
)
_SERIALIZER = CheckResult.__pydantic_serializer__
_ZERO = timedelta(0)
_TRIM_SLACK_MAX = 256
_TRIM_ROUNDS = 8
_BULK_TRIM = 64
_BUCKETS = "WITH RECURSIVE b(n) AS (VALUES(?) UNION ALL SELECT n + 1 FROM b WHERE n < ?) "


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


def bucket_of(ts: float) -> int:
    """The history bucket a ts falls in."""
    return int(ts // BUCKET_S)


def uptime_share(statuses: Iterable[Status]) -> float | None:
    """The share (0..1) of statuses that are OK; None when there are none."""
    counted = list(statuses)
    if not counted:
        return None
    return sum(1 for s in counted if s is Status.OK) / len(counted)


def stamp_exact(stamp: datetime) -> bool:
    """Whether a row's ts column gives this timestamp back exactly: a UTC one. A result whose timestamp
    or duration a row cannot give back keeps its whole JSON as its body."""
    return stamp.tzinfo is UTC or stamp.utcoffset() == _ZERO


def duration_exact(duration: float) -> bool:
    """Whether a row's duration column gives this duration back exactly: finite and not -0.0 (SQLite
    stores that as 0)."""
    if duration == 0.0:
        return math.copysign(1.0, duration) > 0
    return math.isfinite(duration)


def rebuild(
    tenant: str, check: str, status: str, ts: float, duration: float | None, body: str | bytes
) -> CheckResult:
    """The result a row and its body stand for: the whole JSON when ``duration`` is None, else the row's
    own fields with the body's content."""
    if duration is None:
        return CheckResult.model_validate_json(body)
    content = body if isinstance(body, bytes) else body.encode()
    head = (
        f'{{"tenant":{_json_text(tenant)},"check":{_json_text(check)},"status":{_json_text(status)},'
        f'"duration_s":{duration!r},"timestamp":"{_iso_moment(ts)}",'
    )
    return CheckResult.model_validate_json(head.encode() + content[1:])


@functools.lru_cache(maxsize=65_536)
def _json_text(value: str) -> str:
    return json.dumps(value)


@functools.lru_cache(maxsize=4_096)
def _iso_moment(epoch: float) -> str:
    return _moment(epoch).isoformat()


Head = tuple[int, str | None, float | None, float | None, int | None, bytes | None, int, int, int | None,
             int | None]
"""What the store knows of one (tenant, check), a plain tuple (the cycle collector leaves plain tuples of
plain values alone; the store keeps one per series): series id, latest status, ts, duration, body id and
content (the latest body when it is a content body, comparable with a new result's, else None), history
rows, last seq, a lower bound of the oldest bucket, and the row count at which that whole oldest bucket can
go without leaving fewer rows than the cap (known in memory only). The latest fields are None for a series
that only has history (possible after a schema-1 migration)."""
SERIES, STATUS, TS, DURATION, BODY, CONTENT, ROWS, SEQ, FIRST, TRIM_AT = range(10)
_STATUS_TEXT = {status: status.value for status in Status}


def trimmed(head: Head, rows: int, first: int | None, trim_at: int | None) -> Head:
    """A head with new history bookkeeping."""
    return (*head[:ROWS], rows, head[SEQ], first, trim_at)  # type: ignore[return-value]


ContentSource = tuple[str, Any, str | None, str | None]
"""The objects a result's content is made of (summary, details, error class, source). Results are frozen
and never changed in place, so a result made of the very objects of its series' latest (a copy with a new
timestamp, as a verdict that stands is) has that latest's content, and is not serialised again."""


def content_source(result: CheckResult) -> ContentSource:
    """The objects a result's content is made of."""
    return (result.summary, result.details, result.error_class, result.source)


def _same_content(result: CheckResult, known: ContentSource) -> bool:
    return (
        known[1] is result.details
        and known[0] == result.summary
        and known[2] == result.error_class
        and known[3] == result.source
    )


@dataclass
class BatchPlan:
    """Every row one ``record`` call adds, decided from the batch and the series' heads alone."""

    heads: dict[tuple[str, str], Head] = field(default_factory=dict)
    sources: dict[tuple[str, str], ContentSource] = field(default_factory=dict)
    created: set[tuple[str, str]] = field(default_factory=set)
    bodies: list[tuple[int, float | None, bytes]] = field(default_factory=list)
    rows: list[tuple[int, int, float, int, str, float | None, int]] = field(default_factory=list)
    finished_bodies: list[tuple[float | None, int]] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)


def plan_batch(
    batch: Iterable[CheckResult],
    heads: Mapping[tuple[str, str], Head],
    *,
    next_series_id: int,
    next_body_id: int,
    sources: Mapping[tuple[str, str], ContentSource] | None = None,
) -> BatchPlan:
    """Pure: the rows, bodies and transitions a batch causes, and the series' heads after it.

    A result older than its series' latest goes to history only, with a body of its own. A result whose
    content equals the latest's shares its body; a status change is a transition. ``sources`` holds the
    objects of each series' latest content (``content_source``): a result made of the same objects is
    known to have the latest's content without serialising it; ``plan.sources`` has them after the batch.
    """
    plan = BatchPlan()
    planned, rows, bodies, finished = plan.heads, plan.rows, plan.bodies, plan.finished_bodies
    planned_sources = plan.sources
    known_sources = sources or {}
    last_stamp: datetime | None = None
    ts, bucket, exact_stamp = 0.0, 0, False
    for result in batch:
        key = (result.tenant, result.check)
        head = planned.get(key) or heads.get(key)
        if head is None:
            head = (next_series_id, None, None, None, None, None, 0, 0, None, None)
            next_series_id += 1
            plan.created.add(key)
        sid, old_status, old_ts, old_duration, old_body, old_content, count, seq, first, trim_at = head
        stamp, status = result.timestamp, _STATUS_TEXT[result.status]
        if stamp is not last_stamp:
            last_stamp, ts, exact_stamp = stamp, _epoch(stamp), stamp_exact(stamp)
            bucket = int(ts // BUCKET_S)
        duration: float | None = result.duration_s
        if exact_stamp and duration_exact(result.duration_s):
            known = planned_sources.get(key) or known_sources.get(key)
            if old_content is not None and known is not None and _same_content(result, known):
                content: bytes | None = old_content
            else:
                content, known = content_json(result), None
        else:
            duration = content = known = None
        late = old_ts is not None and ts < old_ts
        if content is not None and not late and content == old_content:
            body_id = old_body
        else:
            body_id = next_body_id
            next_body_id += 1
            bodies.append((body_id, ts if late else None, content or _SERIALIZER.to_json(result)))
        seq += 1
        rows.append((bucket, sid, ts, seq, status, duration, body_id))
        if first is None or bucket <= first:
            first, trim_at = bucket, None
        if late:
            planned[key] = (
                sid, old_status, old_ts, old_duration, old_body, old_content, count + 1, seq, first, None
            )
            continue
        if old_body is not None and old_body != body_id:
            finished.append((old_ts, old_body))
        if old_status != status:
            old = Status(old_status) if old_status is not None else None
            plan.transitions.append(
                Transition(result.tenant, result.check, old, result.status, stamp, result.summary)
            )
        planned[key] = (sid, status, ts, duration, body_id, content, count + 1, seq, first, trim_at)
        planned_sources[key] = known or content_source(result)
    return plan


class ResultStore:
    """Latest, history and transitions of check results; thread-safe, survives restarts.

    Retention: history and transitions older than ``history_days`` are removed by :meth:`prune`;
    history beyond ``max_history_per_check`` rows per (tenant, check) is removed as results arrive, a
    5-minute bucket of a check's rows at a time (so a check may briefly hold up to one bucket's worth of
    rows more, and never more than 10 % or 256 rows more).

    ``record`` keeps each series' head in memory and trusts it while no other connection has written the
    store's tables (``PRAGMA data_version``, and a generation number every writer of these tables bumps).
    ``load_heads`` reads them ahead of a ``record``, under the same rule.
    """

    def __init__(
        self, path: Path, *, history_days: float = 7, max_history_per_check: int = 10_000,
        busy_timeout_s: float = 10.0,
    ) -> None:
        if history_days <= 0 or max_history_per_check < 1:
            raise ValueError("history_days must be > 0 and max_history_per_check >= 1")
        self.path = Path(path)
        self.history_days = history_days
        self.max_history_per_check = max_history_per_check
        self._hard_slack = min(_TRIM_SLACK_MAX, max_history_per_check // 10)
        self._busy_timeout_s = busy_timeout_s
        self._heads: dict[tuple[str, str], Head] = {}
        self._sources: dict[tuple[str, str], ContentSource] = {}
        self._loaded_tenants: set[str] = set()
        self._data_version: int | None = None
        self._generation: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
        )
        self._conn.create_function("opsdash_bucket", 1, bucket_of, deterministic=True)
        self.checkpointer = Checkpointer(self.path)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            if self._schema_version() != _SCHEMA_VERSION:
                with self._write() as conn:
                    self._create_or_migrate(conn)

    def _schema_version(self) -> int:
        version: int = self._connection().execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(f"{self.path}: written by a newer opsdash (schema {version})")
        return version

    def _create_or_migrate(self, conn: sqlite3.Connection) -> None:
        """Create the tables, or migrate a schema-1 file; under the write lock, so only one process does."""
        if self._schema_version() == _SCHEMA_VERSION:
            return
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        schema_1 = {"results", "latest"} <= tables and "body" in {
            r[1] for r in conn.execute("PRAGMA table_info(results)")
        }
        for statement in _MIGRATE_FROM_1 if schema_1 else _SCHEMA:
            conn.execute(statement)
        if conn.execute("SELECT count(*) FROM store_generation").fetchone()[0] == 0:
            conn.execute("INSERT INTO store_generation (value) VALUES (0)")
        conn.execute("UPDATE store_generation SET value = value + 1")
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

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
            self._forget_heads()
            with self._write() as conn:
                yield conn

    @contextmanager
    def _busy_timeout(self, seconds: float | None) -> Iterator[None]:
        if seconds is None:
            yield
            return
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
                self.checkpointer.wrote()
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _forget_heads(self) -> None:
        self._heads.clear()
        self._sources.clear()
        self._loaded_tenants.clear()
        self._generation = None

    def record(
        self, results: Iterable[CheckResult], *, busy_timeout_s: float | None = None
    ) -> list[Transition]:
        """Store a batch: history rows, the latest per (tenant, check), and the transitions it causes.

        A result older than the stored latest goes to history only. The whole batch is one transaction
        of a few bulk statements; a result whose content did not change since its check's latest adds a
        row of a few numbers to the history, not another copy of its body. ``busy_timeout_s`` replaces
        the store's own wait for another process's write lock, for this batch.
        """
        batch = list(results)
        if not batch:
            return []
        with self._lock:
            try:
                with self._busy_timeout(busy_timeout_s), self._write() as conn:
                    heads = self._current_heads(conn, {r.tenant for r in batch})
                    plan = plan_batch(
                        batch, heads, next_series_id=_next_id(conn, "series"),
                        next_body_id=_next_id(conn, "bodies"), sources=self._sources,
                    )
                    self._write_plan(conn, plan)
                    generation = conn.execute(
                        "UPDATE store_generation SET value = value + 1 RETURNING value"
                    ).fetchone()[0]
            except BaseException:
                self._forget_heads()
                raise
            heads.update(plan.heads)
            self._sources.update(plan.sources)
            self._generation = generation
        return plan.transitions

    def load_heads(self, tenants: Iterable[str]) -> bool:
        """Read the heads of these tenants' series ahead of ``record``, which then reads none of them
        while nobody else writes the store. A pass calls it from a thread as it starts, while it waits for
        its first answers. Reads only; False when the store could not be read now, which is left to
        ``record`` to meet and report."""
        names = set(tenants)
        with self._lock:
            if names <= self._loaded_tenants:
                return True
            try:
                conn = self._connection()
                conn.execute("BEGIN")
                try:
                    self._current_heads(conn, names)
                finally:
                    conn.execute("COMMIT")
            except (sqlite3.Error, RuntimeError):
                self._forget_heads()
                return False
        return True

    def _current_heads(self, conn: sqlite3.Connection, tenants: set[str]) -> dict[tuple[str, str], Head]:
        """The heads of these tenants' series: from memory while nobody else wrote the store, else read."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version or self._generation is None:
            generation = conn.execute("SELECT value FROM store_generation").fetchone()[0]
            if generation != self._generation:
                self._forget_heads()
            self._data_version, self._generation = version, generation
        missing = sorted(tenants - self._loaded_tenants)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for tenant, check, sid, status, ts, duration, body_id, rows, seq, first, body in conn.execute(
                "SELECT s.tenant, s.check_id, s.id, s.status, s.ts, s.duration, s.body_id, s.row_count,"
                " s.last_seq, s.first_bucket, b.body FROM series s LEFT JOIN bodies b ON b.id = s.body_id"
                f" WHERE s.tenant IN ({marks})",
                chunk,
            ):
                content = body if duration is not None else None
                self._heads[(tenant, check)] = (
                    sid, status, ts, duration, body_id, content, rows, seq, first, None
                )
        self._loaded_tenants.update(missing)
        return self._heads

    def _write_plan(self, conn: sqlite3.Connection, plan: BatchPlan) -> None:
        conn.executemany("INSERT INTO bodies (id, until_ts, body) VALUES (?, ?, ?)", plan.bodies)
        conn.executemany(
            "INSERT INTO results (bucket, series_id, ts, seq, status, duration, body_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            plan.rows,
        )
        conn.executemany("UPDATE bodies SET until_ts = ? WHERE id = ?", plan.finished_bodies)
        self._trim(conn, plan.heads)
        created = plan.created
        conn.executemany(
            "INSERT INTO series (id, tenant, check_id, status, ts, duration, body_id, row_count, last_seq,"
            " first_bucket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(h[SERIES], *key, *h[STATUS:CONTENT], h[ROWS], h[SEQ], h[FIRST])
             for key, h in plan.heads.items() if key in created],
        )
        conn.executemany(
            "UPDATE series SET status = ?, ts = ?, duration = ?, body_id = ?, row_count = ?, last_seq = ?,"
            " first_bucket = ? WHERE id = ?",
            [(*h[STATUS:CONTENT], h[ROWS], h[SEQ], h[FIRST], h[SERIES])
             for key, h in plan.heads.items() if key not in created],
        )
        conn.executemany(
            "INSERT INTO transitions (tenant, check_id, old, new, at, summary) VALUES (?, ?, ?, ?, ?, ?)",
            [(t.tenant, t.check, t.old.value if t.old else None, t.new.value, _epoch(t.at), t.summary)
             for t in plan.transitions],
        )

    def _trim(self, conn: sqlite3.Connection, heads: dict[tuple[str, str], Head]) -> None:
        """Bring the series of a batch that went over the cap back towards it, oldest rows first: a series'
        oldest bucket goes whole once the rows left stay at or above the cap; past the hard slack, its
        oldest rows go one by one. Series whose oldest bucket is the same are trimmed together."""
        cap, slack = self.max_history_per_check, self._hard_slack
        for _ in range(_TRIM_ROUNDS):
            due: dict[int, list[tuple[str, str]]] = {}
            for key, head in heads.items():
                rows, first, trim_at = head[ROWS], head[FIRST], head[TRIM_AT]
                if rows <= cap or first is None:
                    continue
                if trim_at is None or rows >= trim_at or rows > cap + slack:
                    due.setdefault(first, []).append(key)
            if not due:
                return
            for bucket, keys in due.items():
                self._trim_bucket(conn, heads, bucket, keys)

    def _trim_bucket(
        self, conn: sqlite3.Connection, heads: dict[tuple[str, str], Head], bucket: int,
        keys: list[tuple[str, str]],
    ) -> None:
        """One round of :meth:`_trim` for the series whose oldest bucket (or a lower bound of it) is
        ``bucket``; many of them are counted with one scan of the bucket, a few with a query each. When the
        whole bucket goes and no row is older, the bodies it leaves unused are those that ended before its
        end; otherwise, those its rows used that ended before its end."""
        cap, slack = self.max_history_per_check, self._hard_slack
        series = {heads[key][SERIES]: key for key in keys}
        bulk = len(series) >= _BULK_TRIM
        if bulk:
            counts = Counter(dict(conn.execute(
                "SELECT series_id, count(*) FROM results WHERE bucket = ? GROUP BY series_id", (bucket,)
            ).fetchall()))
        else:
            counts = Counter({
                sid: conn.execute(
                    "SELECT count(*) FROM results WHERE bucket = ? AND series_id = ?", (bucket, sid)
                ).fetchone()[0]
                for sid in series
            })
        whole: list[int] = []
        for sid, key in series.items():
            head, count = heads[key], counts[sid]
            rows = head[ROWS]
            if count == 0:
                newest = bucket_of(head[TS]) if head[TS] is not None else None
                oldest = _oldest_bucket(conn, sid, bucket + 1, newest)
                heads[key] = trimmed(head, rows, *((oldest[0], cap + oldest[1]) if oldest else (None, None)))
            elif rows >= cap + count:
                whole.append(sid)
                heads[key] = trimmed(head, rows - count, bucket + 1, None)
            elif rows > cap + slack:
                gone = _trim_oldest_rows(conn, sid, bucket, rows - cap)
                heads[key] = trimmed(head, rows - gone, bucket, cap + count - gone)
            else:
                heads[key] = trimmed(head, rows, bucket, cap + count)
        if not whole:
            return
        if not bulk:
            used: set[int] = set()
            for sid in whole:
                used.update(r[0] for r in conn.execute(
                    "DELETE FROM results WHERE bucket = ? AND series_id = ? RETURNING body_id", (bucket, sid)
                ))
        elif len(whole) == len(counts):
            if conn.execute("SELECT 1 FROM results WHERE bucket < ? LIMIT 1", (bucket,)).fetchone() is None:
                conn.execute("DELETE FROM results WHERE bucket = ?", (bucket,))
                conn.execute("DELETE FROM bodies WHERE until_ts < ?", ((bucket + 1) * BUCKET_S,))
                return
            used = {
                r[0] for r in conn.execute("SELECT DISTINCT body_id FROM results WHERE bucket = ?", (bucket,))
            }
            conn.execute("DELETE FROM results WHERE bucket = ?", (bucket,))
        else:
            going = set(whole)
            used = {
                body_id
                for sid, body_id in conn.execute(
                    "SELECT series_id, body_id FROM results WHERE bucket = ?", (bucket,)
                )
                if sid in going
            }
            conn.executemany(
                "DELETE FROM results WHERE bucket = ? AND series_id = ?", [(bucket, sid) for sid in whole]
            )
        _drop_bodies(conn, used, (bucket + 1) * BUCKET_S)

    def latest(self, tenant: str | None = None) -> list[CheckResult]:
        """The latest result of every check, ordered by tenant then check; optionally of one tenant."""
        query = (
            "SELECT s.tenant, s.check_id, s.status, s.ts, s.duration, b.body"
            " FROM series s JOIN bodies b ON b.id = s.body_id"
        )
        params: tuple[str, ...] = ()
        if tenant is not None:
            query += " WHERE s.tenant = ?"
            params = (tenant,)
        rows = self._fetch(query + " ORDER BY s.tenant, s.check_id", params)
        return [rebuild(*row) for row in rows]

    def latest_one(self, tenant: str, check: str) -> CheckResult | None:
        rows = self._fetch(
            "SELECT s.tenant, s.check_id, s.status, s.ts, s.duration, b.body"
            " FROM series s JOIN bodies b ON b.id = s.body_id WHERE s.tenant = ? AND s.check_id = ?",
            (tenant, check),
        )
        return rebuild(*rows[0]) if rows else None

    def history(
        self, tenant: str, check: str, since: datetime | None = None, limit: int | None = None
    ) -> list[CheckResult]:
        """Results of one check, oldest first; with ``limit``, the most recent ``limit`` of them."""
        with self._lock:
            conn = self._connection()
            span = _bucket_span(conn, tenant, check, _epoch(since) if since is not None else None, None)
            if limit is not None and limit < 0:
                limit = None
            if span is None or limit == 0:
                return []
            sid, low, high = span
            query = (
                _BUCKETS + "SELECT r.status, r.ts, r.duration, x.body FROM b CROSS JOIN results r"
                " ON r.bucket = b.n AND r.series_id = ? JOIN bodies x ON x.id = r.body_id"
            )
            params: list[object] = [sid]
            if since is not None:
                query += " WHERE r.ts >= ?"
                params.append(_epoch(since))
            query += " ORDER BY r.ts DESC, r.seq DESC"
            if limit is None:
                rows = conn.execute(query, (low, high, *params)).fetchall()
            else:
                rows = []
                top, width = high, 16
                while top >= low and len(rows) < limit:
                    bottom = max(low, top - width + 1)
                    rows += conn.execute(query + " LIMIT ?", (bottom, top, *params, limit - len(rows)))
                    top, width = bottom - 1, width * 4
        return [rebuild(tenant, check, *row) for row in reversed(rows)]

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
        start = end - window.total_seconds()
        with self._lock:
            conn = self._connection()
            span = _bucket_span(conn, tenant, check, start, end)
            if span is None:
                return None
            sid, low, high = span
            rows = conn.execute(
                _BUCKETS + "SELECT r.status FROM b CROSS JOIN results r ON r.bucket = b.n AND r.series_id = ?"
                " WHERE r.ts > ? AND r.ts <= ?",
                (low, high, sid, start, end),
            ).fetchall()
        return uptime_share(Status(r[0]) for r in rows)

    def uptimes(self, tenant: str, check: str, now: datetime | None = None) -> dict[str, float | None]:
        """Uptime over 1 h, 24 h and 7 d, keyed "1h", "24h", "7d"."""
        moment = now or datetime.now(UTC)
        return {label: self.uptime(tenant, check, w, moment) for label, w in UPTIME_WINDOWS.items()}

    def prune(self, now: datetime | None = None, *, busy_timeout_s: float | None = None) -> int:
        """Remove history and transitions older than the retention; returns how many rows went.
        ``busy_timeout_s`` as for :meth:`record`."""
        cutoff = _epoch(now or datetime.now(UTC)) - self.history_days * 86_400
        edge = bucket_of(cutoff)
        where = "(bucket < ? OR (bucket = ? AND ts < ?))"
        with self._lock, self._busy_timeout(busy_timeout_s), self._write() as conn:
            gone = conn.execute(
                f"SELECT series_id, count(*) FROM results WHERE {where} GROUP BY series_id",
                (edge, edge, cutoff),
            ).fetchall()
            conn.execute(f"DELETE FROM results WHERE {where}", (edge, edge, cutoff))
            conn.executemany(
                "UPDATE series SET row_count = row_count - ?, first_bucket = max(first_bucket, ?)"
                " WHERE id = ?",
                [(n, edge, sid) for sid, n in gone],
            )
            conn.execute("DELETE FROM bodies WHERE until_ts < ?", (cutoff,))
            removed = sum(n for _, n in gone)
            removed += conn.execute("DELETE FROM transitions WHERE at < ?", (cutoff,)).rowcount
            conn.execute("UPDATE store_generation SET value = value + 1")
            self._forget_heads()
        return removed

    def close(self) -> None:
        """Close the file, its log checkpointed (so a short-lived process leaves it folded in); idempotent."""
        self.checkpointer.close()
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
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


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]


def _bucket_span(
    conn: sqlite3.Connection, tenant: str, check: str, after: float | None, until: float | None
) -> tuple[int, int, int] | None:
    """A series' id and the buckets that can hold its rows with ts in [after, until]; None if there are
    none."""
    row = conn.execute(
        "SELECT id, ts, first_bucket FROM series WHERE tenant = ? AND check_id = ?", (tenant, check)
    ).fetchone()
    if row is None or row[2] is None:
        return None
    sid, newest, low = row
    high = bucket_of(newest) if newest is not None else conn.execute(
        "SELECT max(bucket) FROM results WHERE bucket >= ? AND series_id = ?", (low, sid)
    ).fetchone()[0]
    if high is None:
        return None
    if after is not None:
        low = max(low, bucket_of(after))
    if until is not None:
        high = min(high, bucket_of(until))
    return (sid, low, high) if low <= high else None


def _oldest_bucket(
    conn: sqlite3.Connection, sid: int, low: int, high: int | None
) -> tuple[int, int] | None:
    """The oldest bucket from ``low`` on holding rows of a series, with how many; None if none does."""
    top = high if high is not None else conn.execute("SELECT max(bucket) FROM results").fetchone()[0]
    width = 64
    while top is not None and low <= top:
        found = conn.execute(
            _BUCKETS + "SELECT r.bucket, count(*) FROM b CROSS JOIN results r ON r.bucket = b.n"
            " AND r.series_id = ? GROUP BY r.bucket ORDER BY r.bucket LIMIT 1",
            (low, min(top, low + width - 1), sid),
        ).fetchone()
        if found is not None:
            return found[0], found[1]
        low, width = low + width, width * 4
    return None


def _trim_oldest_rows(conn: sqlite3.Connection, sid: int, bucket: int, count: int) -> int:
    """Delete a series' ``count`` oldest rows, all in its oldest ``bucket``; returns how many went."""
    cut_ts, cut_seq = conn.execute(
        "SELECT ts, seq FROM results WHERE bucket = ? AND series_id = ? ORDER BY ts, seq LIMIT 1 OFFSET ?",
        (bucket, sid, count - 1),
    ).fetchone()
    used = conn.execute(
        "DELETE FROM results WHERE bucket = ? AND series_id = ? AND (ts, seq) <= (?, ?) RETURNING body_id",
        (bucket, sid, cut_ts, cut_seq),
    ).fetchall()
    kept = conn.execute(
        "SELECT min(ts) FROM results WHERE bucket = ? AND series_id = ?", (bucket, sid)
    ).fetchone()[0]
    _drop_bodies(conn, {u[0] for u in used}, (bucket + 1) * BUCKET_S if kept is None else kept)
    return len(used)


def _drop_bodies(conn: sqlite3.Connection, candidates: set[int], before: float) -> None:
    """Delete those bodies whose last row was older than ``before`` (every such row is gone)."""
    conn.executemany(
        "DELETE FROM bodies WHERE id = ? AND until_ts < ?", [(body_id, before) for body_id in candidates]
    )
