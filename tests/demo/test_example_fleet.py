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


def commented_table(text: str, header: str) -> dict[str, object]:
    """The commented-out ``# [header]`` block of tenants.toml, uncommented and parsed."""
    import tomllib

    lines = text.split(f"# [{header}]", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    body = "\n".join(line.removeprefix("#").split(" # ")[0] for line in lines if "=" in line)
    return tomllib.loads(body)


def test_example_fleet_documents_every_global_key_with_its_default() -> None:
    from opsdash.alerts.policy import AlertPolicy
    from opsdash.config.fleet import Endpoints, PollSettings, StateSettings, TenantEntry, VercelProject

    text = (REPO_ROOT / "tenants.toml").read_text(encoding="utf-8")
    assert commented_table(text, "poll") == PollSettings().model_dump()
    endpoints = commented_table(text, "endpoints")
    assert set(endpoints) == set(Endpoints.model_fields)
    assert {k: v for k, v in endpoints.items() if k != "extra_ca_file"} == {
        k: v for k, v in Endpoints().model_dump().items() if k != "extra_ca_file"
    }
    state = commented_table(text, "state")
    assert set(state) == set(StateSettings.model_fields)
    assert {k: v for k, v in state.items() if k != "dir"} == {
        k: v for k, v in StateSettings().model_dump().items() if k != "dir"
    }
    for model in (TenantEntry, VercelProject, AlertPolicy):
        missing = [name for name in model.model_fields if name not in text]
        assert not missing, (model.__name__, missing)
