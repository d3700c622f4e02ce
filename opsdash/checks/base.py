"""The one result type every check returns, and the status ordering everything else agrees on."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from opsdash.redact import scrub


class Status(StrEnum):
    """OK, WARN, CRIT, or UNKNOWN when opsdash itself could not decide (a down target is CRIT)."""

    OK = "OK"
    WARN = "WARN"
    CRIT = "CRIT"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """Badness for "worst wins": CRIT > WARN > UNKNOWN > OK."""
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """Nagios plugin exit code: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN."""
        return _EXIT[self]


_RANK = {Status.OK: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.CRIT: 3}
_EXIT = {Status.OK: 0, Status.WARN: 1, Status.CRIT: 2, Status.UNKNOWN: 3}

ErrorClass = Literal["dns", "connect", "tls", "timeout", "auth", "protocol", "condition"]
ConfigSource = Literal["db", "env"]


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of several statuses; OK for none."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


_new_result = object.__new__
_set_attribute = object.__setattr__
_TIMESTAMP = frozenset({"timestamp"})


class CheckResult(BaseModel):
    """What one run of one check found about one tenant (or the fleet, for fleet-wide checks)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    check: str = Field(description="check id, e.g. 'db', 'whatsapp', 'whatsapp:fallback'")
    status: Status
    summary: str = Field(description="one line a person reads")
    error_class: ErrorClass | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source: ConfigSource | None = Field(None, description="the config source the check used")

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant, self.check)

    def restamped(self, timestamp: datetime) -> CheckResult:
        """The same verdict at another time: ``model_copy(update={"timestamp": timestamp})``, sharing
        every other field's objects (the results store knows such a copy's content without serialising
        it), and built without ``model_copy``'s generic path, as a pass restamps thousands of them."""
        fields = self.__dict__.copy()
        fields["timestamp"] = timestamp
        fields_set = self.__pydantic_fields_set__
        if "timestamp" not in fields_set:
            fields_set = fields_set | _TIMESTAMP
        return _unvalidated(type(self), fields, fields_set)

    @classmethod
    def of_known_types(
        cls,
        tenant: str,
        check: str,
        status: Status,
        summary: str,
        error_class: ErrorClass | None,
        details: dict[str, Any],
        duration_s: float,
        timestamp: datetime,
        source: ConfigSource | None,
    ) -> CheckResult:
        """``CheckResult(...)`` with every field given. Arguments already of the fields' exact types (as a
        check's verdict gives them) are taken as they are, without validating each one again: a pass
        builds a dozen results per tenant. Any other argument goes through validation."""
        if (
            type(tenant) is str
            and type(check) is str
            and type(status) is Status
            and type(summary) is str
            and (error_class is None or (type(error_class) is str and error_class in _ERROR_CLASSES))
            and type(details) is dict
            and type(duration_s) is float
            and type(timestamp) is datetime
            and (source is None or (type(source) is str and source in _SOURCES))
        ):
            fields = {
                "tenant": tenant,
                "check": check,
                "status": status,
                "summary": summary,
                "error_class": error_class,
                "details": details,
                "duration_s": duration_s,
                "timestamp": timestamp,
                "source": source,
            }
            return _unvalidated(cls, fields, set(_ALL_FIELDS))
        return cls(
            tenant=tenant,
            check=check,
            status=status,
            summary=summary,
            error_class=error_class,
            details=details,
            duration_s=duration_s,
            timestamp=timestamp,
            source=source,
        )

    def scrubbed(self, secrets: Iterable[str]) -> CheckResult:
        """A copy with DSN passwords and the given secret values removed from every string."""
        secret_list = [s for s in secrets if s]

        def clean(value: Any) -> Any:
            if isinstance(value, str):
                return scrub(value, secret_list)
            if isinstance(value, dict):
                return {clean(k): clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        return self.model_copy(
            update={"summary": clean(self.summary), "details": clean(self.details)}
        )


def _unvalidated(cls: type[CheckResult], fields: dict[str, Any], fields_set: set[str]) -> CheckResult:
    """A result made of fields already known valid, as pydantic's own construction leaves one."""
    made = _new_result(cls)
    _set_attribute(made, "__dict__", fields)
    _set_attribute(made, "__pydantic_fields_set__", fields_set)
    _set_attribute(made, "__pydantic_extra__", None)
    _set_attribute(made, "__pydantic_private__", None)
    return made


_ERROR_CLASSES = frozenset(get_args(ErrorClass))
_SOURCES = frozenset(get_args(ConfigSource))
_ALL_FIELDS = frozenset(CheckResult.model_fields)
