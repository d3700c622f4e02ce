"""The ``whatsapp`` check: one read-only Graph API GET of the phone-number node.

``decide`` maps a Graph response to a status (branching on the Graph error ``code``, never on the
HTTP status); ``run`` does the GET. The token goes in the Authorization header and never into a
result; the request URL (it carries ``appsecret_proof``) is never echoed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.verdict import (
    Deadline,
    Verdict,
    classify_network_error,
    merge,
    missing_for_probe,
    not_probed,
    short,
    to_result,
    value_of,
)
from opsdash.config.resolve import ServiceResolution
from opsdash.redact import scrub

CHECK_ID = "whatsapp"
DEFAULT_VERSION = "v23.0"
BASE_FIELDS = (
    "id",
    "display_phone_number",
    "verified_name",
    "status",
    "quality_rating",
    "name_status",
    "code_verification_status",
    "platform_type",
    "throughput",
    "account_mode",
    "health_status",
)
OLD_LIMIT_FIELD = "messaging_limit_tier"
NEW_LIMIT_FIELD = "whatsapp_business_manager_messaging_limit"
RATE_LIMIT_CODES = frozenset({4, 80007, 130429})
PERMISSION_CODES = frozenset({0, 10, *range(200, 300)})
POLICY_CODES = frozenset({368, 130497})
NEEDED = ("whatsappPermanentToken", "whatsappPhoneNumberId")
_STATUS_CRIT = frozenset({"BANNED", "DELETED", "DISCONNECTED", "OFFLINE"})


def appsecret_proof(app_secret: str, token: str) -> str:
    """hex HMAC-SHA256(key=app_secret, msg=token)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def limit_field(version: str) -> str:
    """``messaging_limit_tier`` up to v23.0, ``whatsapp_business_manager_messaging_limit`` from v24.0."""
    found = re.fullmatch(r"v(\d+)\.(\d+)", version)
    return NEW_LIMIT_FIELD if found and (int(found[1]), int(found[2])) >= (24, 0) else OLD_LIMIT_FIELD


def requested_fields(version: str) -> str:
    return ",".join((*BASE_FIELDS, limit_field(version)))


def decide_error(http_status: int, error: Mapping[str, Any]) -> Verdict:
    """Pure: a Graph ``{"error": {...}}`` body to a status, by ``code`` (and subcode / message)."""
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = short(str(error.get("message") or ""))
    details = {
        "http_status": http_status,
        "graph_code": code,
        "graph_subcode": subcode,
        "graph_message": message,
        "fbtrace_id": error.get("fbtrace_id"),
    }
    lowered = message.lower()
    if code == 190:
        return Verdict(Status.CRIT, f"token invalid or expired (Graph 190: {message})", "auth", details)
    if code == 100 and subcode == 33:
        return Verdict(
            Status.CRIT,
            f"wrong phone number id or no access to it (Graph 100/33: {message})",
            "auth",
            details,
        )
    if code == 100 and "invalid appsecret_proof" in lowered:
        return Verdict(Status.CRIT, "wrong app secret (Graph 100: Invalid appsecret_proof)", "auth", details)
    if code == 100 and "require an appsecret_proof" in lowered:
        return Verdict(
            Status.CRIT,
            "the app requires appsecret_proof but no app secret is set (Graph 100)",
            "auth",
            details,
        )
    if code in RATE_LIMIT_CODES:
        return Verdict(
            Status.WARN, f"rate limited, backing off (Graph {code}: {message})", "condition", details
        )
    if code in PERMISSION_CODES:
        return Verdict(Status.CRIT, f"permission problem (Graph {code}: {message})", "auth", details)
    if code in POLICY_CODES:
        return Verdict(Status.CRIT, f"policy restriction (Graph {code}: {message})", "condition", details)
    return Verdict(Status.CRIT, f"Graph error {code}: {message}", "protocol", details)


def _health(node: Mapping[str, Any]) -> str | None:
    health = node.get("health_status")
    if isinstance(health, Mapping):
        value = health.get("can_send_message")
        return str(value) if value else None
    return None


def _health_reasons(node: Mapping[str, Any]) -> str:
    health = node.get("health_status")
    if not isinstance(health, Mapping):
        return ""
    found = []
    for entity in health.get("entities") or []:
        if not isinstance(entity, Mapping) or entity.get("can_send_message") in (None, "AVAILABLE"):
            continue
        errors = entity.get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
        why = first.get("error_description") or first.get("error_code") or entity.get("can_send_message")
        found.append(f"{entity.get('entity_type')}: {why}")
    return f" ({short('; '.join(found), 160)})" if found else ""


