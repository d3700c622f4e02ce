"""The SMTP fakes as seen by smtplib and aiosmtplib."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator

import aiosmtplib
import pytest
import trustme

from opsdash.fakes.smtp import (
    AuthRefusingSMTPServer,
    BadCertProblem,
    BadCertSMTPServer,
    ImplicitTLSSMTPServer,
    StartTLSSMTPServer,
    TLSMaterial,
)

USERS = {"alerts@example.com": "app-password-1"}


@pytest.fixture(scope="module")
def tls() -> TLSMaterial:
    return TLSMaterial(ca=trustme.CA())


@pytest.fixture(scope="module")
def starttls_server(tls: TLSMaterial) -> Iterator[StartTLSSMTPServer]:
    with StartTLSSMTPServer(USERS, tls=tls) as server:
        yield server


def test_starttls_login_with_verified_certificate(starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    context = ssl.create_default_context(cadata=starttls_server.ca_pem.decode())
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        client.starttls(context=context)
        client.ehlo()
        assert "LOGIN" in client.esmtp_features["auth"]
        assert "PLAIN" in client.esmtp_features["auth"]
        code, _ = client.login("alerts@example.com", "app-password-1")
        assert code == 235
        assert client.noop()[0] == 250


def test_starttls_wrong_password_is_535(starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.starttls(context=starttls_server.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            client.login("alerts@example.com", "wrong")
        assert info.value.smtp_code == 535
    assert starttls_server.auth_attempts[-1].success is False
    assert starttls_server.auth_attempts[-1].login == "alerts@example.com"


def test_login_without_starttls_is_not_supported(starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login("alerts@example.com", "app-password-1")


def test_starttls_untrusted_by_default_context(starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    other_ca = ssl.create_default_context(cadata=TLSMaterial().ca_pem.decode())
    with (
        smtplib.SMTP(host, port, timeout=5) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(context=other_ca)


def test_messages_are_kept_in_memory(starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    with smtplib.SMTP(host, port, timeout=5) as client:
        client.starttls(context=starttls_server.client_context())
        client.login("alerts@example.com", "app-password-1")
        client.sendmail("alerts@example.com", ["oncall@example.com"], b"Subject: hi\r\n\r\nbody")
    assert starttls_server.wait_for_messages(1)
    message = starttls_server.messages[-1]
    assert message.rcpt_tos == ["oncall@example.com"]
    assert b"body" in message.data


def test_implicit_tls(tls: TLSMaterial) -> None:
    with ImplicitTLSSMTPServer(USERS, tls=tls) as server:
        host, port = server.address
        with smtplib.SMTP_SSL(host, port, timeout=5, context=tls.client_context()) as client:
            assert client.login("alerts@example.com", "app-password-1")[0] == 235
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            smtplib.SMTP(host, port, timeout=0.3)


async def test_aiosmtplib_clients(tls: TLSMaterial, starttls_server: StartTLSSMTPServer) -> None:
    host, port = starttls_server.address
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        username="alerts@example.com",
        password="app-password-1",
        tls_context=tls.client_context(),
        timeout=5,
    )
    await client.connect()
    assert client.is_connected
    await client.quit()

    with ImplicitTLSSMTPServer(USERS, tls=tls) as server:
        implicit = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username="alerts@example.com",
            password="app-password-1",
            use_tls=True,
            tls_context=tls.client_context(),
            timeout=5,
        )
        await implicit.connect()
        await implicit.quit()


def test_auth_not_offered() -> None:
    with (
        AuthRefusingSMTPServer("not_offered") as server,
        smtplib.SMTP(*server.address, timeout=5) as client,
    ):
        client.ehlo()
        assert not client.has_extn("auth")
        assert not client.has_extn("starttls")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login("a", "b")
        assert client.docmd("AUTH", "PLAIN AGIA")[0] == 503


@pytest.mark.parametrize(
    "reply", ["535 5.7.8 Bad credentials", "534 5.7.9 Application-specific password required"]
)
def test_auth_rejected(reply: str) -> None:
    with AuthRefusingSMTPServer("reject", reply=reply) as server:
        with smtplib.SMTP(*server.address, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("auth")
            with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                client.login("user", "pass")
        assert info.value.smtp_code == int(reply[:3])
        assert server.auth_attempts and not server.auth_attempts[0].success


@pytest.mark.parametrize("problem", ["unknown_ca", "hostname", "expired"])
def test_bad_certificate_fails_verification(problem: BadCertProblem) -> None:
    with (
        BadCertSMTPServer(problem) as server,
        smtplib.SMTP(*server.address, timeout=5) as client,
        pytest.raises(ssl.SSLCertVerificationError) as info,
    ):
        client.starttls(context=server.client_context())
    expected = {"unknown_ca": "unable to get local issuer", "hostname": "mismatch", "expired": "expired"}[
        problem
    ]
    assert expected in str(info.value)


def test_bad_certificate_implicit_tls_accepted_without_verification() -> None:
    with BadCertSMTPServer("unknown_ca", implicit_tls=True, users=USERS) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL(*server.address, timeout=5, context=server.client_context())
        with smtplib.SMTP_SSL(*server.address, timeout=5) as unverified:
            assert unverified.login("alerts@example.com", "app-password-1")[0] == 235


def test_cryptography_fallback_certificates() -> None:
    material = TLSMaterial(backend="cryptography")
    with (
        StartTLSSMTPServer(USERS, tls=material) as server,
        smtplib.SMTP(*server.address, timeout=5) as client,
    ):
        client.starttls(context=material.client_context())
        assert client.login("alerts@example.com", "app-password-1")[0] == 235
