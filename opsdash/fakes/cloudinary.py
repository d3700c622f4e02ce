"""Fake Cloudinary Admin API (``ping``, ``usage``, ``upload_presets/{name}``).

Pointing the real ``cloudinary`` SDK (1.46) at the fake: every Admin API function
accepts ``upload_prefix`` per call (``cloudinary/api_client/call_api.py`` pops it from
the options, falling back to ``cloudinary.config().upload_prefix`` and then
``https://api.cloudinary.com``) and builds ``{upload_prefix}/v1_1/{cloud_name}/...``::

    cloudinary.api.ping(cloud_name="demo", api_key="k", api_secret="s",
                        upload_prefix=fake.url, timeout=5)

Pass all three credentials explicitly: importing ``cloudinary`` loads ``CLOUDINARY_*``
variables into the global config. ``api_proxy`` is *not* a per-call option: the SDK's
HTTP pool is built once at import from ``config().api_proxy`` (``CLOUDINARY_API_PROXY``
or the ``CLOUDINARY_URL`` query); a per-call ``api_proxy=None`` is accepted and ignored.

SDK errors are plain exceptions whose text carries the HTTP status, e.g.
``AuthorizationRequired("Error 401 - Unknown API key k")``; the classes come from the
status (401 ``AuthorizationRequired``, 404 ``NotFound``, 420/429 ``RateLimited``,
500 ``GeneralError``); there is no status attribute. A refused connection surfaces as
``GeneralError("Unexpected error ...: Max retries exceeded ...")`` (urllib3 ``HTTPError``);
raw socket errors as ``GeneralError("Socket Error: ...")``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from opsdash.fakes.http_base import FakeHTTPServer, RecordedRequest, Response, json_response

__all__ = ["CloudAccount", "FakeCloudinary"]

_FORCED_MESSAGES = {
    420: "Rate Limit Exceeded",
    429: "Rate Limit Exceeded",
    500: "General Error",
    503: "Service Unavailable",
}


@dataclass
class CloudAccount:
    """One product environment (cloud) with credentials, presets, usage and knobs."""

    cloud_name: str
    api_key: str
    api_secret: str
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    used_percent: float = 10.0
    plan: str = "Free"
    credits_limit: float = 25.0
    rate_limit: int = 500
    rate_limit_remaining: int = 500
    forced_status: int | None = None
    forced_times: int | None = None


class FakeCloudinary(FakeHTTPServer):
    """Loopback stand-in for ``https://api.cloudinary.com`` (Admin API, Basic auth)."""

    def __init__(self) -> None:
        super().__init__()
        self.clouds: dict[str, CloudAccount] = {}
        prefix = r"/v1_1/(?P<cloud>[^/]+)"
        self.router.add("GET", prefix + r"/ping", self._ping)
        self.router.add("GET", prefix + r"/usage(?:/(?P<date>[^/]+))?", self._usage)
        self.router.add("GET", prefix + r"/upload_presets/(?P<name>[^/]+)", self._preset)

    def add_cloud(
        self,
        cloud_name: str,
        api_key: str,
        api_secret: str,
        presets: Iterable[str | Mapping[str, Any]] = (),
        used_percent: float = 10.0,
        **options: Any,
    ) -> CloudAccount:
        """Register a cloud. ``presets`` are names (signed, no settings) or dicts
        ``{"name", "unsigned", "settings"}``; ``options`` set other
        :class:`CloudAccount` fields (``plan``, ``rate_limit_remaining``...)."""
        account = CloudAccount(cloud_name, api_key, api_secret, used_percent=used_percent)
        for name, value in options.items():
            setattr(account, name, value)
        for preset in presets:
            if isinstance(preset, str):
                account.presets[preset] = {"name": preset, "unsigned": False, "settings": {}}
            else:
                account.presets[preset["name"]] = {
                    "name": preset["name"],
                    "unsigned": bool(preset.get("unsigned", False)),
                    "settings": dict(preset.get("settings", {})),
                }
        with self.lock:
            self.clouds[cloud_name] = account
        return account

    def add_preset(self, cloud_name: str, name: str, *, unsigned: bool = False, **settings: Any) -> None:
        """Add or replace an upload preset."""
        with self.lock:
            self.clouds[cloud_name].presets[name] = {
                "name": name,
                "unsigned": unsigned,
                "settings": settings,
            }

    def force_status(self, cloud_name: str, status: int | None, times: int | None = None) -> None:
        """Answer every call for this cloud with ``status`` (e.g. 420, 429, 500).

        ``times`` limits it to the next N calls; ``status=None`` clears it.
        """
        with self.lock:
            account = self.clouds[cloud_name]
            account.forced_status = status
            account.forced_times = times

    def not_found(self, request: RecordedRequest) -> Response:
        """Cloudinary's answer to an unknown path."""
        return json_response(404, {"error": {"message": "Resource not found"}})

    def _rate_headers(self, account: CloudAccount | None) -> dict[str, str]:
        headers = {"X-Request-Id": secrets.token_hex(16)}
        if account is None:
            return headers
        reset = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        headers.update(
            {
                "X-FeatureRateLimit-Limit": str(account.rate_limit),
                "X-FeatureRateLimit-Remaining": str(account.rate_limit_remaining),
                "X-FeatureRateLimit-Reset": format_datetime(reset, usegmt=True),
            }
        )
        return headers

    def _error(self, status: int, message: str, account: CloudAccount | None) -> Response:
        return json_response(status, {"error": {"message": message}}, self._rate_headers(account))

    def _authorize(self, request: RecordedRequest) -> CloudAccount | Response:
        cloud = request.path_params["cloud"]
        account = self.clouds.get(cloud)
        if account is None:
            return self._error(401, f"Invalid cloud_name {cloud}", None)
        credentials = _basic_auth(request.header("authorization"))
        if credentials is None:
            return self._error(401, "Must supply api_key", None)
        key, secret = credentials
        if key != account.api_key:
            return self._error(401, f"Unknown API key {key}", None)
        if not hmac.compare_digest(secret.encode(), account.api_secret.encode()):
            return self._error(401, f"Invalid credentials for API key {key}", None)
        if account.forced_status is not None:
            status = account.forced_status
            if account.forced_times is not None:
                account.forced_times -= 1
                if account.forced_times <= 0:
                    account.forced_status = account.forced_times = None
            if status in (420, 429):
                account.rate_limit_remaining = 0
            message = _FORCED_MESSAGES.get(status, f"Forced error {status}")
            return self._error(status, message, account)
        account.rate_limit_remaining = max(account.rate_limit_remaining - 1, 0)
        return account

    def _ping(self, request: RecordedRequest) -> Response:
        account = self._authorize(request)
        if isinstance(account, Response):
            return account
        return json_response(200, {"status": "ok"}, self._rate_headers(account))

    def _usage(self, request: RecordedRequest) -> Response:
        account = self._authorize(request)
        if isinstance(account, Response):
            return account
        credits_used = round(account.credits_limit * account.used_percent / 100, 2)
        third = round(credits_used / 3, 2)
        body = {
            "plan": account.plan,
            "last_updated": datetime.now(UTC).date().isoformat(),
            "date_requested": datetime.now(UTC).isoformat(timespec="seconds"),
            "transformations": {"usage": 1200, "credits_usage": third},
            "objects": {"usage": 3400},
            "bandwidth": {"usage": 1_500_000_000, "credits_usage": third},
            "storage": {"usage": 2_000_000_000, "credits_usage": third},
            "credits": {
                "usage": credits_used,
                "limit": account.credits_limit,
                "used_percent": account.used_percent,
            },
            "requests": 54000,
            "resources": 3400,
            "derived_resources": 800,
            "media_limits": {
                "image_max_size_bytes": 10_485_760,
                "video_max_size_bytes": 104_857_600,
                "raw_max_size_bytes": 10_485_760,
            },
            "rate_limit_allowed": account.rate_limit,
            "rate_limit_remaining": account.rate_limit_remaining,
        }
        return json_response(200, body, self._rate_headers(account))

    def _preset(self, request: RecordedRequest) -> Response:
        account = self._authorize(request)
        if isinstance(account, Response):
            return account
        name = request.path_params["name"]
        preset = account.presets.get(name)
        if preset is None:
            return self._error(404, f"Can't find upload preset named {name}", account)
        return json_response(200, preset, self._rate_headers(account))


def _basic_auth(value: str | None) -> tuple[str, str] | None:
    if not value or not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep else None
