"""The ``cloudinary`` check: ping, upload preset and credit usage through the Cloudinary SDK.

Every SDK call gets the tenant's cloud name, API key and secret, ``oauth_token=None`` and the
configured ``upload_prefix`` explicitly, so nothing from opsdash's own ``CLOUDINARY_*`` environment
(which the SDK loads into its global config at import) can take part. The SDK is synchronous: it runs
in a small dedicated thread pool with its per-call timeout set from the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opsdash.checks.base import CheckResult, ErrorClass, Status
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

CHECK_ID = "cloudinary"
NEEDED = ("cloudinaryCloudName", "cloudinaryApiKey", "cloudinaryApiSecret")
USAGE_WARN = 80.0
USAGE_CRIT = 95.0
_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="opsdash-cloudinary")
_HTTP_ERROR = re.compile(r"^Error (?P<status>\d{3}) - (?P<message>.*)$", re.DOTALL)


@dataclass(frozen=True)
class ApiFailure:
    """One failed SDK call: the HTTP status when Cloudinary answered, else a network error class."""

    call: str
    message: str
    http_status: int | None = None
    network: ErrorClass | None = None


@dataclass(frozen=True)
class CloudinaryProbe:
    """What the calls returned; a failed ping stops the probe."""

    cloud_name: str
    ping: ApiFailure | None = None
    preset: str | None = None
    preset_found: bool | None = None
    preset_failure: ApiFailure | None = None
    usage: Mapping[str, Any] | None = None
    usage_failure: ApiFailure | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def failure_from(call: str, exc: BaseException) -> ApiFailure:
    """Read the SDK's exception: ``"Error 401 - <Cloudinary's message>"`` or a socket/urllib3 error."""
    text = str(exc)
    found = _HTTP_ERROR.match(text)
    if found:
        return ApiFailure(call, short(found["message"]), http_status=int(found["status"]))
    if text.startswith("Error parsing server response"):
        return ApiFailure(call, short(text), network="protocol")
    return ApiFailure(call, short(text), network=classify_network_error(exc))


def decide_failure(failure: ApiFailure) -> Verdict:
    """Pure: 401/403 CRIT with Cloudinary's message; 420/429 WARN; others CRIT."""
    details = {"call": failure.call, "http_status": failure.http_status, "message": failure.message}
    status = failure.http_status
    if status in (401, 403):
        return Verdict(Status.CRIT, f"credentials rejected ({status}: {failure.message})", "auth", details)
    if status in (420, 429):
        return Verdict(Status.WARN, f"rate limited ({status}: {failure.message})", "condition", details)
    if status is not None:
        return Verdict(
            Status.CRIT, f"{failure.call} failed ({status}: {failure.message})", "protocol", details
        )
    kind = failure.network or "protocol"
    return Verdict(Status.CRIT, f"Cloudinary unreachable ({kind}): {failure.message}", kind, details)


def decide_usage(usage: Mapping[str, Any]) -> Verdict:
    """Pure: ``credits.used_percent`` >= 95 CRIT, >= 80 WARN."""
    credits = usage.get("credits")
    used = credits.get("used_percent") if isinstance(credits, Mapping) else None
    if used is None:
        return Verdict(Status.OK, "credits: not reported")
    used = float(used)
    if used >= USAGE_CRIT:
        return Verdict(Status.CRIT, f"credits {used:g}% used (>= {USAGE_CRIT:g}%)", "condition")
    if used >= USAGE_WARN:
        return Verdict(Status.WARN, f"credits {used:g}% used (>= {USAGE_WARN:g}%)", "condition")
    return Verdict(Status.OK, f"credits {used:g}% used")


def decide(probe: CloudinaryProbe) -> Verdict:
    """Pure: the whole probe to one verdict (worst condition wins)."""
    details: dict[str, Any] = {"cloud_name": probe.cloud_name, "upload_preset": probe.preset, **probe.extra}
    if probe.ping is not None:
        verdict = decide_failure(probe.ping)
        return Verdict(verdict.status, verdict.summary, verdict.error_class, {**details, **verdict.details})
    found: list[Verdict] = []
    if probe.preset_failure is not None:
        found.append(decide_failure(probe.preset_failure))
    elif probe.preset is not None and probe.preset_found is False:
        found.append(Verdict(Status.CRIT, f"upload preset '{probe.preset}' does not exist", "condition"))
    used_text = ""
    if probe.usage_failure is not None:
        found.append(decide_failure(probe.usage_failure))
    elif probe.usage is not None:
        usage_verdict = decide_usage(probe.usage)
        found.append(usage_verdict)
        used_text = usage_verdict.summary
        credits = probe.usage.get("credits")
        details["credits"] = dict(credits) if isinstance(credits, Mapping) else None
        details["plan"] = probe.usage.get("plan")
    preset_text = f", preset '{probe.preset}' exists" if probe.preset and probe.preset_found else ""
    return merge(found, f"ok: {probe.cloud_name}{preset_text}, {used_text or 'usage unknown'}", details)


