"""Shared pieces of every check: the pure ``Verdict``, deadlines, and turning a verdict into a result."""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsdash.checks.base import CheckResult, ConfigSource, ErrorClass, Status
from opsdash.config.resolve import ServiceResolution

FALLBACK_SUFFIX = ":fallback"


@dataclass(frozen=True)
class Verdict:
    """What a pure decision function concludes: status, one line, an error class and details."""

    status: Status
    summary: str
    error_class: ErrorClass | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Deadline:
    """A point in monotonic time a check must finish by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = time.monotonic()
        self._end = self._start + seconds

    def remaining(self, floor: float = 0.05) -> float:
        """Seconds left, never less than ``floor`` (drivers reject a zero timeout)."""
        return max(self._end - time.monotonic(), floor)

    def backstop(self) -> float:
        """Seconds left plus a small grace: the outer asyncio bound, so that a driver's own timeout
        (set to :meth:`remaining`) fires first and reports its more precise error."""
        return self.remaining() + min(0.05 * self.seconds, 0.5)

    def elapsed(self) -> float:
        return time.monotonic() - self._start


def to_result(
    tenant: str,
    check: str,
    verdict: Verdict,
    *,
    started: datetime,
    duration_s: float,
    source: ConfigSource | None = None,
) -> CheckResult:
    """Wrap a verdict as the one result type."""
    return CheckResult.of_known_types(
        tenant,
        check,
        verdict.status,
        verdict.summary,
        verdict.error_class if verdict.status != Status.OK else None,
        verdict.details,
        round(duration_s, 4),
        started,
        source,
    )


def problem_texts(res: ServiceResolution, only: Iterable[str] | None = None) -> list[str]:
    """Each problem of a resolved service as a person would name it (env var names when from env)."""
    texts = []
    wanted = None if only is None else set(only)
    for name, reason in res.problems.items():
        if wanted is not None and name not in wanted:
            continue
        fres = res.fields[name]
        if reason.endswith(" unset"):
            texts.append(reason)
            continue
        label = fres.env_var if (res.source == "env" and fres.env_var) else name
        if reason == "missing" and fres.env_var:
            texts.append(f"{name} missing ({fres.env_var} unset)")
        else:
            texts.append(f"{label} {reason}" if reason in ("missing", "is empty") else f"{label}: {reason}")
    return texts


def missing_for_probe(res: ServiceResolution, needed: Iterable[str]) -> list[str]:
    """The fields a probe needs that are missing or invalid (empty: the probe can run)."""
    return [name for name in needed if name in res.problems or not res.fields[name].usable]


def not_probed(res: ServiceResolution, needed: Iterable[str]) -> Verdict:
    """UNKNOWN: the live probe cannot run because the config it needs is incomplete."""
    missing = missing_for_probe(res, needed)
    texts = problem_texts(res, missing) or [f"{name} missing" for name in missing]
    return Verdict(
        Status.UNKNOWN,
        "not probed: " + ", ".join(texts),
        None,
        {"problems": {n: res.problems.get(n, "missing") for n in missing}},
    )


def value_of(res: ServiceResolution, field_name: str) -> Any:
    """A field's effective value, or ``None`` when it is missing or invalid."""
    fres = res.fields.get(field_name)
    return fres.value if fres is not None and fres.usable else None


def as_fallback(result: CheckResult) -> CheckResult:
    """The same probe, reported as ``<check>:fallback``: capped at WARN, the real status kept in details."""
    capped = Status.WARN if result.status == Status.CRIT else result.status
    return result.model_copy(
        update={
            "check": result.check + FALLBACK_SUFFIX,
            "status": capped,
            "summary": f"env fallback: {result.summary}",
            "details": {**result.details, "probe_status": result.status.value},
        }
    )


def classify_network_error(exc: BaseException) -> ErrorClass:
    """dns / connect / tls / timeout / protocol for a socket-level failure (any wrapping library)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for err in chain:
        if isinstance(err, socket.gaierror):
            return "dns"
        if isinstance(err, ssl.SSLError | ssl.CertificateError):
            return "tls"
        if isinstance(err, TimeoutError | socket.timeout):
            return "timeout"
        if isinstance(err, ConnectionRefusedError) or getattr(err, "errno", None) == errno.ECONNREFUSED:
            return "connect"
    text = " ".join(str(e).lower() for e in chain) + " " + " ".join(type(e).__name__.lower() for e in chain)
    if any(
        m in text
        for m in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "temporary failure in name resolution",
            "no address associated",
        )
    ):
        return "dns"
    if any(m in text for m in ("certificate", "ssl", "tls", "wrong version number")):
        return "tls"
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "refused" in text or "connect" in text or "unreachable" in text:
        return "connect"
    return "protocol"


def short(text: str, limit: int = 200) -> str:
    """One line, bounded."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def merge(verdicts: list[Verdict], ok_summary: str, details: Mapping[str, Any]) -> Verdict:
    """Combine condition verdicts: the worst status wins; every non-OK reason is listed."""
    bad = [v for v in verdicts if v.status != Status.OK]
    if not bad:
        return Verdict(Status.OK, ok_summary, None, dict(details))
    worst_v = max(bad, key=lambda v: v.status.rank)
    bad.sort(key=lambda v: -v.status.rank)
    return Verdict(worst_v.status, "; ".join(v.summary for v in bad), worst_v.error_class, dict(details))