def decide_node(node: Mapping[str, Any], version: str) -> Verdict:
    """Pure: a phone-number node to a status: health, quality, status, name and account conditions."""
    limit = node.get(limit_field(version))
    health = _health(node)
    quality = node.get("quality_rating")
    status = node.get("status")
    name_status = node.get("name_status")
    details: dict[str, Any] = {
        "api_version": version,
        "display_phone_number": node.get("display_phone_number"),
        "verified_name": node.get("verified_name"),
        "health_status": health,
        "quality_rating": quality,
        "status": status,
        "name_status": name_status,
        "messaging_limit": limit,
        "platform_type": node.get("platform_type"),
        "account_mode": node.get("account_mode"),
    }
    found: list[Verdict] = []
    if health == "BLOCKED":
        found.append(Verdict(Status.CRIT, f"health BLOCKED: cannot send{_health_reasons(node)}", "condition"))
    elif health == "LIMITED":
        found.append(Verdict(Status.WARN, f"health LIMITED{_health_reasons(node)}", "condition"))
    if quality == "RED":
        found.append(Verdict(Status.CRIT, "quality RED", "condition"))
    elif quality == "YELLOW":
        found.append(Verdict(Status.WARN, "quality YELLOW", "condition"))
    if status in _STATUS_CRIT:
        found.append(Verdict(Status.CRIT, f"status {status}", "condition"))
    elif status is not None and status != "CONNECTED":
        found.append(Verdict(Status.WARN, f"status {status}", "condition"))
    if name_status in ("DECLINED", "EXPIRED"):
        found.append(Verdict(Status.WARN, f"display name {name_status}", "condition"))
    platform = node.get("platform_type")
    if platform is not None and platform != "CLOUD_API":
        found.append(Verdict(Status.WARN, f"platform {platform}, not CLOUD_API", "condition"))
    if node.get("account_mode") == "SANDBOX":
        found.append(Verdict(Status.WARN, "account in SANDBOX mode", "condition"))
    name = node.get("verified_name") or node.get("display_phone_number") or node.get("id")
    ok = f"ok: {name}, health {health or '?'}, quality {quality or '?'}, limit {limit or '?'}"
    return merge(found, ok, details)


def decide(http_status: int, body: Any, version: str) -> Verdict:
    """Pure: the whole Graph response (status code and decoded JSON, or ``None``) to a verdict."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return decide_error(http_status, body["error"])
    if not isinstance(body, Mapping):
        return Verdict(
            Status.CRIT,
            f"HTTP {http_status}: the Graph API did not answer JSON",
            "protocol",
            {"http_status": http_status},
        )
    if http_status != 200:
        return Verdict(
            Status.CRIT,
            f"HTTP {http_status} without a Graph error body",
            "protocol",
            {"http_status": http_status},
        )
    return decide_node(body, version)


@dataclass(frozen=True)
class WhatsAppConfig:
    """The probe's inputs, taken from a resolved ``whatsapp`` service."""

    token: str
    phone_number_id: str
    version: str
    app_secret: str | None

    @property
    def secrets(self) -> list[str]:
        found = [self.token]
        if self.app_secret:
            found += [self.app_secret, appsecret_proof(self.app_secret, self.token)]
        return found


def config_from(res: ServiceResolution) -> WhatsAppConfig | None:
    token = value_of(res, "whatsappPermanentToken")
    phone = value_of(res, "whatsappPhoneNumberId")
    if not token or not phone:
        return None
    return WhatsAppConfig(
        token=str(token),
        phone_number_id=str(phone),
        version=str(value_of(res, "whatsappApiVersion") or DEFAULT_VERSION),
        app_secret=str(value_of(res, "whatsappAppSecret") or "") or None,
    )


async def probe(ctx: CheckContext, cfg: WhatsAppConfig, deadline: Deadline) -> Verdict:
    """One GET of the phone-number node; network failures classified, the token never shown."""
    import httpx

    base = ctx.fleet.endpoints.graph_api.rstrip("/")
    params = {"fields": requested_fields(cfg.version)}
    if cfg.app_secret:
        params["appsecret_proof"] = appsecret_proof(cfg.app_secret, cfg.token)
    url = f"{base}/{cfg.version}/{cfg.phone_number_id}"
    try:
        async with asyncio.timeout(deadline.backstop()):
            sent = time.perf_counter()
            response = await ctx.http.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {cfg.token}"},
                timeout=httpx.Timeout(deadline.remaining()),
            )
            latency_ms = round((time.perf_counter() - sent) * 1000, 2)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        kind = "timeout" if isinstance(exc, TimeoutError) else classify_network_error(exc)
        reason = scrub(short(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__), cfg.secrets)
        return Verdict(Status.CRIT, f"Graph API unreachable ({kind}): {reason}", kind, {})
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    verdict = decide(response.status_code, body, cfg.version)
    usage = response.headers.get("x-business-use-case-usage")
    extra: dict[str, Any] = {
        "latency_ms": latency_ms,
        "phone_number_id": cfg.phone_number_id,
        "appsecret_proof": bool(cfg.app_secret),
    }
    if usage:
        extra["business_use_case_usage"] = short(usage, 500)
    return Verdict(
        verdict.status, scrub(verdict.summary, cfg.secrets), verdict.error_class, {**verdict.details, **extra}
    )


async def run(ctx: CheckContext, tenant: str, res: ServiceResolution, deadline_s: float) -> CheckResult:
    """Probe the WhatsApp config ``res`` resolves to (UNKNOWN when it is incomplete)."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    cfg = config_from(res)
    version = res.fields.get("whatsappApiVersion")
    needed = (*NEEDED, "whatsappApiVersion") if version is not None and version.error else NEEDED
    if cfg is None or missing_for_probe(res, needed):
        verdict = not_probed(res, needed)
    else:
        verdict = await probe(ctx, cfg, deadline)
    return to_result(
        tenant, CHECK_ID, verdict, started=started, duration_s=deadline.elapsed(), source=res.source
    )
