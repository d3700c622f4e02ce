"""The WhatsApp probe against the loopback Graph API fake: every mapped response, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opsdash.checks import whatsapp
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.config.fleet import Fleet
from opsdash.fakes.graph import FakeGraphAPI, appsecret_proof
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.seed import healthy_company
from tests.checks.conftest import FleetFactory, resolved

TOKEN = "EAAG-canary-token-0123456789"
APP_SECRET = "canary-app-secret-abcdef"
PHONE_ID = "1099000000001"


@pytest.fixture
def graph() -> Iterator[FakeGraphAPI]:
    with FakeGraphAPI() as fake:
        fake.add_number(PHONE_ID, token=TOKEN, app_secret=APP_SECRET)
        yield fake


@pytest.fixture
def probe_with(make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]) -> Callable[..., Any]:
    async def run(base_url: str, deadline: float = 3.0, **company: Any) -> CheckResult:
        fleet = make_fleet(endpoints={"graph_api": base_url})
        res = resolved(
            "whatsapp",
            company=healthy_company(
                **{
                    "whatsappPermanentToken": TOKEN,
                    "whatsappAppSecret": APP_SECRET,
                    "whatsappPhoneNumberId": PHONE_ID,
                    **company,
                }
            ),
            use_db=True,
        )
        ctx = make_ctx(fleet)
        started = time.monotonic()
        result = await whatsapp.run(ctx, "acme", res, deadline)
        run.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
        return result

    return run


def assert_no_secrets(result: CheckResult) -> None:
    dumped = result.model_dump_json()
    for secret in (TOKEN, APP_SECRET, appsecret_proof(APP_SECRET, TOKEN)):
        assert secret not in dumped


async def test_healthy_number_is_ok_with_proof_and_bearer(graph: FakeGraphAPI, probe_with: Any) -> None:
    result = await probe_with(graph.url)
    assert result.status == Status.OK, result.summary
    assert (result.check, result.source) == ("whatsapp", "db")
    assert result.details["messaging_limit"] == "TIER_2K"
    [request] = graph.requests_to(rf"/v23.0/{PHONE_ID}")
    assert request.bearer_token() == TOKEN
    assert request.param("appsecret_proof") == appsecret_proof(APP_SECRET, TOKEN)
    assert request.param("access_token") is None
    fields = (request.param("fields") or "").split(",")
    assert {"health_status", "quality_rating", "status", "name_status", "messaging_limit_tier"} <= set(fields)
    assert_no_secrets(result)


async def test_v24_asks_for_the_new_messaging_limit_field(graph: FakeGraphAPI, probe_with: Any) -> None:
    graph.set_fields(PHONE_ID, messaging_limit="TIER_10K")
    result = await probe_with(graph.url, whatsappApiVersion="v24.0")
    assert result.status == Status.OK, result.summary
    assert result.details["messaging_limit"] == "TIER_10K"
    fields = graph.requests_to(rf"/v24.0/{PHONE_ID}")[0].param("fields") or ""
    assert "whatsapp_business_manager_messaging_limit" in fields
    assert "messaging_limit_tier" not in fields


async def test_expired_token_is_crit_190(graph: FakeGraphAPI, probe_with: Any) -> None:
    graph.expire_token(TOKEN)
    result = await probe_with(graph.url)
    assert (result.status, result.error_class, result.details["graph_code"]) == (Status.CRIT, "auth", 190)
    assert "token invalid or expired" in result.summary
    assert_no_secrets(result)


async def test_wrong_phone_number_id_is_crit_100_33(graph: FakeGraphAPI, probe_with: Any) -> None:
    result = await probe_with(graph.url, whatsappPhoneNumberId="1099000000999")
    assert result.status == Status.CRIT
    assert (result.details["graph_code"], result.details["graph_subcode"]) == (100, 33)
    assert "wrong phone number id or no access" in result.summary


async def test_wrong_app_secret_is_crit(graph: FakeGraphAPI, probe_with: Any) -> None:
    result = await probe_with(graph.url, whatsappAppSecret="not-the-app-secret")
    assert result.status == Status.CRIT
    assert "wrong app secret" in result.summary
    assert "not-the-app-secret" not in result.model_dump_json()


async def test_missing_app_secret_sends_no_proof(graph: FakeGraphAPI, probe_with: Any) -> None:
    ok = await probe_with(graph.url, whatsappAppSecret=None)
    assert ok.status == Status.OK, ok.summary
    assert graph.requests[-1].param("appsecret_proof") is None
    graph.apps["1234567890123456"].require_proof = True
    required = await probe_with(graph.url, whatsappAppSecret=None)
    assert required.status == Status.CRIT
    assert "requires appsecret_proof" in required.summary


@pytest.mark.parametrize("code", [4, 80007, 130429])
async def test_rate_limits_are_warn(graph: FakeGraphAPI, probe_with: Any, code: int) -> None:
    graph.force_error(PHONE_ID, code)
    result = await probe_with(graph.url)
    assert (result.status, result.details["graph_code"]) == (Status.WARN, code)
    assert "rate limited" in result.summary


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"health_status": {"can_send_message": "BLOCKED", "entities": []}}, Status.CRIT, "health BLOCKED"),
        ({"health_status": {"can_send_message": "LIMITED", "entities": []}}, Status.WARN, "health LIMITED"),
        ({"quality_rating": "RED"}, Status.CRIT, "quality RED"),
        ({"quality_rating": "YELLOW"}, Status.WARN, "quality YELLOW"),
        ({"status": "FLAGGED"}, Status.WARN, "status FLAGGED"),
        ({"status": "RESTRICTED"}, Status.WARN, "status RESTRICTED"),
    ],
)
async def test_node_conditions(
    graph: FakeGraphAPI, probe_with: Any, fields: dict[str, Any], status: Status, words: str
) -> None:
    graph.set_fields(PHONE_ID, **fields)
    result = await probe_with(graph.url)
    assert result.status == status
    assert words in result.summary


async def test_closed_port_is_crit_connect(probe_with: Any) -> None:
    result = await probe_with(f"http://127.0.0.1:{closed_port()}")
    assert (result.status, result.error_class) == (Status.CRIT, "connect"), result.summary
    assert_no_secrets(result)


async def test_hanging_graph_api_times_out_within_deadline(probe_with: Any) -> None:
    with HangingListener() as listener:
        host, port = listener.address
        result = await probe_with(f"http://{host}:{port}", deadline=2.0)
    assert (result.status, result.error_class) == (Status.CRIT, "timeout"), result.summary
    assert probe_with.elapsed <= 2.0 * 1.2
    assert_no_secrets(result)


async def test_incomplete_config_is_not_probed(
    graph: FakeGraphAPI, make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]
) -> None:
    fleet = make_fleet(endpoints={"graph_api": graph.url})
    res = resolved("whatsapp", env={"WHATSAPP_PHONE_NUMBER_ID": PHONE_ID})
    result = await whatsapp.run(make_ctx(fleet), "acme", res, 2.0)
    assert result.status == Status.UNKNOWN
    assert result.summary == "not probed: WHATSAPP_PERMANENT_TOKEN unset"
    assert result.source == "env"
    assert graph.requests == []