@dataclass(frozen=True)
class CloudinaryConfig:
    """The probe's inputs, taken from a resolved ``cloudinary`` service."""

    cloud_name: str
    api_key: str
    api_secret: str
    upload_preset: str | None


def config_from(res: ServiceResolution) -> CloudinaryConfig | None:
    values = [value_of(res, name) for name in NEEDED]
    if not all(values):
        return None
    preset = value_of(res, "cloudinaryUploadPreset")
    return CloudinaryConfig(*(str(v) for v in values), upload_preset=str(preset) if preset else None)


def _probe_sync(cfg: CloudinaryConfig, base_url: str, deadline: Deadline) -> CloudinaryProbe:
    import cloudinary.api
    from cloudinary.exceptions import NotFound

    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    def options() -> dict[str, Any]:
        return {
            "cloud_name": cfg.cloud_name,
            "api_key": cfg.api_key,
            "api_secret": cfg.api_secret,
            "oauth_token": None,
            "upload_prefix": base_url,
            "timeout": deadline.remaining(),
        }

    sent = time.perf_counter()
    try:
        cloudinary.api.ping(**options())
    except Exception as exc:
        return CloudinaryProbe(cfg.cloud_name, ping=failure_from("ping", exc))
    latency_ms = round((time.perf_counter() - sent) * 1000, 2)
    preset_found: bool | None = None
    preset_failure = None
    if cfg.upload_preset:
        try:
            cloudinary.api.upload_preset(cfg.upload_preset, **options())
            preset_found = True
        except NotFound:
            preset_found = False
        except Exception as exc:
            preset_failure = failure_from("upload_preset", exc)
    usage: Mapping[str, Any] | None = None
    usage_failure = None
    try:
        usage = dict(cloudinary.api.usage(**options()))
    except Exception as exc:
        usage_failure = failure_from("usage", exc)
    return CloudinaryProbe(
        cfg.cloud_name,
        preset=cfg.upload_preset,
        preset_found=preset_found,
        preset_failure=preset_failure,
        usage=usage,
        usage_failure=usage_failure,
        extra={"latency_ms": latency_ms},
    )


async def probe(ctx: CheckContext, cfg: CloudinaryConfig, deadline: Deadline) -> Verdict:
    """Run the SDK calls in a worker thread, bounded by the deadline."""
    loop = asyncio.get_running_loop()
    base_url = ctx.fleet.endpoints.cloudinary_api.rstrip("/")
    try:
        async with asyncio.timeout(deadline.backstop()):
            result = await loop.run_in_executor(_EXECUTOR, _probe_sync, cfg, base_url, deadline)
    except TimeoutError:
        return Verdict(
            Status.CRIT,
            "Cloudinary did not answer within the deadline",
            "timeout",
            {"cloud_name": cfg.cloud_name},
        )
    verdict = decide(result)
    return Verdict(
        verdict.status, scrub(verdict.summary, [cfg.api_secret]), verdict.error_class, verdict.details
    )


async def run(ctx: CheckContext, tenant: str, res: ServiceResolution, deadline_s: float) -> CheckResult:
    """Probe the Cloudinary config ``res`` resolves to (UNKNOWN when it is incomplete)."""
    started = datetime.now(UTC)
    deadline = Deadline(deadline_s)
    cfg = config_from(res)
    needed = (*NEEDED, "cloudinaryUploadPreset") if res.fields["cloudinaryUploadPreset"].error else NEEDED
    if cfg is None or missing_for_probe(res, needed):
        verdict = not_probed(res, needed)
    else:
        verdict = await probe(ctx, cfg, deadline)
    return to_result(
        tenant, CHECK_ID, verdict, started=started, duration_s=deadline.elapsed(), source=res.source
    )
