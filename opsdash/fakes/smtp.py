"""Fake SMTP servers (aiosmtpd) on a free loopback port.
from opsdash.fakes.lifecycle import StartStop

* :class:`StartTLSSMTPServer`: port-587 style; AUTH LOGIN/PLAIN offered only after STARTTLS.
* :class:`ImplicitTLSSMTPServer`: port-465 style; TLS from the first byte.
* :class:`AuthRefusingSMTPServer`: plain text, no TLS; AUTH not offered, or answered with
  a fixed refusal (535 by default; 534/454/503 via ``reply``).
* :class:`BadCertSMTPServer`: TLS with a certificate that does not verify against
  :attr:`~BadCertSMTPServer.ca_pem` (unknown CA, wrong host name, or expired).

Trusting a fake: ``ssl.create_default_context(cadata=server.ca_pem.decode())``. Note the
``.decode()``: ``cadata`` takes PEM as ``str``; ``bytes`` are read as DER.
:meth:`TLSMaterial.client_context` does this for you.

Certificates come from ``trustme`` when installed, else from ``cryptography``; neither is
imported unless a TLS variant is built. Received messages are kept in memory only
(:attr:`FakeSMTPServer.messages`). aiosmtpd's ``mail.log`` logger is detached from the
root logger so that nothing (AUTH lines included) reaches stdout/stderr.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import ssl
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from opsdash.fakes.lifecycle import StartStop

__all__ = [
    "AuthAttempt",
    "AuthRefusingSMTPServer",
    "BadCertProblem",
    "BadCertSMTPServer",
    "FakeSMTPServer",
    "ImplicitTLSSMTPServer",
    "ReceivedMessage",
    "StartTLSSMTPServer",
    "TLSMaterial",
]

_mail_log = logging.getLogger("mail.log")
_mail_log.addHandler(logging.NullHandler())
_mail_log.propagate = False

LOOPBACK_IDENTITIES = ("127.0.0.1", "localhost")

BadCertProblem = Literal["unknown_ca", "hostname", "expired"]


@dataclass(frozen=True)
class ReceivedMessage:
    """A message accepted by a fake (kept in memory only)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH exchange: mechanism, login name and outcome (password not kept)."""

    mechanism: str
    login: str
    success: bool


class _Leaf(Protocol):
    def configure_cert(self, ctx: ssl.SSLContext) -> None: ...


class _CA(Protocol):
    cert_pem: Any

    def issue_cert(
        self,
        *identities: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> _Leaf: ...


class TLSMaterial:
    """A CA plus a server certificate it signed; ``ca_pem`` is what clients should trust.

    ``ca`` may be an existing ``trustme.CA``; otherwise one is generated.
    """

    def __init__(
        self,
        identities: tuple[str, ...] = LOOPBACK_IDENTITIES,
        *,
        ca: Any = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        backend: Literal["auto", "trustme", "cryptography"] = "auto",
    ) -> None:
        self.ca: _CA = ca if ca is not None else _make_ca(backend)
        self.identities = identities
        self.leaf = self.ca.issue_cert(*identities, not_before=not_before, not_after=not_after)
        self.ca_pem: bytes = self.ca.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        """Server-side context presenting the leaf certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.leaf.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Verifying client context that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def issue(
        self,
        *identities: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> ssl.SSLContext:
        """Server context for another certificate from the same CA."""
        leaf = self.ca.issue_cert(*identities, not_before=not_before, not_after=not_after)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        return ctx


class _Handler:
    def __init__(self, fake: FakeSMTPServer) -> None:
        self.fake = fake

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.fake.auth_mode == "not_offered":
            return [r for r in responses if not r[4:].startswith("AUTH")]
        return responses

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        mode = self.fake.auth_mode
        if mode == "not_offered":
            return "503 5.5.1 Error: authentication not enabled"
        if mode == "reject":
            with self.fake._lock:
                self.fake.auth_attempts.append(AuthAttempt(args[0].upper(), "", False))
            return self.fake.reject_reply
        return MISSING

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        data = content.encode() if isinstance(content, str) else bytes(content or b"")
        message = ReceivedMessage(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        with self.fake._lock:
            self.fake.messages.append(message)
            self.fake._lock.notify_all()
        return "250 2.0.0 OK: queued"


class _LoopbackController(Controller):
    """Controller that binds port 0 and learns the port before the readiness probe."""

    def _create_server(self) -> Any:
        return self._bind()

    async def _bind(self) -> Any:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = int(server.sockets[0].getsockname()[1])
        return server


class FakeSMTPServer(StartStop):
    """Base class for the SMTP fakes; use one of the subclasses."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        starttls_context: ssl.SSLContext | None = None,
        implicit_tls_context: ssl.SSLContext | None = None,
        auth_mode: Literal["table", "not_offered", "reject"] = "table",
        reject_reply: str = "535 5.7.8 Authentication credentials invalid",
        ca_pem: bytes | None = None,
    ) -> None:
        self.users: dict[str, str] = dict(users or {})
        self.auth_mode = auth_mode
        self.reject_reply = reject_reply
        self.ca_pem: bytes | None = ca_pem
        self.messages: list[ReceivedMessage] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Condition()
        self._starttls_context = starttls_context
        self._implicit_tls_context = implicit_tls_context
        self._controller: _LoopbackController | None = None

    def start(self) -> tuple[str, int]:
        """Start serving; return ``(host, port)``."""
        if self._controller is not None:
            return self.address
        controller = _LoopbackController(
            _Handler(self),
            hostname=self.host,
            ssl_context=self._implicit_tls_context,
            server_hostname="fake-smtp.opsdash.test",
            tls_context=self._starttls_context,
            authenticator=self._authenticate,
            auth_require_tls=self._starttls_context is not None,
            ready_timeout=5.0,
        )
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self.address

    def stop(self) -> None:
        """Stop the server."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to connect to."""
        return self.host, self.port

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` messages were accepted; ``False`` on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.messages) >= count, timeout)

    def client_context(self) -> ssl.SSLContext:
        """Verifying client context trusting :attr:`ca_pem`."""
        if self.ca_pem is None:
            raise RuntimeError(f"{type(self).__name__} has no TLS")
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode(errors="replace")
        password = auth_data.password.decode(errors="replace")
        success = login in self.users and self.users[login] == password
        with self._lock:
            self.auth_attempts.append(AuthAttempt(mechanism, login, success))
        return AuthResult(success=success, handled=False)


class StartTLSSMTPServer(FakeSMTPServer):
    """Port-587 style: STARTTLS, then AUTH LOGIN/PLAIN against ``users``."""

    def __init__(self, users: Mapping[str, str], *, tls: TLSMaterial | None = None) -> None:
        self.tls = tls or TLSMaterial()
        super().__init__(users=users, starttls_context=self.tls.server_context(), ca_pem=self.tls.ca_pem)


class ImplicitTLSSMTPServer(FakeSMTPServer):
    """Port-465 style: TLS from connect, then AUTH LOGIN/PLAIN against ``users``."""

    def __init__(self, users: Mapping[str, str], *, tls: TLSMaterial | None = None) -> None:
        self.tls = tls or TLSMaterial()
        super().__init__(users=users, implicit_tls_context=self.tls.server_context(), ca_pem=self.tls.ca_pem)


class AuthRefusingSMTPServer(FakeSMTPServer):
    """Plain-text server that never lets a client log in (needs no TLS libraries).

    ``mode="not_offered"``: EHLO lists no AUTH and AUTH gets 503.
    ``mode="reject"``: AUTH is offered and every attempt gets ``reply``.
    """

    def __init__(
        self,
        mode: Literal["not_offered", "reject"] = "not_offered",
        *,
        reply: str = "535 5.7.8 Authentication credentials invalid",
    ) -> None:
        super().__init__(auth_mode=mode, reject_reply=reply)


class BadCertSMTPServer(FakeSMTPServer):
    """TLS server whose certificate fails verification against :attr:`ca_pem`.

    ``problem``: ``"unknown_ca"`` (signed by a CA other than ``ca_pem``), ``"hostname"``
    (valid chain, issued for ``mail.example.com``) or ``"expired"``. ``implicit_tls``
    picks port-465 style instead of STARTTLS. ``trusted`` lets the fake share the CA of
    another fake, so one client configuration can be used against both.
    """

    def __init__(
        self,
        problem: BadCertProblem = "unknown_ca",
        *,
        implicit_tls: bool = False,
        users: Mapping[str, str] | None = None,
        trusted: TLSMaterial | None = None,
    ) -> None:
        self.trusted = trusted or TLSMaterial()
        self.problem = problem
        if problem == "unknown_ca":
            server_ctx = TLSMaterial().server_context()
        elif problem == "hostname":
            server_ctx = self.trusted.issue("mail.example.com")
        else:
            now = dt.datetime.now(dt.UTC)
            server_ctx = self.trusted.issue(
                *LOOPBACK_IDENTITIES,
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
        super().__init__(
            users=users,
            starttls_context=None if implicit_tls else server_ctx,
            implicit_tls_context=server_ctx if implicit_tls else None,
            ca_pem=self.trusted.ca_pem,
        )


def _make_ca(backend: Literal["auto", "trustme", "cryptography"]) -> _CA:
    if backend in ("auto", "trustme"):
        try:
            import trustme
        except ImportError:
            if backend == "trustme":
                raise
        else:
            return trustme.CA()
    return _CryptographyCA()


class _Blob:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def bytes(self) -> bytes:
        return self._data


class _CryptographyLeaf:
    def __init__(self, cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> None:
        self._chain = cert_pem + ca_pem
        self._key = key_pem

    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        fd, path = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._key + self._chain)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)


class _CryptographyCA:
    """Fallback CA used when ``trustme`` is not installed."""

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._ec = x509, hashes, ec
        self._serialization, self._oid = serialization, NameOID
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "opsdash fake CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self._cert = cert
        self.cert_pem = _Blob(cert.public_bytes(serialization.Encoding.PEM))

    def issue_cert(
        self,
        *identities: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> _CryptographyLeaf:
        import ipaddress

        x509, ec, oid = self._x509, self._ec, self._oid
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for identity in identities:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(identity)))
            except ValueError:
                names.append(x509.DNSName(identity))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(oid.COMMON_NAME, identities[0])]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, self._hashes.SHA256())
        )
        encoding = self._serialization.Encoding.PEM
        key_pem = key.private_bytes(
            encoding,
            self._serialization.PrivateFormat.PKCS8,
            self._serialization.NoEncryption(),
        )
        return _CryptographyLeaf(cert.public_bytes(encoding), key_pem, self.cert_pem.bytes())
