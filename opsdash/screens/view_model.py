"""Pure view model of the fleet overview: rows from the latest results, sort, filter, diff, header counts.

Nothing here imports Textual or touches I/O, so every decision the overview makes is unit-tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from rich.cells import set_cell_size

from opsdash.checks.base import CheckResult, Status, worst

STATUS_SYMBOL: Mapping[Status, str] = {
    Status.OK: "✓",
    Status.WARN: "!",
    Status.CRIT: "✗",
    Status.UNKNOWN: "?",
}
STATUS_ORDER: tuple[Status, ...] = (Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN)
FLAGGED_SERVICES: tuple[str, ...] = ("whatsapp", "whatsapp_otp", "cloudinary", "auth")
LIVE_CHECKS: tuple[str, ...] = ("whatsapp", "cloudinary", "smtp", "auth")
SERVICE_SHORT: Mapping[str, str] = {
    "whatsapp": "WA",
    "whatsapp_otp": "OTP",
    "cloudinary": "CLD",
    "auth": "AUTH",
    "smtp": "SMTP",
    "email": "MAIL",
    "business": "BIZ",
}
NOT_READY_MARK = "!"
_BLOCKS = "▁▂▃▄▅▆▇█"


class TenantLike(Protocol):
    """What the overview needs of a tenant: its name and tags (``opsdash.config.fleet.Tenant`` fits)."""

    name: str
    tags: tuple[str, ...]


def status_label(status: Status | None) -> str:
    """Symbol and word, readable without colour: ``✗ CRIT``; ``-`` when there is no result yet."""
    if status is None:
        return "-"
    word = "UNKN" if status is Status.UNKNOWN else status.value
    return f"{STATUS_SYMBOL[status]} {word}"


def status_symbol(status: Status | None) -> str:
    return "-" if status is None else STATUS_SYMBOL[status]


def format_age(delta: timedelta | None) -> str:
    """``12s``, ``5m``, ``3h``, ``2d``; ``never`` for no check yet."""
    if delta is None:
        return "never"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def format_latency(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.0f}%"


def completeness_bar(fraction: float, width: int = 10) -> str:
    """``███████░░░ 70%``: a bar that reads without colour."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction * 100:.0f}%"


def sparkline(values: Sequence[float], width: int = 20) -> str:
    """The last ``width`` values as block characters scaled between their min and max."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return _BLOCKS[0] * len(tail)
    return "".join(_BLOCKS[min(7, int((v - low) / span * 7 + 0.5))] for v in tail)


def uptime_text(share: float | None) -> str:
    return "uptime -" if share is None else f"uptime {share * 100:.1f}%"


@dataclass(frozen=True)
class FlagCell:
    """A flagged service's effective source and whether its fallback (the other source) is ready."""

    source: str | None
    fallback_ready: bool | None

    @property
    def text(self) -> str:
        if self.source is None:
            return "-"
        mark = NOT_READY_MARK if self.fallback_ready is False else ""
        return f"{self.source.upper()}{mark}"


@dataclass(frozen=True)
class TenantRow:
    """Everything the overview shows about one tenant."""

    name: str
    tags: tuple[str, ...]
    status: Status
    db_status: Status | None
    db_latency_ms: float | None
    completeness: float | None
    flags: Mapping[str, FlagCell]
    integrations: Mapping[str, Status | None]
    last_check: datetime | None
    problems: tuple[str, ...] = field(default=())
    db_unreachable: bool = False

    @property
    def reason(self) -> str:
        """The worst problems on one line, or a calm word when there are none."""
        if self.last_check is None:
            return "not checked yet"
        return "; ".join(self.problems) if self.problems else "all checks OK"


def _latency_ms(result: CheckResult) -> float | None:
    for key in ("latency_ms", "ping_ms", "rtt_ms"):
        value = result.details.get(key)
        if isinstance(value, int | float):
            return float(value)
    if result.status is Status.CRIT and result.error_class is not None:
        return None
    return result.duration_s * 1000 if result.duration_s else None


def _problem(result: CheckResult) -> str:
    return f"{result.check}: {result.summary}"


