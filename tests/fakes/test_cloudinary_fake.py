"""The real ``cloudinary`` SDK against the fake Admin API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudinary.api
import httpx
import pytest
from cloudinary.exceptions import AuthorizationRequired, GeneralError, NotFound, RateLimited

from opsdash.fakes.cloudinary import FakeCloudinary
from opsdash.fakes.tcp import closed_port

CLOUD, KEY, SECRET = "acme-prod", "123456789012345", "s3cr3t-value-XYZ"


@pytest.fixture
def fake() -> Iterator[FakeCloudinary]:
    with FakeCloudinary() as server:
        server.add_cloud(
            CLOUD,
            KEY,
            SECRET,
            presets=["signed_one", {"name": "browser", "unsigned": True, "settings": {"folder": "u"}}],
            used_percent=42.5,
        )
        yield server


def creds(fake: FakeCloudinary, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "cloud_name": CLOUD,
        "api_key": KEY,
        "api_secret": SECRET,
        "upload_prefix": fake.url,
        "api_proxy": None,
        "timeout": 5,
    }
    options.update(overrides)
    return options


def test_sdk_ping_ok_with_rate_limit_headers(fake: FakeCloudinary) -> None:
    result = cloudinary.api.ping(**creds(fake))
    assert result == {"status": "ok"}
    assert result.rate_limit_allowed == 500
    assert result.rate_limit_remaining == 499
    assert result.rate_limit_reset_at is not None
    assert result.request_id
    (request,) = fake.requests
    assert request.path == f"/v1_1/{CLOUD}/ping"


def test_sdk_usage_shape(fake: FakeCloudinary) -> None:
    usage = cloudinary.api.usage(**creds(fake))
    assert usage["plan"] == "Free"
    assert usage["last_updated"]
    assert usage["credits"]["used_percent"] == 42.5
    assert usage["credits"]["limit"] == 25.0
    assert usage["credits"]["usage"] == pytest.approx(10.62, abs=0.01)
    dated = cloudinary.api.usage(date="2025-01-31", **creds(fake))
    assert dated["credits"]["used_percent"] == 42.5


def test_sdk_upload_preset_found_and_missing(fake: FakeCloudinary) -> None:
    preset = cloudinary.api.upload_preset("browser", **creds(fake))
    assert preset == {"name": "browser", "unsigned": True, "settings": {"folder": "u"}}
    assert cloudinary.api.upload_preset("signed_one", **creds(fake))["unsigned"] is False
    with pytest.raises(NotFound, match="Error 404 - Can't find upload preset named nope"):
        cloudinary.api.upload_preset("nope", **creds(fake))


def test_sdk_unknown_cloud(fake: FakeCloudinary) -> None:
    with pytest.raises(AuthorizationRequired, match="Error 401 - Invalid cloud_name other"):
        cloudinary.api.ping(**creds(fake, cloud_name="other"))


def test_sdk_unknown_key(fake: FakeCloudinary) -> None:
    with pytest.raises(AuthorizationRequired, match="Error 401 - Unknown API key 999"):
        cloudinary.api.ping(**creds(fake, api_key="999"))


def test_sdk_wrong_secret_message_does_not_leak_secret(fake: FakeCloudinary) -> None:
    with pytest.raises(AuthorizationRequired) as info:
        cloudinary.api.ping(**creds(fake, api_secret="wrong-secret-value"))
    assert str(info.value).startswith("Error 401 - ")
    assert "wrong-secret-value" not in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(("status", "error"), [(420, RateLimited), (429, RateLimited), (500, GeneralError)])
def test_sdk_forced_status(fake: FakeCloudinary, status: int, error: type[Exception]) -> None:
    fake.force_status(CLOUD, status, times=1)
    with pytest.raises(error, match=f"Error {status} - "):
        cloudinary.api.ping(**creds(fake))
    assert cloudinary.api.ping(**creds(fake)) == {"status": "ok"}


def test_sdk_connection_refused_is_general_error() -> None:
    with pytest.raises(GeneralError, match="Unexpected error"):
        cloudinary.api.ping(
            cloud_name=CLOUD,
            api_key=KEY,
            api_secret=SECRET,
            upload_prefix=f"http://127.0.0.1:{closed_port()}",
            timeout=2,
        )


def test_missing_basic_auth_with_httpx(fake: FakeCloudinary) -> None:
    response = httpx.get(f"{fake.url}/v1_1/{CLOUD}/ping")
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Must supply api_key"}}
    ok = httpx.get(f"{fake.url}/v1_1/{CLOUD}/ping", auth=(KEY, SECRET))
    assert ok.json() == {"status": "ok"}
    assert ok.headers["X-FeatureRateLimit-Limit"] == "500"
