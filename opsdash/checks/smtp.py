"""The ``smtp`` check: connect, EHLO, STARTTLS (or implicit TLS on 465), AUTH, QUIT. Never sends mail.

Certificates are verified with the shared ``ctx.ssl_context`` (smtplib's default context verifies
nothing). ``classify`` turns a failure into a kind, ``decide`` turns the kind into a status: both pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from opsdash.checks.base import CheckResult, ErrorClass, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import (
    Deadline,
    Verdict,
    missing_for_probe,
    not_probed,
    short,
    to_result,
    value_of,
)
from opsdash.config.resolve import ServiceResolution
from opsdash.redact import scrub

if TYPE_CHECKING:
    import aiosmtplib

CHECK_ID = "smtp"
IMPLICIT_TLS_PORT = 465
NEEDED = ("smtpHost", "smtpPort", "smtpUser", "smtpPass")
GREETING_SHARE = 0.6
"""Share of the deadline to wait for a greeting before sniffing for an implicit-TLS server."""

Stage = Literal["connect", "ehlo", "starttls", "auth"]
FailureKind = Literal[
    "dns",
    "refused",
    "timeout",
    "tls_mismatch",
    "certificate",
    "tls",
    "starttls_not_offered",
    "auth_not_offered",
    "auth_rejected",
    "disconnected",
    "response",
]
_MISMATCH_MARKERS = (
    "wrong version number",
    "record layer failure",
    "unknown protocol",
    "packet length too long",
    "http request",
)


@dataclass(frozen=True)
class SmtpFailure:
    """Why the conversation stopped, at which stage."""

    kind: FailureKind
    stage: Stage
    message: str = ""
    code: int | None = None


@dataclass(frozen=True)
class SmtpProbe:
    """The conversation's outcome: ``failure`` is ``None`` when AUTH succeeded."""

    host: str
    port: int
    implicit_tls: bool
    failure: SmtpFailure | None = None
    latency_ms: float | None = None
    greeting: str | None = None
    tls_version: str | None = None
    auth_mechanisms: tuple[str, ...] = ()


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def classify(exc: BaseException, stage: Stage, implicit_tls: bool) -> SmtpFailure:
    """Pure: an exception raised at ``stage`` to a failure kind."""
    import aiosmtplib

    message = short(str(exc) or type(exc).__name__)
    chain = _chain(exc)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SmtpFailure("auth_rejected", stage, short(exc.message), exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        kind: FailureKind = "starttls_not_offered" if stage == "starttls" else "auth_not_offered"
        return SmtpFailure(kind, stage, message)
    for err in chain:
        if isinstance(err, socket.gaierror):
            return SmtpFailure("dns", stage, message)
        if isinstance(err, ssl.SSLCertVerificationError):
            return SmtpFailure("certificate", stage, short(getattr(err, "verify_message", None) or str(err)))
        if isinstance(err, ssl.SSLError):
            text = str(err).lower()
            if (implicit_tls or stage == "starttls") and any(m in text for m in _MISMATCH_MARKERS):
                return SmtpFailure("tls_mismatch", stage, message)
            return SmtpFailure("tls", stage, message)
        if isinstance(err, ConnectionRefusedError):
            return SmtpFailure("refused", stage, message)
    if any(isinstance(err, TimeoutError) for err in chain):
        return SmtpFailure("timeout", stage, message)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SmtpFailure("response", stage, short(exc.message), exc.code)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError | EOFError):
        return SmtpFailure("disconnected", stage, message)
    return SmtpFailure("disconnected" if isinstance(exc, OSError) else "response", stage, message)


_KIND: dict[str, tuple[ErrorClass, str]] = {
    "dns": ("dns", "host name does not resolve"),
    "refused": ("connect", "connection refused"),
    "timeout": ("timeout", "timed out"),
    "tls_mismatch": ("tls", "TLS-mode mismatch"),
    "certificate": ("tls", "certificate does not verify"),
    "tls": ("tls", "TLS failed"),
    "starttls_not_offered": ("tls", "server does not offer STARTTLS"),
    "auth_not_offered": ("auth", "server does not offer AUTH"),
    "auth_rejected": ("auth", "AUTH rejected"),
    "disconnected": ("protocol", "server closed the connection"),
    "response": ("protocol", "unexpected reply"),
}


def decide(probe: SmtpProbe) -> Verdict:
    """Pure: every failure is CRIT except a transient 421 (WARN); AUTH accepted is OK."""
    mode = "implicit TLS" if probe.implicit_tls else "STARTTLS"
    where = f"{probe.host}:{probe.port}"
    details: dict[str, Any] = {
        "host": probe.host,
        "port": probe.port,
        "tls_mode": mode,
        "latency_ms": probe.latency_ms,
        "tls_version": probe.tls_version,
        "auth_mechanisms": list(probe.auth_mechanisms),
    }
    failure = probe.failure
    if failure is None:
        return Verdict(
            Status.OK, f"ok: {where} {mode} ({probe.tls_version or 'TLS'}), AUTH accepted", None, details
        )
    details.update(
        {
            "stage": failure.stage,
            "failure": failure.kind,
            "smtp_code": failure.code,
            "message": failure.message,
        }
    )
    error_class, label = _KIND[failure.kind]
    if failure.kind == "tls_mismatch":
        label = (
            "TLS-mode mismatch: port 465 expects implicit TLS but the server speaks plain SMTP"
            if probe.implicit_tls
            else f"TLS-mode mismatch: the server speaks implicit TLS on {probe.port}; use 465 or STARTTLS"
        )
    elif failure.kind == "auth_rejected":
        label = f"AUTH rejected ({failure.code}): {failure.message}"
    elif failure.kind == "auth_not_offered":
        label = f"server does not offer AUTH{' after STARTTLS' if not probe.implicit_tls else ''}"
    elif failure.kind in ("response", "certificate", "tls", "disconnected", "timeout"):
        label = f"{label} at {failure.stage}: {failure.message}"
    if failure.code == 421:
        return Verdict(
            Status.WARN, f"{where}: server busy (421), try later: {failure.message}", "condition", details
        )
    return Verdict(Status.CRIT, f"{where}: {label}", error_class, details)


