"""The SMTP probe against aiosmtpd servers (trustme certificates), a hanging listener and a closed port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opsdash.checks import smtp
from opsdash.checks.base import Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import Deadline, Verdict
from opsdash.config.fleet import Fleet
from opsdash.fakes.smtp import (
    BadCertSMTPServer,
    FakeSMTPServer,
    ImplicitTLSSMTPServer,
    StartTLSSMTPServer,
    TLSMaterial,
)
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.seed import healthy_company
from tests.checks.conftest import FleetFactory, resolved

USER = "mailer@acme.example"
PASSWORD = "canary-smtp-pass-77"


@pytest.fixture(scope="module")
def tls() -> TLSMaterial:
    return TLSMaterial()


@pytest.fixture
def ctx(
    tls: TLSMaterial, tmp_path: Path, make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]
) -> CheckContext:
    """A context that trusts the test CA through ``endpoints.extra_ca_file``, as an operator would."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    return make_ctx(make_fleet(endpoints={"extra_ca_file": str(ca_file)}))


@pytest.fixture
def starttls_server(tls: TLSMaterial) -> Iterator[StartTLSSMTPServer]:
    with StartTLSSMTPServer({USER: PASSWORD}, tls=tls) as server:
        yield server


async def probe(
    ctx: CheckContext,
    address: tuple[str, int],
    *,
    implicit: bool = False,
    password: str = PASSWORD,
    deadline: float = 3.0,
) -> Verdict:
    host, port = address
    cfg = smtp.SmtpConfig(host, port, USER, password, implicit)
    return await smtp.probe(ctx, cfg, Deadline(deadline))


def assert_no_password(verdict: Verdict) -> None:
    assert PASSWORD not in repr(verdict)


async def test_starttls_and_auth_ok_without_sending_mail(
    ctx: CheckContext, starttls_server: StartTLSSMTPServer
) -> None:
    verdict = await probe(ctx, starttls_server.address)
    assert verdict.status == Status.OK, verdict.summary
    assert verdict.details["tls_mode"] == "STARTTLS"
    assert verdict.details["tls_version"].startswith("TLSv1")
    assert [(a.login, a.success) for a in starttls_server.auth_attempts] == [(USER, True)]
    assert starttls_server.messages == []
    assert_no_password(verdict)


async def test_implicit_tls_ok(ctx: CheckContext, tls: TLSMaterial) -> None:
    with ImplicitTLSSMTPServer({USER: PASSWORD}, tls=tls) as server:
        verdict = await probe(ctx, server.address, implicit=True)
    assert verdict.status == Status.OK, verdict.summary
    assert verdict.details["tls_mode"] == "implicit TLS"


async def test_wrong_password_is_535(ctx: CheckContext, starttls_server: StartTLSSMTPServer) -> None:
    verdict = await probe(ctx, starttls_server.address, password="not-the-password")
    assert (verdict.status, verdict.error_class, verdict.details["smtp_code"]) == (Status.CRIT, "auth", 535)
    assert "AUTH rejected (535)" in verdict.summary
    assert "not-the-password" not in repr(verdict)


async def test_implicit_tls_against_a_starttls_server_is_a_mode_mismatch(
    ctx: CheckContext, starttls_server: StartTLSSMTPServer
) -> None:
    verdict = await probe(ctx, starttls_server.address, implicit=True)
    assert (verdict.status, verdict.error_class, verdict.details["failure"]) == (
        Status.CRIT,
        "tls",
        "tls_mismatch",
    )
    assert "port 465 expects implicit TLS" in verdict.summary


async def test_starttls_against_an_implicit_tls_server_is_a_mode_mismatch(
    ctx: CheckContext, tls: TLSMaterial
) -> None:
    deadline = 2.0
    with ImplicitTLSSMTPServer({USER: PASSWORD}, tls=tls) as server:
        started = time.monotonic()
        verdict = await probe(ctx, server.address, deadline=deadline)
        elapsed = time.monotonic() - started
    assert (verdict.status, verdict.error_class, verdict.details["failure"]) == (
        Status.CRIT,
        "tls",
        "tls_mismatch",
    ), verdict.summary
    assert "speaks implicit TLS" in verdict.summary
    assert elapsed <= deadline * 1.2


@pytest.mark.parametrize("problem", ["unknown_ca", "hostname", "expired"])
@pytest.mark.parametrize("implicit", [False, True])
async def test_certificate_that_does_not_verify_is_crit_tls(
    ctx: CheckContext, tls: TLSMaterial, problem: Any, implicit: bool
) -> None:
    with BadCertSMTPServer(problem, implicit_tls=implicit, users={USER: PASSWORD}, trusted=tls) as server:
        verdict = await probe(ctx, server.address, implicit=implicit)
        attempts = list(server.auth_attempts)
    assert (verdict.status, verdict.error_class, verdict.details["failure"]) == (
        Status.CRIT,
        "tls",
        "certificate",
    ), verdict.summary
    assert "certificate does not verify" in verdict.summary
    assert attempts == []


async def test_auth_not_offered_after_starttls(ctx: CheckContext, tls: TLSMaterial) -> None:
    server = FakeSMTPServer(
        users={USER: PASSWORD},
        starttls_context=tls.server_context(),
        auth_mode="not_offered",
        ca_pem=tls.ca_pem,
    )
    with server:
        verdict = await probe(ctx, server.address)
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "auth")
    assert verdict.summary.endswith("server does not offer AUTH after STARTTLS")


async def test_plain_server_without_starttls_is_refused_before_auth(ctx: CheckContext) -> None:
    server = FakeSMTPServer(users={USER: PASSWORD})
    with server:
        verdict = await probe(ctx, server.address)
        attempts = list(server.auth_attempts)
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "tls")
    assert "does not offer STARTTLS" in verdict.summary
    assert attempts == []


async def test_closed_port_is_refused(ctx: CheckContext) -> None:
    verdict = await probe(ctx, ("127.0.0.1", closed_port()))
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "connect")
    assert "connection refused" in verdict.summary


async def test_unknown_host_is_dns(ctx: CheckContext) -> None:
    verdict = await probe(ctx, ("no-such-host.invalid", 587))
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "dns"), verdict.summary


@pytest.mark.parametrize("implicit", [False, True])
async def test_hanging_server_times_out_within_deadline(ctx: CheckContext, implicit: bool) -> None:
    deadline = 1.0
    with HangingListener() as listener:
        started = time.monotonic()
        verdict = await probe(ctx, listener.address, implicit=implicit, deadline=deadline)
        elapsed = time.monotonic() - started
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "timeout"), verdict.summary
    assert elapsed <= deadline * 1.2


async def test_run_probes_the_resolved_email_config(
    ctx: CheckContext, starttls_server: StartTLSSMTPServer
) -> None:
    host, port = starttls_server.address
    company = healthy_company(smtpHost=host, smtpPort=str(port), smtpUser=USER, smtpPass=PASSWORD)
    result = await smtp.run(ctx, "acme", resolved("email", company=company), 3.0)
    assert (result.check, result.status, result.source) == ("smtp", Status.OK, "db"), result.summary
    assert PASSWORD not in result.model_dump_json()
    missing = await smtp.run(ctx, "acme", resolved("email", env={"SMTP_HOST": host}), 3.0)
    assert missing.status == Status.UNKNOWN
    assert missing.summary.startswith("not probed: smtpPort missing (SMTP_PORT unset), smtpUser missing")
