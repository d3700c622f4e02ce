"""The fake Vercel REST API as seen by an httpx client."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from opsdash.fakes.vercel import FakeVercel

TOKEN = "vc-token"
TEAM = "team_abc"
PROJECT = "prj_123"


@pytest.fixture
def vercel() -> Iterator[FakeVercel]:
    with FakeVercel(token=TOKEN, team_id=TEAM) as fake:
        fake.add_project(PROJECT, "shop", envs={"MONGO_URL": "mongodb://x", "FLAG": "1"})
        fake.add_env(PROJECT, "SECRET_KEY", "hidden", type="sensitive", target=["production"])
        yield fake


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()


@pytest.fixture
def client(vercel: FakeVercel, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=vercel.url,
        verify=tls,
        headers={"Authorization": f"Bearer {TOKEN}"},
        params={"teamId": TEAM},
        timeout=5,
    ) as c:
        yield c


def test_list_env_includes_values_except_sensitive(client: httpx.Client) -> None:
    body = client.get(f"/v10/projects/{PROJECT}/env").json()
    by_key = {e["key"]: e for e in body["envs"]}
    assert by_key["MONGO_URL"]["value"] == "mongodb://x"
    assert by_key["MONGO_URL"]["type"] == "encrypted"
    assert by_key["MONGO_URL"]["target"] == ["production", "preview", "development"]
    assert "value" not in by_key["SECRET_KEY"]
    assert body["pagination"]["count"] == 3


def test_project_addressable_by_name(client: httpx.Client) -> None:
    assert client.get("/v10/projects/shop/env").status_code == 200


def test_read_single_env(client: httpx.Client, vercel: FakeVercel) -> None:
    (flag,) = vercel.projects[PROJECT].env_by_key("FLAG")
    body = client.get(f"/v1/projects/{PROJECT}/env/{flag['id']}").json()
    assert (body["key"], body["value"], body["decrypted"]) == ("FLAG", "1", True)
    assert client.get(f"/v1/projects/{PROJECT}/env/missing").status_code == 404


def test_create_reports_conflicts_in_failed(client: httpx.Client, vercel: FakeVercel) -> None:
    response = client.post(
        f"/v10/projects/{PROJECT}/env",
        json=[
            {"key": "NEW_ONE", "value": "v", "type": "encrypted", "target": ["production"]},
            {"key": "FLAG", "value": "2", "type": "encrypted", "target": ["production"]},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert [c["key"] for c in body["created"]] == ["NEW_ONE"]
    (failure,) = body["failed"]
    assert failure["error"]["code"] == "ENV_ALREADY_EXISTS"
    assert vercel.env_values(PROJECT)["FLAG"] == "1"


def test_upsert_overwrites(client: httpx.Client, vercel: FakeVercel) -> None:
    response = client.post(
        f"/v10/projects/{PROJECT}/env",
        params={"upsert": "true"},
        json={"key": "FLAG", "value": "2", "type": "encrypted", "target": ["production"]},
    )
    body = response.json()
    assert body["created"]["key"] == "FLAG"
    assert body["failed"] == []
    assert vercel.env_values(PROJECT)["FLAG"] == "2"


def test_patch_and_delete(client: httpx.Client, vercel: FakeVercel) -> None:
    (flag,) = vercel.projects[PROJECT].env_by_key("FLAG")
    patched = client.patch(f"/v9/projects/{PROJECT}/env/{flag['id']}", json={"value": "3"})
    assert patched.json()["value"] == "3"
    assert vercel.env_values(PROJECT)["FLAG"] == "3"
    assert client.delete(f"/v9/projects/{PROJECT}/env/{flag['id']}").status_code == 200
    assert "FLAG" not in vercel.env_values(PROJECT)
    assert client.delete(f"/v9/projects/{PROJECT}/env/{flag['id']}").status_code == 404


def test_auth_and_team_checks(vercel: FakeVercel, tls: ssl.SSLContext) -> None:
    url = f"{vercel.url}/v10/projects/{PROJECT}/env"
    with httpx.Client(verify=tls) as http:
        missing = http.get(url, params={"teamId": TEAM})
        assert missing.status_code == 403
        bad = http.get(url, params={"teamId": TEAM}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 403
        assert bad.json()["error"]["invalidToken"] is True
        no_team = http.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert no_team.status_code == 404
        assert no_team.json()["error"]["code"] == "not_found"
        wrong_team = http.get(url, params={"teamId": "team_x"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert wrong_team.status_code == 403


def test_redeploy_flow(client: httpx.Client, vercel: FakeVercel) -> None:
    vercel.redeploy_polls = 1
    listing = client.get(
        "/v7/deployments",
        params={"projectId": PROJECT, "target": "production", "state": "READY", "limit": 1},
    ).json()
    (current,) = listing["deployments"]
    assert current["readyState"] == "READY"
    assert current["target"] == "production"

    created = client.post(
        "/v13/deployments",
        json={"name": "shop", "deploymentId": current["uid"], "target": "production"},
    ).json()
    assert created["id"] != current["uid"]
    assert created["readyState"] == "BUILDING"
    assert vercel.redeploys[0]["body"]["deploymentId"] == current["uid"]
    assert vercel.redeploys[0]["query"]["teamId"] == [TEAM]

    first = client.get(f"/v13/deployments/{created['id']}").json()
    second = client.get(f"/v13/deployments/{created['id']}").json()
    assert (first["readyState"], second["readyState"]) == ("BUILDING", "READY")

    newest = client.get(
        "/v7/deployments", params={"projectId": PROJECT, "state": "READY", "limit": 1}
    ).json()["deployments"][0]
    assert newest["uid"] == created["id"]


def test_redeploy_unknown_deployment(client: httpx.Client) -> None:
    response = client.post(
        "/v13/deployments", json={"name": "shop", "deploymentId": "dpl_nope", "target": "production"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500])
def test_fail_next(client: httpx.Client, vercel: FakeVercel, status: int) -> None:
    vercel.fail_next(status, 2)
    for _ in range(2):
        response = client.get(f"/v10/projects/{PROJECT}/env")
        assert response.status_code == status
        assert set(response.json()["error"]) == {"code", "message"}
    if status == 429:
        assert response.headers["Retry-After"] == "60"
    assert client.get(f"/v10/projects/{PROJECT}/env").status_code == 200
    assert len(vercel.requests) == 3
