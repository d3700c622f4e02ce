"""The auth probe against the loopback next-auth route fake."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from opsdash.checks import auth
from opsdash.checks.base import Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import Deadline, Verdict
from opsdash.config.fleet import Fleet
from opsdash.fakes.authroute import FakeAuthRoute
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.seed import healthy_company
from tests.checks.conftest import FleetFactory, resolved


async def probe(
    make_fleet: FleetFactory,
    make_ctx: Callable[[Fleet], CheckContext],
    origin: str,
    path: str = "/api/auth/providers",
    deadline: float = 3.0,
) -> Verdict:
    ctx = make_ctx(make_fleet(endpoints={"auth_providers_path": path}))
    return await auth.probe(ctx, f"{origin}/api/auth/callback", Deadline(deadline))


async def test_providers_on_the_tenants_origin_are_ok(make_fleet: FleetFactory, make_ctx: Any) -> None:
    with FakeAuthRoute(providers=("google", "github")) as route:
        url = route.url
        verdict = await probe(make_fleet, make_ctx, url)
        assert route.requests_to("/api/auth/providers", "GET")
    assert verdict.status == Status.OK, verdict.summary
    assert verdict.details["providers"] == {
        "google": f"{url}/api/auth/callback/google",
        "github": f"{url}/api/auth/callback/github",
    }


async def test_callback_on_localhost_is_crit(make_fleet: FleetFactory, make_ctx: Any) -> None:
    with FakeAuthRoute(callback_origin="http://localhost:3000") as route:
        verdict = await probe(make_fleet, make_ctx, route.url)
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "condition")
    assert "google -> http://localhost:3000" in verdict.summary


@pytest.mark.parametrize(
    ("mode", "error_class", "words"),
    [
        ("config_error", "protocol", "HTTP 500: There was a problem with the server configuration"),
        ("html", "protocol", "did not answer a JSON object"),
        ("protected", "auth", "HTTP 401"),
    ],
)
async def test_failure_modes_are_crit(
    make_fleet: FleetFactory, make_ctx: Any, mode: Any, error_class: str, words: str
) -> None:
    with FakeAuthRoute(mode=mode) as route:
        verdict = await probe(make_fleet, make_ctx, route.url)
    assert (verdict.status, verdict.error_class) == (Status.CRIT, error_class)
    assert words in verdict.summary


async def test_providers_path_is_configurable(make_fleet: FleetFactory, make_ctx: Any) -> None:
    with FakeAuthRoute(base_path="/auth") as route:
        wrong = await probe(make_fleet, make_ctx, route.url)
        right = await probe(make_fleet, make_ctx, route.url, path="/auth/providers")
    assert (wrong.status, wrong.details["http_status"]) == (Status.CRIT, 404)
    assert right.status == Status.OK, right.summary


async def test_closed_port_and_hang(make_fleet: FleetFactory, make_ctx: Any) -> None:
    refused = await probe(make_fleet, make_ctx, f"http://127.0.0.1:{closed_port()}")
    assert (refused.status, refused.error_class) == (Status.CRIT, "connect"), refused.summary
    ctx = make_ctx(make_fleet())
    with HangingListener() as listener:
        host, port = listener.address
        started = time.monotonic()
        hung = await auth.probe(ctx, f"http://{host}:{port}/api/auth/callback", Deadline(2.0))
        elapsed = time.monotonic() - started
    assert (hung.status, hung.error_class) == (Status.CRIT, "timeout"), hung.summary
    assert elapsed <= 2.0 * 1.2


async def test_run_refuses_to_probe_an_invalid_callback_url(make_fleet: FleetFactory, make_ctx: Any) -> None:
    ctx = make_ctx(make_fleet())
    company = healthy_company(authCallbackUrl="http://localhost:3000/api/auth/callback")
    result = await auth.run(ctx, "acme", resolved("auth", company=company, use_db=True), 2.0)
    assert (result.check, result.status, result.source) == ("auth", Status.UNKNOWN, "db")
    assert result.summary == "not probed: authCallbackUrl: must be an absolute https:// URL"


async def test_run_probes_an_https_callback_end_to_end(
    make_fleet: FleetFactory, make_ctx: Any, tmp_path: Any
) -> None:
    from opsdash.fakes.smtp import TLSMaterial

    tls = TLSMaterial()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    with FakeAuthRoute(tls_context=tls.server_context()) as route:
        ctx = make_ctx(make_fleet(endpoints={"extra_ca_file": str(ca_file)}))
        res = resolved(
            "auth", company={"authCallbackUrl": f"{route.url}/api/auth/callback/google"}, use_db=True
        )
        result = await auth.run(ctx, "acme", res, 3.0)
        route.callback_origin = "https://wrong.example"
        wrong = await auth.run(ctx, "acme", res, 3.0)
        providers_url = f"{route.url}/api/auth/providers"
    assert result.status == Status.OK, result.summary
    assert result.details["url"] == providers_url
    assert (wrong.status, wrong.error_class) == (Status.CRIT, "condition")


async def test_https_callback_with_an_untrusted_certificate_is_tls(
    make_fleet: FleetFactory, make_ctx: Any
) -> None:
    from opsdash.fakes.smtp import TLSMaterial

    with FakeAuthRoute(tls_context=TLSMaterial().server_context()) as route:
        ctx = make_ctx(make_fleet())
        res = resolved(
            "auth", company={"authCallbackUrl": f"{route.url}/api/auth/callback/google"}, use_db=True
        )
        result = await auth.run(ctx, "acme", res, 3.0)
    assert (result.status, result.error_class) == (Status.CRIT, "tls"), result.summary