def build_row(tenant: TenantLike, results: Iterable[CheckResult]) -> TenantRow:
    """One tenant's row from its latest result per check."""
    by_check = {r.check: r for r in results}
    db = by_check.get("db")
    configs = [r for c, r in by_check.items() if c.startswith("config:")]
    fractions = [
        float(r.details["completeness"])
        for r in configs
        if isinstance(r.details.get("completeness"), int | float)
    ]
    flags: dict[str, FlagCell] = {}
    for service in FLAGGED_SERVICES:
        config = by_check.get(f"config:{service}")
        fallback = by_check.get(f"fallback:{service}")
        ready = fallback.details.get("ready") if fallback is not None else None
        flags[service] = FlagCell(
            source=config.details.get("source") if config is not None else None,
            fallback_ready=bool(ready) if ready is not None else None,
        )
    failing = sorted(
        (r for r in by_check.values() if r.status is not Status.OK),
        key=lambda r: (-r.status.rank, r.check),
    )
    return TenantRow(
        name=tenant.name,
        tags=tuple(tenant.tags),
        status=worst([*(r.status for r in by_check.values()), *([Status.UNKNOWN] if db is None else [])]),
        db_status=db.status if db is not None else None,
        db_unreachable=db is not None and db.status is Status.CRIT and db.error_class != "condition",
        db_latency_ms=_latency_ms(db) if db is not None else None,
        completeness=sum(fractions) / len(fractions) if fractions else None,
        flags=flags,
        integrations={c: (by_check[c].status if c in by_check else None) for c in LIVE_CHECKS},
        last_check=max((r.timestamp for r in by_check.values()), default=None),
        problems=tuple(_problem(r) for r in failing),
    )


def group_by_tenant(results: Iterable[CheckResult]) -> dict[str, list[CheckResult]]:
    grouped: dict[str, list[CheckResult]] = {}
    for result in results:
        grouped.setdefault(result.tenant, []).append(result)
    return grouped


def build_rows(tenants: Iterable[TenantLike], results: Iterable[CheckResult]) -> list[TenantRow]:
    """A row per tenant in the fleet (results for tenants not in the fleet are ignored)."""
    grouped = group_by_tenant(results)
    return [build_row(t, grouped.get(t.name, ())) for t in tenants]


def sort_rows(rows: Iterable[TenantRow]) -> list[TenantRow]:
    """Worst first (CRIT, WARN, UNKNOWN, OK), then by name."""
    return sorted(rows, key=lambda r: (-r.status.rank, r.name))


_STATUS_WORDS: Mapping[str, Status] = {
    "ok": Status.OK,
    "warn": Status.WARN,
    "crit": Status.CRIT,
    "unknown": Status.UNKNOWN,
    "unkn": Status.UNKNOWN,
}


def _token_matches(row: TenantRow, token: str) -> bool:
    kind, sep, value = token.partition(":")
    if sep and kind in ("tag", "status", "name"):
        if kind == "tag":
            return any(value in tag.lower() for tag in row.tags)
        if kind == "status":
            return _STATUS_WORDS.get(value) is row.status
        return value in row.name.lower()
    if token in _STATUS_WORDS:
        return _STATUS_WORDS[token] is row.status
    return token in row.name.lower() or any(token in tag.lower() for tag in row.tags)


def filter_rows(rows: Iterable[TenantRow], query: str) -> list[TenantRow]:
    """Rows matching every word of ``query``.

    A bare status word (``ok``, ``warn``, ``crit``, ``unknown``) matches the overall status; any other
    word matches part of the name or a tag; ``tag:``, ``name:`` and ``status:`` say which explicitly.
    """
    tokens = query.lower().split()
    return [r for r in rows if all(_token_matches(r, t) for t in tokens)]