@dataclass(frozen=True)
class SmtpConfig:
    """The probe's inputs, taken from a resolved ``email`` service."""

    host: str
    port: int
    user: str
    password: str
    implicit_tls: bool


def config_from(res: ServiceResolution) -> SmtpConfig | None:
    host, port, user, password = (value_of(res, name) for name in NEEDED)
    if not host or not port or not user or not password:
        return None
    port_number = int(str(port))
    return SmtpConfig(str(host), port_number, str(user), str(password), port_number == IMPLICIT_TLS_PORT)


async def _speaks_tls(host: str, port: int, context: ssl.SSLContext, timeout: float) -> bool:
    """Whether a fresh connection completes (or fails to verify) a TLS handshake: an implicit-TLS server."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    except ssl.SSLCertVerificationError:
        return True
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def _conversation(ctx: CheckContext, cfg: SmtpConfig, deadline: Deadline) -> SmtpProbe:
    import aiosmtplib

    implicit = cfg.implicit_tls
    client = aiosmtplib.SMTP(
        hostname=cfg.host,
        port=cfg.port,
        use_tls=implicit,
        start_tls=False,
        tls_context=ctx.ssl_context,
        timeout=deadline.remaining(),
        local_hostname=socket.gethostname() or "opsdash",
    )
    stage: Stage = "connect"
    sent = time.perf_counter()
    try:
        greeting_budget = deadline.remaining() if implicit else deadline.remaining() * GREETING_SHARE
        try:
            response = await client.connect(timeout=greeting_budget)
        except aiosmtplib.SMTPConnectTimeoutError as exc:
            if not implicit and await _speaks_tls(cfg.host, cfg.port, ctx.ssl_context, deadline.remaining()):
                return SmtpProbe(
                    cfg.host, cfg.port, implicit, SmtpFailure("tls_mismatch", "connect", short(str(exc)))
                )
            raise
        latency_ms = round((time.perf_counter() - sent) * 1000, 2)
        stage = "ehlo"
        await client.ehlo(timeout=deadline.remaining())
        if not implicit:
            stage = "starttls"
            if not client.supports_extension("starttls"):
                return SmtpProbe(
                    cfg.host,
                    cfg.port,
                    implicit,
                    SmtpFailure("starttls_not_offered", stage, "no STARTTLS in the EHLO reply"),
                    latency_ms,
                    short(response.message),
                )
            await client.starttls(tls_context=ctx.ssl_context, timeout=deadline.remaining())
            await client.ehlo(timeout=deadline.remaining())
        stage = "auth"
        mechanisms = tuple(sorted(client.server_auth_methods))
        tls_version = _tls_version(client)
        if not client.supports_extension("auth"):
            return SmtpProbe(
                cfg.host,
                cfg.port,
                implicit,
                SmtpFailure("auth_not_offered", stage, "no AUTH in the EHLO reply"),
                latency_ms,
                short(response.message),
                tls_version,
            )
        await client.login(cfg.user, cfg.password, timeout=deadline.remaining())
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit(timeout=deadline.remaining())
        return SmtpProbe(
            cfg.host, cfg.port, implicit, None, latency_ms, short(response.message), tls_version, mechanisms
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError, EOFError) as exc:
        return SmtpProbe(cfg.host, cfg.port, implicit, classify(exc, stage, implicit))
    finally:
        client.close()


def _tls_version(client: aiosmtplib.SMTP) -> str | None:
    transport = client.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return ssl_object.version() if ssl_object is not None else None


async def probe(ctx: CheckContext, cfg: SmtpConfig, deadline: Deadline) -> Verdict:
    """The SMTP conversation, bounded by the deadline; the password never reaches a message."""
    try:
        async with asyncio.timeout(deadline.backstop()):
            outcome = await _conversation(ctx, cfg, deadline)
    except TimeoutError:
        outcome = SmtpProbe(
            cfg.host,
            cfg.port,
            cfg.implicit_tls,
            SmtpFailure("timeout", "connect", "no answer within the deadline"),
        )
    verdict = decide(outcome)
    details = {k: scrub(v, [cfg.password]) if isinstance(v, str) else v for k, v in verdict.details.items()}
    return Verdict(verdict.status, scrub(verdict.summary, [cfg.password]), verdict.error_class, details)


async def run(ctx: CheckContext, tenant: str, res: ServiceResolution, deadline_s: float) -> CheckResult:
    """Probe the SMTP config ``res`` resolves to (UNKNOWN when it is incomplete)."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    cfg = config_from(res)
    if cfg is None or missing_for_probe(res, NEEDED):
        verdict = not_probed(res, NEEDED)
    else:
        verdict = await probe(ctx, cfg, deadline)
    return to_result(
        tenant, CHECK_ID, verdict, started=started, duration_s=deadline.elapsed(), source=res.source
    )
