"""The overview's pure decisions: row building, worst-first sort, filter, diff, header counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opsdash.checks.base import CheckResult, Status
from opsdash.screens.view_model import (
    COMPACT_COLUMNS,
    WIDE_COLUMNS,
    build_rows,
    columns_for_width,
    completeness_bar,
    diff_rows,
    filter_rows,
    format_age,
    header_counts,
    header_text,
    row_cells,
    sort_rows,
    sparkline,
    status_label,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class T:
    name: str
    tags: tuple[str, ...] = ()


def r(tenant: str, check: str, status: Status = Status.OK, summary: str = "ok", ago: int = 10, **details):
    return CheckResult(
        tenant=tenant,
        check=check,
        status=status,
        summary=summary,
        details=details,
        timestamp=NOW - timedelta(seconds=ago),
        duration_s=0.012,
    )


def test_row_combines_db_config_flags_and_live_checks() -> None:
    results = [
        r("acme", "db", latency_ms=12.4),
        r("acme", "config:whatsapp", source="db", completeness=1.0),
        r(
            "acme",
            "config:cloudinary",
            Status.CRIT,
            "CLOUDINARY_API_SECRET unset",
            source="env",
            completeness=0.5,
        ),
        r("acme", "fallback:cloudinary", Status.WARN, "safe to flip to db: no", target="db", ready=False),
        r("acme", "fallback:whatsapp", target="env", ready=True),
        r("acme", "whatsapp", ago=30),
        r("acme", "cloudinary", Status.UNKNOWN, "not probed: api secret", ago=5),
    ]
    (row,) = build_rows([T("acme", ("prod",))], results)
    assert row.status is Status.CRIT
    assert row.db_latency_ms == 12.4
    assert row.completeness == 0.75
    assert row.flags["whatsapp"].text == "DB"
    assert row.flags["cloudinary"].text == "ENV!"
    assert row.flags["auth"].text == "-"
    assert row.integrations["cloudinary"] is Status.UNKNOWN
    assert row.integrations["smtp"] is None
    assert row.last_check == NOW - timedelta(seconds=5)
    assert row.problems[0] == "config:cloudinary: CLOUDINARY_API_SECRET unset"
    cells = dict(zip((c.key for c in COMPACT_COLUMNS), row_cells(row, COMPACT_COLUMNS, NOW), strict=True))
    assert cells == {
        "status": "✗ CRIT",
        "tenant": "acme",
        "db": "✓ 12ms",
        "cfg": "75%",
        "whatsapp": "DB ✓",
        "whatsapp_otp": "-",
        "cloudinary": "ENV! ?",
        "auth": "- -",
        "smtp": "-",
        "age": "5s",
    }


def test_tenant_without_results_is_unknown_and_never_checked() -> None:
    (row,) = build_rows([T("quiet")], [r("other", "db")])
    assert row.status is Status.UNKNOWN
    assert row.reason == "not checked yet"
    assert row_cells(row, COMPACT_COLUMNS, NOW)[-1] == "never"


def test_tenant_awaiting_its_first_db_result_is_not_ok() -> None:
    (row,) = build_rows([T("fresh")], [r("fresh", "isolation")])
    assert row.status is Status.UNKNOWN


def test_db_crit_for_a_condition_still_shows_the_latency() -> None:
    result = r("a", "db", Status.CRIT, "no Company document", latency_ms=3.0).model_copy(
        update={"error_class": "condition"}
    )
    (row,) = build_rows([T("a")], [result])
    assert row_cells(row, COMPACT_COLUMNS, NOW)[2] == "✗ 3ms"


def test_db_down_shows_down_not_a_latency() -> None:
    (row,) = build_rows([T("a")], [r("a", "db", Status.CRIT, "connection refused")])
    assert row_cells(row, COMPACT_COLUMNS, NOW)[2] == "✗ down"


def test_sort_is_worst_first_then_by_name() -> None:
    rows = build_rows(
        [T("b"), T("a"), T("c"), T("d"), T("e")],
        [r("b", "db"), r("a", "db", Status.WARN), r("c", "db", Status.CRIT), r("e", "db", Status.WARN)],
    )
    assert [x.name for x in sort_rows(rows)] == ["c", "a", "e", "d", "b"]


def test_filter_by_name_tag_and_status() -> None:
    rows = build_rows(
        [T("acme-prod", ("prod", "eu")), T("beta", ("staging",)), T("okra", ("prod",))],
        [r("acme-prod", "db", Status.CRIT), r("beta", "db"), r("okra", "db", Status.WARN)],
    )
    names = lambda q: [x.name for x in filter_rows(rows, q)]  # noqa: E731
    assert names("acme") == ["acme-prod"]
    assert names("prod") == ["acme-prod", "okra"]
    assert names("crit") == ["acme-prod"]
    assert names("ok") == ["beta"]
    assert names("name:ok") == ["okra"]
    assert names("tag:staging") == ["beta"]
    assert names("prod warn") == ["okra"]
    assert names("") == ["acme-prod", "beta", "okra"]


def test_header_counts_every_status() -> None:
    rows = build_rows([T("a"), T("b"), T("c")], [r("a", "db"), r("b", "db", Status.CRIT)])
    counts = header_counts(rows)
    assert counts == {Status.OK: 1, Status.WARN: 0, Status.CRIT: 1, Status.UNKNOWN: 1}
    assert header_text(counts) == "✓ OK 1  ! WARN 0  ✗ CRIT 1  ? UNKNOWN 1"


def test_diff_updates_only_changed_cells_keyed_by_tenant() -> None:
    old = {"a": ("✓ OK", "a", "5s"), "b": ("✓ OK", "b", "5s"), "gone": ("✓ OK", "gone", "1s")}
    new = [("b", ("✗ CRIT", "b", "5s")), ("a", ("✓ OK", "a", "6s")), ("new", ("? UNKN", "new", "never"))]
    diff = diff_rows(old, ["a", "b", "gone"], new)
    assert diff.removed == ("gone",)
    assert diff.added == (("new", ("? UNKN", "new", "never")),)
    assert diff.changed == {"b": {0: "✗ CRIT"}, "a": {2: "6s"}}
    assert diff.reordered
    assert diff.order == ("b", "a", "new")


def test_diff_of_identical_renderings_is_empty() -> None:
    rows = {"a": ("x",), "b": ("y",)}
    diff = diff_rows(rows, ["a", "b"], [("a", ("x",)), ("b", ("y",))])
    assert diff.empty


def test_labels_read_without_colour() -> None:
    assert [status_label(s) for s in Status] == ["✓ OK", "! WARN", "✗ CRIT", "? UNKN"]
    assert status_label(None) == "-"


def test_formatting_helpers() -> None:
    assert [format_age(timedelta(seconds=s)) for s in (0, 59, 60, 3600, 90000)] == [
        "0s",
        "59s",
        "1m",
        "1h",
        "1d",
    ]
    assert format_age(None) == "never"
    assert completeness_bar(0.7) == "███████░░░ 70%"
    assert sparkline([1, 1, 1]) == "▁▁▁"
    assert sparkline([0, 7]) == "▁█"
    assert sparkline([]) == ""


def test_layout_uses_the_room_on_large_terminals() -> None:
    assert columns_for_width(80) is COMPACT_COLUMNS
    assert columns_for_width(160) is WIDE_COLUMNS
    compact_width = sum(c.width or 0 for c in COMPACT_COLUMNS) + len(COMPACT_COLUMNS)
    assert compact_width <= 78
