"""Behaviour of the fake Graph API as seen by an httpx client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from opsdash.fakes.graph import FakeGraphAPI, appsecret_proof

TOKEN = "EAAG-system-user-token"
SECRET = "app-secret-123"
PHONE = "109876543210987"
ALL_FIELDS = (
    "id,display_phone_number,verified_name,status,quality_rating,name_status,"
    "code_verification_status,platform_type,throughput,account_mode,health_status"
)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI() as fake:
        fake.add_number(PHONE, token=TOKEN, app_secret=SECRET, app_id="555000111")
        yield fake


def get_number(
    client: httpx.Client,
    graph: FakeGraphAPI,
    *,
    version: str = "v23.0",
    phone: str = PHONE,
    token: str | None = TOKEN,
    fields: str = ALL_FIELDS,
    proof: str | None = "auto",
) -> httpx.Response:
    params = {"fields": fields}
    if proof == "auto" and token is not None:
        params["appsecret_proof"] = appsecret_proof(SECRET, token)
    elif proof not in (None, "auto"):
        params["appsecret_proof"] = proof
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"{graph.url}/{version}/{phone}", params=params, headers=headers)


def test_healthy_number_echoes_only_requested_fields(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = get_number(client, graph, fields="status,quality_rating")
    assert response.status_code == 200
    assert response.json() == {"status": "CONNECTED", "quality_rating": "GREEN", "id": PHONE}


def test_health_status_shape_and_app_entity(client: httpx.Client, graph: FakeGraphAPI) -> None:
    body = get_number(client, graph).json()
    health = body["health_status"]
    assert health["can_send_message"] == "AVAILABLE"
    types = {e["entity_type"]: e for e in health["entities"]}
    assert set(types) == {"PHONE_NUMBER", "WABA", "BUSINESS", "APP"}
    assert types["APP"]["id"] == "555000111"
    assert all(e["can_send_message"] == "AVAILABLE" for e in health["entities"])
    assert body["platform_type"] == "CLOUD_API"
    assert body["account_mode"] == "LIVE"


def test_messaging_limit_field_depends_on_version(client: httpx.Client, graph: FakeGraphAPI) -> None:
    old = get_number(client, graph, version="v23.0", fields="messaging_limit_tier").json()
    assert old["messaging_limit_tier"] == "TIER_2K"

    rejected = get_number(client, graph, version="v23.0", fields="whatsapp_business_manager_messaging_limit")
    assert rejected.status_code == 400
    assert rejected.json()["error"]["code"] == 100

    new = get_number(
        client,
        graph,
        version="v24.0",
        fields="messaging_limit_tier,whatsapp_business_manager_messaging_limit",
    ).json()
    assert new == {"whatsapp_business_manager_messaging_limit": "TIER_2K", "id": PHONE}


def test_invalid_token_is_code_190_with_http_401(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = get_number(client, graph, token="not-a-token")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("Error validating access token")
    assert error["fbtrace_id"]


def test_expired_token_is_code_190(client: httpx.Client, graph: FakeGraphAPI) -> None:
    graph.expire_token(TOKEN)
    response = get_number(client, graph)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190


def test_unknown_phone_id_is_100_subcode_33(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = get_number(client, graph, phone="123")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    assert "Object with ID '123' does not exist" in error["message"]


def test_number_of_another_token_is_not_visible(client: httpx.Client, graph: FakeGraphAPI) -> None:
    graph.add_number("200000000000002", token="other-token", app_id="555000111")
    response = get_number(client, graph, phone="200000000000002")
    assert response.json()["error"]["error_subcode"] == 33


def test_wrong_appsecret_proof(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = get_number(client, graph, proof=appsecret_proof("wrong-secret", TOKEN))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert error["message"] == "Invalid appsecret_proof provided in the API argument"


def test_missing_proof_only_matters_when_required(client: httpx.Client, graph: FakeGraphAPI) -> None:
    assert get_number(client, graph, proof=None).status_code == 200
    graph.add_number("300", token="strict-token", app_id="777", app_secret="s", require_appsecret_proof=True)
    response = httpx.get(
        f"{graph.url}/v23.0/300",
        params={"fields": "status"},
        headers={"Authorization": "Bearer strict-token"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "API calls from the server require an appsecret_proof argument"
    )


def test_missing_token(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = get_number(client, graph, token=None, proof=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2500


@pytest.mark.parametrize(
    ("code", "status"),
    [(4, 400), (80007, 429), (130429, 429), (10, 400), (200, 400), (368, 400)],
)
def test_forced_errors(client: httpx.Client, graph: FakeGraphAPI, code: int, status: int) -> None:
    graph.force_error(PHONE, code)
    response = get_number(client, graph)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_forced_error_for_n_requests_then_recovers(client: httpx.Client, graph: FakeGraphAPI) -> None:
    graph.force_error(PHONE, 130429, times=2, http_status=400)
    assert get_number(client, graph).status_code == 400
    assert get_number(client, graph).json()["error"]["error_data"]["messaging_product"] == "whatsapp"
    assert get_number(client, graph).status_code == 200


def test_degraded_fields_and_usage_header(client: httpx.Client, graph: FakeGraphAPI) -> None:
    graph.set_fields(PHONE, quality_rating="RED", status="FLAGGED")
    graph.business_use_case_usage = {"102290129340398": [{"type": "whatsapp", "call_count": 85}]}
    response = get_number(client, graph, fields="status,quality_rating")
    assert response.json()["quality_rating"] == "RED"
    usage = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert usage["102290129340398"][0]["call_count"] == 85


def test_requests_are_recorded(client: httpx.Client, graph: FakeGraphAPI) -> None:
    get_number(client, graph)
    assert graph.wait_for_requests(1)
    (request,) = graph.requests
    assert request.bearer_token() == TOKEN
    assert request.param("appsecret_proof") == appsecret_proof(SECRET, TOKEN)


def test_debug_token_with_app_token(client: httpx.Client, graph: FakeGraphAPI) -> None:
    response = httpx.get(
        f"{graph.url}/v23.0/debug_token",
        params={"input_token": TOKEN, "access_token": f"555000111|{SECRET}"},
    )
    data = response.json()["data"]
    assert data["is_valid"] is True
    assert data["app_id"] == "555000111"
    assert data["expires_at"] == 0
    assert {"whatsapp_business_messaging", "whatsapp_business_management"} <= set(data["scopes"])


def test_debug_token_rejects_wrong_app_secret_and_reports_invalid_input(
    client: httpx.Client,
    graph: FakeGraphAPI,
) -> None:
    bad = httpx.get(
        f"{graph.url}/v23.0/debug_token",
        params={"input_token": TOKEN, "access_token": "555000111|nope"},
    )
    assert bad.json()["error"]["code"] == 190
    invalid = httpx.get(
        f"{graph.url}/v23.0/debug_token",
        params={"input_token": "garbage", "access_token": f"555000111|{SECRET}"},
    )
    assert invalid.status_code == 200
    assert invalid.json()["data"]["is_valid"] is False


def test_stop_releases_port() -> None:
    fake = FakeGraphAPI()
    url = fake.start()
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v23.0/1")
