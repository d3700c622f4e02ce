"""``--check KIND`` resolution to groups and result filtering."""

from __future__ import annotations

import pytest

from opsdash.errors import ConfigError
from opsdash.headless.selection import groups_for, keep, with_fleet_checks

TABLE = with_fleet_checks({
    "db": ("db",),
    "config": ("config:whatsapp", "config:email", "fallback:whatsapp"),
    "integrations": ("whatsapp", "whatsapp:fallback", "smtp"),
})


def test_isolation_runs_with_the_config_group() -> None:
    assert "isolation" in TABLE["config"]


@pytest.mark.parametrize(
    ("kinds", "groups"),
    [
        (None, ["db", "config", "integrations"]),
        (["db"], ["db"]),
        (["config"], ["config"]),
        (["fallback"], ["config"]),
        (["whatsapp"], ["integrations"]),
        (["isolation", "smtp"], ["config", "integrations"]),
        (["config:email"], ["config"]),
    ],
)
def test_groups_for(kinds: list[str] | None, groups: list[str]) -> None:
    assert groups_for(kinds, TABLE) == groups


def test_unknown_kind_is_a_one_line_error_listing_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"^--check mongo: unknown check kind \(known: .*db.*\)$"):
        groups_for(["mongo"], TABLE)


def test_keep_filters_within_a_group() -> None:
    assert keep("whatsapp:fallback", ["whatsapp"], TABLE)
    assert not keep("smtp", ["whatsapp"], TABLE)
    assert keep("config:email", ["config"], TABLE) and keep("isolation", ["config"], TABLE)
    assert not keep("fallback:whatsapp", ["config:email"], TABLE)
    assert keep("anything", None, TABLE)
