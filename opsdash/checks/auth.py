"""The ``auth`` check: GET the next-auth providers list on the tenant's origin and check its callbacks.

Every provider's ``callbackUrl`` must share the origin of ``authCallbackUrl``; a deployment whose
``AUTH_URL`` points at localhost or another host fails here before a user fails to log in.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import (
    Deadline,
    Verdict,
    classify_network_error,
    missing_for_probe,
    not_probed,
    short,
    to_result,
    value_of,
)
from opsdash.config.resolve import ServiceResolution

CHECK_ID = "auth"
NEEDED = ("authCallbackUrl",)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` (default port dropped, host lower-cased), or ``None`` if not absolute."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port is None or port == _DEFAULT_PORTS.get(parts.scheme) else f":{port}"
    return f"{parts.scheme.lower()}://{host}{shown_port}"


def providers_url(callback_url: str, path: str) -> str | None:
    base = origin(callback_url)
    return None if base is None else base + "/" + path.lstrip("/")


def decide(http_status: int, body: Any, expected_origin: str, location: str | None = None) -> Verdict:
    """Pure: 200 JSON whose every provider's ``callbackUrl`` has ``expected_origin`` is OK."""
    details: dict[str, Any] = {"http_status": http_status, "expected_origin": expected_origin}
    if 300 <= http_status < 400:
        details["location"] = location
        return Verdict(
            Status.CRIT,
            f"providers endpoint redirects (HTTP {http_status}) to {location or '?'}",
            "protocol",
            details,
        )
    if http_status in (401, 403):
        return Verdict(
            Status.CRIT,
            f"providers endpoint refused (HTTP {http_status}): protected deployment?",
            "auth",
            details,
        )
    if http_status != 200:
        message = body.get("message") if isinstance(body, Mapping) else None
        text = f": {short(str(message), 120)}" if message else ""
        return Verdict(
            Status.CRIT, f"providers endpoint answered HTTP {http_status}{text}", "protocol", details
        )
    if not isinstance(body, Mapping):
        return Verdict(Status.CRIT, "providers endpoint did not answer a JSON object", "protocol", details)
    providers: dict[str, str | None] = {}
    wrong: list[str] = []
    for key, provider in body.items():
        callback = provider.get("callbackUrl") if isinstance(provider, Mapping) else None
        providers[str(key)] = callback if isinstance(callback, str) else None
        found = origin(callback) if isinstance(callback, str) else None
        if found != expected_origin:
            wrong.append(f"{key} -> {found or callback or 'no callbackUrl'}")
    details["providers"] = providers
    if wrong:
        return Verdict(
            Status.CRIT,
            f"callback origin is not {expected_origin}: " + ", ".join(wrong),
            "condition",
            details,
        )
    if not providers:
        return Verdict(Status.WARN, "no auth providers configured", "condition", details)
    return Verdict(
        Status.OK,
        f"ok: {len(providers)} provider(s) ({', '.join(providers)}) call back to {expected_origin}",
        None,
        details,
    )


async def probe(ctx: CheckContext, callback_url: str, deadline: Deadline) -> Verdict:
    """GET the providers list; network failures classified."""
    import httpx

    expected = origin(callback_url)
    url = providers_url(callback_url, ctx.fleet.endpoints.auth_providers_path)
    if expected is None or url is None:
        return Verdict(Status.CRIT, "authCallbackUrl is not an absolute URL", "condition", {})
    try:
        async with asyncio.timeout(deadline.backstop()):
            sent = time.perf_counter()
            response = await ctx.http.get(
                url, headers={"Accept": "application/json"}, timeout=httpx.Timeout(deadline.remaining())
            )
            latency_ms = round((time.perf_counter() - sent) * 1000, 2)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        kind = "timeout" if isinstance(exc, TimeoutError) else classify_network_error(exc)
        reason = short(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return Verdict(Status.CRIT, f"{url} unreachable ({kind}): {reason}", kind, {"url": url})
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    verdict = decide(response.status_code, body, expected, response.headers.get("location"))
    return Verdict(
        verdict.status,
        verdict.summary,
        verdict.error_class,
        {**verdict.details, "url": url, "latency_ms": latency_ms},
    )


async def run(ctx: CheckContext, tenant: str, res: ServiceResolution, deadline_s: float) -> CheckResult:
    """Probe the auth config ``res`` resolves to (UNKNOWN when it is incomplete)."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    callback = value_of(res, "authCallbackUrl")
    if not callback or missing_for_probe(res, NEEDED):
        verdict = not_probed(res, NEEDED)
    else:
        verdict = await probe(ctx, str(callback), deadline)
    return to_result(
        tenant, CHECK_ID, verdict, started=started, duration_s=deadline.elapsed(), source=res.source
    )
