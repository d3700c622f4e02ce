"""``[alerts]`` validation: defaults, and one-line errors naming file and key."""

from __future__ import annotations

import pytest

from opsdash.alerts.policy import AlertPolicy, parse_policy
from opsdash.checks.base import Status
from opsdash.errors import ConfigError


def test_defaults() -> None:
    policy = parse_policy({})
    assert (policy.fire_after, policy.resolve_after) == (2, 1)
    assert policy.fire_on == (Status.CRIT, Status.WARN)
    assert policy.resend_interval < policy.resolve_timeout == 300
    assert policy.delivery_timeout == 10


def test_values_are_read() -> None:
    policy = parse_policy({"fire_after": 3, "resolve_after": 2, "fire_on": "crit", "resend_interval": 30})
    assert policy == AlertPolicy(fire_after=3, resolve_after=2, fire_on=("CRIT",), resend_interval=30)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"fire_after": 0}, "fleet.toml: alerts.fire_after: Input should be greater than or equal to 1"),
        ({"bogus": 1}, "fleet.toml: unknown key 'alerts.bogus'"),
        ({"resend_interval": 600}, "fleet.toml: alerts: resend_interval must be below resolve_timeout"),
        ({"fire_on": ["OK"]}, "fleet.toml: alerts.fire_on: OK cannot count as a failure"),
        ({"fire_on": []}, "fleet.toml: alerts.fire_on: must name at least one status"),
    ],
)
def test_errors_are_one_line(raw: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policy(raw, "fleet.toml")
    assert str(info.value) == expected
    assert info.value.exit_code == 2
