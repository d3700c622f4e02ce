"""The ``[alerts]`` table of tenants.toml: thresholds, resend pacing and delivery retries, validated."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsdash.checks.base import Status
from opsdash.errors import ConfigError


class AlertPolicy(BaseModel):
    """When a check's alert fires and resolves, and how alerts are delivered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fire_after: int = Field(2, ge=1, description="consecutive failing results before an alert fires")
    resolve_after: int = Field(1, ge=1, description="consecutive OK results before it resolves")
    fire_on: tuple[Status, ...] = Field(
        (Status.CRIT, Status.WARN), description="statuses that count as a failure"
    )
    resend_interval: float = Field(
        60, gt=0, description="seconds between re-sends of firing alerts to Alertmanager"
    )
    resolve_timeout: float = Field(
        300, gt=0, description="Alertmanager's resolve_timeout; resend_interval must stay below it"
    )
    resolved_resend_for: float = Field(
        300, ge=0, description="seconds a resolved alert keeps being re-sent to Alertmanager"
    )
    delivery_timeout: float = Field(10, gt=0, description="per-request timeout of every sink")
    retry_initial: float = Field(1, gt=0, description="first retry delay after a failed delivery")
    retry_max: float = Field(60, gt=0, description="cap of the exponential retry delay")
    webhook_max_attempts: int = Field(10, ge=1, description="attempts per webhook message before giving up")
    heartbeat_interval: float | None = Field(
        None, gt=0, description="minimum seconds between heartbeats (default: the db check interval)"
    )
    generator_url: str | None = Field(None, description="generatorURL sent to Alertmanager")

    @field_validator("fire_on", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError("must name at least one status")
            if Status.OK in [str(v).upper() for v in value]:
                raise ValueError("OK cannot count as a failure")
            return tuple(str(v).upper() for v in value)
        return value

    @model_validator(mode="after")
    def _resend_below_timeout(self) -> AlertPolicy:
        if self.resend_interval >= self.resolve_timeout:
            raise ValueError("resend_interval must be below resolve_timeout")
        return self

    def is_failure(self, status: Status) -> bool:
        return status in self.fire_on


def parse_policy(raw: Mapping[str, Any], where: Path | str = "tenants.toml") -> AlertPolicy:
    """Validate ``[alerts]``; raises a one-line ``ConfigError`` naming the file and key."""
    try:
        return AlertPolicy.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(part) for part in err["loc"] if not isinstance(part, int))
        key = f"alerts.{key}" if key else "alerts"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}: unknown key '{key}'") from None
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {key}: {message}") from None