def header_counts(rows: Iterable[TenantRow]) -> dict[Status, int]:
    """How many tenants are OK / WARN / CRIT / UNKNOWN overall."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for row in rows:
        counts[row.status] += 1
    return counts


def header_text(counts: Mapping[Status, int]) -> str:
    return "  ".join(f"{status_label(s).replace('UNKN', 'UNKNOWN')} {counts.get(s, 0)}" for s in STATUS_ORDER)


@dataclass(frozen=True)
class Column:
    """One overview column: a key, a header label and a width (``None`` takes the remaining room)."""

    key: str
    label: str
    width: int | None


COMPACT_COLUMNS: tuple[Column, ...] = (
    Column("status", "Status", 6),
    Column("tenant", "Tenant", 16),
    Column("db", "DB", 7),
    Column("cfg", "Cfg", 4),
    Column("whatsapp", "WA", 6),
    Column("whatsapp_otp", "OTP", 4),
    Column("cloudinary", "CLD", 6),
    Column("auth", "AUTH", 6),
    Column("smtp", "SMTP", 4),
    Column("age", "Age", 5),
)
"""80 columns: each flagged service shows its flag and its live check in one cell (``ENV! ✗``)."""

WIDE_COLUMNS: tuple[Column, ...] = (
    Column("status", "Status", 6),
    Column("tenant", "Tenant", 20),
    Column("tags", "Tags", 12),
    Column("db", "DB", 10),
    Column("cfg", "Config", 6),
    *(Column(f"flag:{s}", f"{SERVICE_SHORT[s]} flag", 8) for s in FLAGGED_SERVICES),
    *(Column(f"live:{c}", SERVICE_SHORT[c], 6) for c in LIVE_CHECKS),
    Column("age", "Age", 5),
    Column("why", "Why", None),
)
"""Large terminals: separate flag and live columns, tags, and the reason for the status."""

WIDE_MIN_WIDTH = 140


def columns_for_width(width: int) -> tuple[Column, ...]:
    return WIDE_COLUMNS if width >= WIDE_MIN_WIDTH else COMPACT_COLUMNS


def _db_cell(row: TenantRow) -> str:
    if row.db_status is None:
        return "-"
    latency = "down" if row.db_unreachable else format_latency(row.db_latency_ms)
    return f"{STATUS_SYMBOL[row.db_status]} {latency}".rstrip()


def _compact_service(row: TenantRow, service: str) -> str:
    parts = []
    if service in row.flags:
        parts.append(row.flags[service].text)
    if service in row.integrations:
        parts.append(status_symbol(row.integrations[service]))
    return " ".join(parts)


def cell_text(row: TenantRow, key: str, now: datetime) -> str:
    """The text of one cell."""
    if key == "status":
        return status_label(row.status)
    if key == "tenant":
        return row.name
    if key == "tags":
        return ",".join(row.tags)
    if key == "db":
        return _db_cell(row)
    if key == "cfg":
        return percent(row.completeness)
    if key == "age":
        return format_age(now - row.last_check if row.last_check else None)
    if key == "why":
        return row.reason
    if key.startswith("flag:"):
        return row.flags[key[5:]].text
    if key.startswith("live:"):
        return status_label(row.integrations[key[5:]])
    return _compact_service(row, key)


def fit(text: str, width: int | None) -> str:
    """Cut ``text`` to ``width`` with an ellipsis; ``None`` leaves it whole."""
    if width is None or len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


def table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One table line: each cell cut to its column width (with an ellipsis), padded, then a one-space gap."""
    cut = (set_cell_size(fit(text, width), width) for text, width in zip(cells, widths, strict=True))
    return "".join(cell + " " for cell in cut)


def row_cells(row: TenantRow, columns: Sequence[Column], now: datetime) -> tuple[str, ...]:
    return tuple(cell_text(row, c.key, now) for c in columns)


@dataclass(frozen=True)
class TableDiff:
    """What to do to a table showing ``old`` so it shows ``new``: the minimum of adds, removes and cell
    updates, and whether the row order changed."""

    removed: tuple[str, ...]
    added: tuple[tuple[str, tuple[str, ...]], ...]
    changed: Mapping[str, Mapping[int, str]]
    order: tuple[str, ...]
    reordered: bool

    @property
    def empty(self) -> bool:
        return not (self.removed or self.added or self.changed or self.reordered)


def diff_rows(
    old: Mapping[str, tuple[str, ...]],
    old_order: Sequence[str],
    new: Sequence[tuple[str, tuple[str, ...]]],
) -> TableDiff:
    """Diff two renderings keyed by tenant; ``changed`` holds only the cells whose text differs."""
    new_keys = {key for key, _ in new}
    removed = tuple(key for key in old_order if key not in new_keys)
    added: list[tuple[str, tuple[str, ...]]] = []
    changed: dict[str, dict[int, str]] = {}
    for key, cells in new:
        before = old.get(key)
        if before is None:
            added.append((key, cells))
            continue
        delta = {i: text for i, text in enumerate(cells) if i >= len(before) or before[i] != text}
        if delta:
            changed[key] = delta
    order = tuple(key for key, _ in new)
    kept = [key for key in old_order if key in new_keys] + [key for key, _ in added]
    return TableDiff(removed, tuple(added), changed, order, reordered=tuple(kept) != order)


@dataclass(frozen=True)
class OverviewRendering:
    """Everything the overview shows for one moment: rows by tenant, header counts and the cell texts in
    display order (filtered, worst first)."""

    rows: Mapping[str, TenantRow]
    counts: Mapping[Status, int]
    columns: tuple[Column, ...]
    rendered: list[tuple[str, tuple[str, ...]]]


def render_overview(
    tenants: Iterable[TenantLike],
    results: Iterable[CheckResult],
    query: str,
    columns: tuple[Column, ...],
    now: datetime,
) -> OverviewRendering:
    """The whole overview as data; pure, so a worker thread can compute it off the event loop."""
    rows = build_rows(tenants, results)
    shown = sort_rows(filter_rows(rows, query))
    return OverviewRendering(
        rows={r.name: r for r in rows},
        counts=header_counts(rows),
        columns=columns,
        rendered=[(r.name, row_cells(r, columns, now)) for r in shown],
    )
