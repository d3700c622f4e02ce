"""Values are written in the BSON type Prisma uses and compared the way MongoDB would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bson import Int64

from opsdash.actions.bson_types import bson_for_type, from_shown, matches_shown, same_value, shown, to_bson


def test_prisma_types_map_to_bson_types() -> None:
    assert type(to_bson("taxPercentage", 20)) is Int64
    assert to_bson("smtpPort", "587") == "587" and type(to_bson("smtpPort", "587")) is str
    assert to_bson("requireWhatsappOtp", True) is True
    local = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    as_date = bson_for_type("DateTime", local)
    assert as_date == datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert as_date.tzinfo == UTC


def test_same_value_is_type_strict_where_mongo_is() -> None:
    assert same_value(Int64(5), 5)
    assert not same_value(True, 1)
    assert not same_value("587", 587)
    assert same_value(datetime(2025, 1, 1), datetime(2025, 1, 1, tzinfo=UTC))


def test_shown_hides_secrets_and_round_trips_plain_values() -> None:
    assert shown("hunter2-secret", True).startswith("sha256:")
    assert "hunter2" not in shown("hunter2-secret", True)
    assert shown("", True) == "" and shown(None, True) is None
    assert from_shown("taxPercentage", shown(Int64(7), False)) == Int64(7)
    assert type(from_shown("taxPercentage", 7)) is Int64
    assert from_shown("requireWhatsappOtp", shown(False, False)) is False
    assert matches_shown("hunter2-secret", shown("hunter2-secret", True), True)
    assert not matches_shown("other", shown("hunter2-secret", True), True)
    assert matches_shown(Int64(7), 7, False) and not matches_shown(True, 1, False)
    assert matches_shown(None, None, False) and not matches_shown("", None, False)
