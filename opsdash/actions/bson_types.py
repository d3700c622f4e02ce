"""Type-faithful values: the BSON type Prisma writes for each Company field, and how values are compared,
shown in the audit log and read back from it. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import Int64

from opsdash.config.company import FIELDS_BY_NAME, PrismaType
from opsdash.redact import fingerprint


def to_bson(field: str, value: Any) -> Any:
    """``value`` (already parsed and validated) as Prisma stores it: Int as Int64, DateTime as a UTC Date,
    Boolean as bool, String as str (``smtpPort`` stays ``"587"``)."""
    if value is None:
        return None
    prisma_type = FIELDS_BY_NAME[field].prisma_type
    return bson_for_type(prisma_type, value)


def bson_for_type(prisma_type: PrismaType, value: Any) -> Any:
    """The BSON form of a Python value of a Prisma scalar type."""
    if prisma_type == "Int":
        return Int64(int(value))
    if prisma_type == "Boolean":
        return bool(value)
    if prisma_type == "DateTime":
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        when = when.astimezone(UTC)
        return when.replace(microsecond=when.microsecond // 1000 * 1000)
    return str(value)


def same_value(a: Any, b: Any) -> bool:
    """Equality as MongoDB would see it for these scalars: Int64 equals int, naive datetimes are UTC,
    but ``True`` is not ``1`` and ``"587"`` is not ``587``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _utc(a) == _utc(b)
    if isinstance(a, int) and isinstance(b, int):
        return int(a) == int(b)
    return type(a) is type(b) and a == b


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def shown(value: Any, secret: bool) -> Any:
    """A value as the audit log and screens may hold it: secrets as ``sha256:<8 hex>`` (or ``""`` for an
    empty secret), dates as ISO text, Int64 as int; ``None`` stays ``None``."""
    if value is None:
        return None
    if secret:
        text = str(value)
        return "" if text == "" else f"sha256:{fingerprint(text)}"
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


def from_shown(field: str, value: Any) -> Any:
    """Invert :func:`shown` for a non-secret field: the value to write back (BSON-typed)."""
    if value is None:
        return None
    prisma_type = FIELDS_BY_NAME[field].prisma_type
    if prisma_type == "DateTime" and isinstance(value, str):
        return bson_for_type("DateTime", datetime.fromisoformat(value))
    return bson_for_type(prisma_type, value)


def matches_shown(value: Any, recorded: Any, secret: bool) -> bool:
    """Whether a current raw value is the one an audit record shows (by fingerprint for secrets)."""
    if secret:
        return shown(value, True) == recorded
    if recorded is None or value is None:
        return recorded is None and value is None
    return same_value(shown(value, False), recorded)
