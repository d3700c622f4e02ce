"""The repo's tenants.toml is the documented example, and it mirrors the demo fleet."""

from __future__ import annotations

from pathlib import Path

from opsdash.config.fleet import load_fleet
from opsdash.demo.fleet import DEMO_TENANTS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_example_fleet_loads_and_mirrors_the_demo() -> None:
    fleet = load_fleet(REPO_ROOT / "tenants.toml")
    assert [t.name for t in fleet.tenants] == [t.name for t in DEMO_TENANTS]
    assert [t.tags for t in fleet.tenants] == [t.tags for t in DEMO_TENANTS]
    for tenant in fleet.tenants:
        assert tenant.env_source.read()["USE_DB_WHATSAPP"] in {"true", "TRUE"}
