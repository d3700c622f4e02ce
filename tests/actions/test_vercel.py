"""Flips of a Vercel tenant against the loopback Vercel API: PATCH or create, redeploy only on request,
and one clear line for every API error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsdash.actions.flip import flip, redeploy
from opsdash.actions.undo import undo
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.fakes.vercel import FakeVercel
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company
from tests.actions.conftest import ADMIN, CANARY_CLOUD, ENV_SIDE
from tests.conftest import run_opsdash

TOKEN = "vercel-canary-token-0a1b2c"
TEAM = "team_ops"
PROJECT = "prj_acme"
TOKEN_ENV = "OPSDASH_TEST_VERCEL_TOKEN"


@pytest.fixture
def vercel() -> Iterator[FakeVercel]:
    with FakeVercel(token=TOKEN, team_id=TEAM) as fake:
        fake.add_project(PROJECT, "acme-shop", envs={**ENV_SIDE, "USE_DB_CLOUDINARY": "true"})
        yield fake


@pytest.fixture
def vercel_fleet(tmp_path: Path, mongo_url: str, state_dir: Path, vercel: FakeVercel,
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    db = f"t_vercel_{uuid.uuid4().hex[:10]}"
    seed_company(mongo_url, db, healthy_company())
    settings = {"project": PROJECT, "team_id": TEAM, "token_env": TOKEN_ENV}
    return write_fleet(
        tmp_path,
        [
            TenantFiles("acme", database_url(mongo_url, db), extra={"vercel": settings}),
            TenantFiles("ghost", database_url(mongo_url, db + "_g"),
                        extra={"vercel": {**settings, "project": "prj_missing"}}),
        ],
        tables={"endpoints": {"vercel_api": vercel.url}},
    )


def _fleet(path: Path) -> Fleet:
    return load_fleet(path)


def _values(fake: FakeVercel) -> dict[str, str]:
    return fake.env_values(PROJECT)


def test_flip_patches_the_variable_and_never_redeploys_by_itself(
    vercel_fleet: Path, vercel: FakeVercel
) -> None:
    fleet = _fleet(vercel_fleet)
    out = flip(fleet, "acme", "cloudinary", "env", reason="db down", operator=ADMIN)
    assert out.applied, out.message
    assert _values(vercel)["USE_DB_CLOUDINARY"] == "false"
    assert out.redeploy_needed and "redeploy needed" in out.message
    assert len(vercel.requests_to(rf"/v9/projects/{PROJECT}/env/.+", "PATCH")) == 1
    assert vercel.redeploys == []

    current = vercel.projects[PROJECT].deployments
    (source_id,) = current
    done = redeploy(fleet, "acme", reason="apply flip", operator=ADMIN)
    assert done.applied, done.message
    (request,) = vercel.redeploys
    assert request["body"] == {"name": "acme-shop", "deploymentId": source_id, "target": "production"}
    assert request["query"]["teamId"] == [TEAM]


def test_absent_flag_is_created_for_production(vercel_fleet: Path, vercel: FakeVercel) -> None:
    fleet = _fleet(vercel_fleet)
    out = flip(fleet, "acme", "auth", "db", reason="r", operator=ADMIN)
    assert out.applied, out.message
    (created,) = vercel.projects[PROJECT].env_by_key("USE_DB_AUTH_CALLBACK")
    assert (created["value"], created["target"]) == ("true", ["production"])
    assert undo(fleet, out.audit_id, operator=ADMIN).applied
    assert vercel.projects[PROJECT].env_by_key("USE_DB_AUTH_CALLBACK") == []


@pytest.mark.parametrize(
    ("status", "words", "exit_code"),
    [
        (401, "rejected the token in $OPSDASH_TEST_VERCEL_TOKEN (401", 2),
        (403, "denied access to project 'prj_acme' in team 'team_ops' (403 forbidden", 2),
        (404, "(404", 2),
        (429, "rate limit hit for project 'prj_acme' in team 'team_ops' (429", 1),
        (500, "Vercel API error 500 for project 'prj_acme'", 1),
    ],
)
def test_api_errors_give_one_clear_line(
    vercel_fleet: Path, vercel: FakeVercel, status: int, words: str, exit_code: int
) -> None:
    fleet = _fleet(vercel_fleet)
    vercel.fail_next(status)
    out = flip(fleet, "acme", "cloudinary", "env", reason="r", operator=ADMIN)
    assert out.exit_code == exit_code and words in out.message
    assert "\n" not in out.message and TOKEN not in out.message
    assert _values(vercel)["USE_DB_CLOUDINARY"] == "true"
    if status == 429:
        assert "retry in 60s" in out.message


def test_unknown_project_and_missing_token(vercel_fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = _fleet(vercel_fleet)
    out = flip(fleet, "ghost", "cloudinary", "env", reason="r", operator=ADMIN)
    assert out.exit_code == 2 and "project 'prj_missing' in team 'team_ops'" in out.message
    monkeypatch.delenv(TOKEN_ENV)
    out = flip(fleet, "acme", "cloudinary", "env", reason="r", operator=ADMIN)
    assert out.exit_code == 2 and f"${TOKEN_ENV} is unset" in out.message


def test_cli_redeploys_only_when_asked(vercel_fleet: Path, vercel: FakeVercel) -> None:
    base = ["--config", str(vercel_fleet)]
    res = run_opsdash([*base, "flag", "acme", "cloudinary", "env", "--reason", "db down", "--yes"])
    assert res.returncode == 0, res.stderr
    assert "redeploy needed" in res.stdout and "not redeployed" in res.stdout
    assert vercel.redeploys == []
    res = run_opsdash([*base, "flag", "acme", "cloudinary", "db", "--reason", "back", "--yes", "--redeploy"])
    assert res.returncode == 0, res.stderr
    assert len(vercel.redeploys) == 1 and "redeploy of dpl_" in res.stdout
    for text in (res.stdout, res.stderr):
        assert TOKEN not in text and CANARY_CLOUD not in text
