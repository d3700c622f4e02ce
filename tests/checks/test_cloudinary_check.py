"""The Cloudinary probe through the real SDK against the loopback Admin API fake."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import cloudinary
import pytest

from opsdash.checks import cloudinary as cloudinary_check
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.config.fleet import Fleet
from opsdash.fakes.cloudinary import FakeCloudinary
from opsdash.fakes.tcp import HangingListener, closed_port
from opsdash.testing.seed import healthy_company
from tests.checks.conftest import FleetFactory, resolved

CLOUD = "acme-cloud"
API_KEY = "123456789012345"
SECRET = "canary-cloudinary-secret-42"
PRESET = "acme-preset"


@pytest.fixture
def fake() -> Iterator[FakeCloudinary]:
    with FakeCloudinary() as server:
        server.add_cloud(CLOUD, API_KEY, SECRET, presets=[PRESET], used_percent=12.5)
        yield server


@pytest.fixture
def probe_with(make_fleet: FleetFactory, make_ctx: Callable[[Fleet], CheckContext]) -> Callable[..., Any]:
    async def run(base_url: str, deadline: float = 3.0, **company: Any) -> CheckResult:
        fleet = make_fleet(endpoints={"cloudinary_api": base_url})
        fields = {
            "cloudinaryCloudName": CLOUD,
            "cloudinaryApiKey": API_KEY,
            "cloudinaryApiSecret": SECRET,
            "cloudinaryUploadPreset": PRESET,
            **company,
        }
        res = resolved("cloudinary", company=healthy_company(**fields), use_db=True)
        ctx = make_ctx(fleet)
        started = time.monotonic()
        result = await cloudinary_check.run(ctx, "acme", res, deadline)
        run.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
        return result

    return run


async def test_healthy_cloud_is_ok(fake: FakeCloudinary, probe_with: Any) -> None:
    result = await probe_with(fake.url)
    assert result.status == Status.OK, result.summary
    assert result.summary == f"ok: {CLOUD}, preset '{PRESET}' exists, credits 12.5% used"
    assert result.details["credits"]["used_percent"] == 12.5
    paths = [r.path for r in fake.requests]
    assert paths == [f"/v1_1/{CLOUD}/ping", f"/v1_1/{CLOUD}/upload_presets/{PRESET}", f"/v1_1/{CLOUD}/usage"]
    assert SECRET not in result.model_dump_json()


@pytest.mark.parametrize(
    ("company", "words"),
    [
        ({"cloudinaryApiSecret": "wrong-secret-xyz"}, "credentials rejected (401: Invalid credentials"),
        (
            {"cloudinaryApiKey": "999999999999999"},
            "credentials rejected (401: Unknown API key 999999999999999)",
        ),
        (
            {"cloudinaryCloudName": "other-cloud"},
            "credentials rejected (401: Invalid cloud_name other-cloud)",
        ),
    ],
)
async def test_401_is_crit_with_cloudinarys_message(
    fake: FakeCloudinary, probe_with: Any, company: dict[str, str], words: str
) -> None:
    result = await probe_with(fake.url, **company)
    assert (result.status, result.error_class) == (Status.CRIT, "auth")
    assert result.summary.startswith(words)
    assert "wrong-secret-xyz" not in result.model_dump_json()


async def test_missing_upload_preset_is_crit(fake: FakeCloudinary, probe_with: Any) -> None:
    result = await probe_with(fake.url, cloudinaryUploadPreset="gone")
    assert result.status == Status.CRIT
    assert "upload preset 'gone' does not exist" in result.summary


async def test_no_preset_configured_skips_the_preset_call(fake: FakeCloudinary, probe_with: Any) -> None:
    result = await probe_with(fake.url, cloudinaryUploadPreset=None)
    assert result.status == Status.OK
    assert not fake.requests_to(r".*/upload_presets/.*")


@pytest.mark.parametrize(("used", "status"), [(79.9, Status.OK), (80, Status.WARN), (95, Status.CRIT)])
async def test_credit_usage_thresholds(
    fake: FakeCloudinary, probe_with: Any, used: float, status: Status
) -> None:
    fake.clouds[CLOUD].used_percent = used
    result = await probe_with(fake.url)
    assert result.status == status
    assert f"credits {used:g}% used" in result.summary


@pytest.mark.parametrize(("forced", "status"), [(420, Status.WARN), (429, Status.WARN), (500, Status.CRIT)])
async def test_forced_statuses(fake: FakeCloudinary, probe_with: Any, forced: int, status: Status) -> None:
    fake.force_status(CLOUD, forced)
    result = await probe_with(fake.url)
    assert result.status == status
    assert f"({forced}:" in result.summary


async def test_closed_port_is_crit_connect(probe_with: Any) -> None:
    result = await probe_with(f"http://127.0.0.1:{closed_port()}")
    assert (result.status, result.error_class) == (Status.CRIT, "connect"), result.summary


async def test_hanging_api_times_out_within_deadline(probe_with: Any) -> None:
    with HangingListener() as listener:
        host, port = listener.address
        result = await probe_with(f"http://{host}:{port}", deadline=2.0)
    assert (result.status, result.error_class) == (Status.CRIT, "timeout"), result.summary
    assert probe_with.elapsed <= 2.0 * 1.2


@pytest.fixture
def opsdash_env_has_cloudinary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """opsdash's OWN environment carries another tenant's Cloudinary settings, loaded into the SDK."""
    monkeypatch.setenv("CLOUDINARY_URL", f"cloudinary://{API_KEY}:{SECRET}@{CLOUD}")
    monkeypatch.setenv("CLOUDINARY_API_SECRET", SECRET)
    cloudinary.reset_config()
    assert cloudinary.config().api_secret == SECRET
    yield
    monkeypatch.undo()
    cloudinary.reset_config()


@pytest.mark.usefixtures("opsdash_env_has_cloudinary")
async def test_opsdash_own_cloudinary_env_is_never_used(fake: FakeCloudinary, probe_with: Any) -> None:
    """The env holds the RIGHT secret; the tenant's wrong one must still fail, with the tenant's key."""
    fake.add_cloud("tenant-b", "555555555555555", "tenant-b-secret")
    wrong = await probe_with(fake.url, cloudinaryApiSecret="tenant-wrong-secret")
    assert wrong.status == Status.CRIT, wrong.summary
    other = await probe_with(
        fake.url,
        cloudinaryCloudName="tenant-b",
        cloudinaryApiKey="555555555555555",
        cloudinaryApiSecret="tenant-b-secret",
        cloudinaryUploadPreset=None,
    )
    assert other.status == Status.OK, other.summary
    assert {r.path_params.get("cloud") for r in fake.requests} == {CLOUD, "tenant-b"}
    assert all("authorization" in r.headers for r in fake.requests)
    for request in fake.requests_to(r"/v1_1/tenant-b/.*"):
        assert request.header("authorization") != cloudinary_basic(API_KEY, SECRET)


def cloudinary_basic(key: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
