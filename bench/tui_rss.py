"""Peak RSS of a dashboard process holding N tenants.

The parent seeds a fleet file and a results store (19 latest results per tenant, with the masked field
tables the config checks really carry), then starts a child process that runs the real OpsdashApp headless
(Textual's ``run_test``, 80x24) over them: it loads the latest results, shows the overview, absorbs one
more batch in which every tenant changed and refreshes again. The child reports its peak RSS (VmHWM from
/proc/self/status, else ru_maxrss). The target (issue 8) is <= 200 MB at 1,000 tenants.

    python bench/tui_rss.py [--tenants 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
SERVICE_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "whatsapp": (
        ("whatsappPhoneNumberId", "WHATSAPP_PHONE_NUMBER_ID", False),
        ("whatsappAccessToken", "WHATSAPP_ACCESS_TOKEN", True),
        ("whatsappBusinessAccountId", "WHATSAPP_BUSINESS_ACCOUNT_ID", False),
        ("whatsappAppSecret", "WHATSAPP_APP_SECRET", True),
    ),
    "whatsapp_otp": (
        ("whatsappOtpTemplate", "WHATSAPP_OTP_TEMPLATE", False),
        ("whatsappOtpPhoneNumberId", "WHATSAPP_OTP_PHONE_NUMBER_ID", False),
        ("whatsappOtpAccessToken", "WHATSAPP_OTP_ACCESS_TOKEN", True),
    ),
    "cloudinary": (
        ("cloudinaryCloudName", "CLOUDINARY_CLOUD_NAME", False),
        ("cloudinaryApiKey", "CLOUDINARY_API_KEY", False),
        ("cloudinaryApiSecret", "CLOUDINARY_API_SECRET", True),
        ("cloudinaryFolder", "CLOUDINARY_FOLDER", False),
    ),
    "auth": (
        ("nextAuthUrl", "NEXTAUTH_URL", False),
        ("nextAuthSecret", "NEXTAUTH_SECRET", True),
    ),
    "email": (
        ("smtpHost", "SMTP_HOST", False),
        ("smtpPort", "SMTP_PORT", False),
        ("smtpUser", "SMTP_USER", False),
        ("smtpPassword", "SMTP_PASSWORD", True),
        ("emailFrom", "EMAIL_FROM", False),
    ),
    "business": (
        ("businessName", "BUSINESS_NAME", False),
        ("businessPhone", "BUSINESS_PHONE", False),
        ("businessAddress", "BUSINESS_ADDRESS", False),
    ),
}
FLAGGED = ("whatsapp", "whatsapp_otp", "cloudinary", "auth")
LIVE = ("whatsapp", "cloudinary", "smtp", "auth")
LIVE_FALLBACK = ("whatsapp", "cloudinary", "auth")


def tenant_results(name: str, i: int, at: datetime, latency: float) -> list[Any]:
    """The 19 latest results a fully configured tenant holds, shaped like the real checks' output."""
    from opsdash.checks.base import CheckResult, Status

    def result(check: str, details: dict[str, Any], status: Status = Status.OK, summary: str = "ok") -> Any:
        return CheckResult(
            tenant=name,
            check=check,
            status=status,
            summary=summary,
            details=details,
            timestamp=at,
            duration_s=0.02 + (i % 5) / 100,
            source="db",
        )

    out = [
        result(
            "db",
            {
                "latency_ms": latency + i % 7,
                "server_version": "7.0.12",
                "companies": 1,
                "data_size_bytes": 1_000_000 + i,
                "findings": [],
            },
        )
    ]
    for service, fields in SERVICE_FIELDS.items():
        table = {
            field: {
                "source": "db",
                "value": f"set ({'ab12cd'[i % 3 :]}…)" if secret else f"{field}-{name}",
                "secret": secret,
                "env_var": env_var,
                "error": None,
            }
            for field, env_var, secret in fields
        }
        flag = (
            {"name": f"USE_DB_{service.upper()}", "raw": "true", "on": True} if service in FLAGGED else None
        )
        out.append(
            result(
                f"config:{service}",
                {
                    "source": "db",
                    "flag": flag,
                    "completeness": 1.0,
                    "problems": {},
                    "fields": table,
                    "findings": [],
                },
                summary="complete",
            )
        )
    for service in FLAGGED:
        out.append(result(f"fallback:{service}", {"target": "env", "ready": True, "problems": {}}))
    for check in LIVE:
        out.append(
            result(check, {"http_status": 200, "latency_ms": 40.0 + i % 13, "endpoint": f"{check}.api"})
        )
    for check in LIVE_FALLBACK:
        out.append(result(f"{check}:fallback", {"probe_status": "OK", "http_status": 200}))
    out.append(result("isolation", {"shared": [], "keys": ["database", "phone_number_id", "cloudinary"]}))
    return out


def fleet_results(names: list[str], at: datetime, latency: float) -> list[Any]:
    return [r for i, name in enumerate(names) for r in tenant_results(name, i, at, latency)]


def seed(base: Path, n: int) -> Path:
    """Write a fleet file for n tenants and a results store holding their latest results."""
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.store import ResultStore
    from opsdash.testing.fleetfile import TenantFiles, write_fleet

    names = [f"tenant-{i:04d}" for i in range(n)]
    path = write_fleet(base, [TenantFiles(name, f"mongodb://127.0.0.1:1/{name}") for name in names])
    store = ResultStore.for_fleet(load_fleet(path))
    store.record(fleet_results(names, NOW - timedelta(seconds=30), 10))
    store.close()
    return path


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM where /proc has it, else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def hold(path: Path) -> float:
    """Run the dashboard headless over the seeded fleet, refresh it with a fresh batch, report peak RSS."""
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.store import ResultStore
    from opsdash.screens.app import OpsdashApp

    fleet = load_fleet(path)
    store = ResultStore.for_fleet(fleet)
    app = OpsdashApp(fleet, store, clock=lambda: NOW, refresh_s=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        names = [t.name for t in fleet.tenants]
        assert app.screen.table.row_count == len(names)
        batch = fleet_results(names, NOW, 20)
        app.post_results(batch, [])
        del batch
        last = (names[-1], "isolation")
        while app.latest[last].timestamp != NOW:
            await pilot.pause(0.01)
        app.screen._tick()
        await app.workers.wait_for_complete()
        await pilot.pause()
    store.close()
    return peak_rss_mb()


def measure_tui_rss_mb(n: int = 1000) -> float:
    """Peak RSS, in MB, of a child process running the real OpsdashApp headless holding n tenants."""
    with tempfile.TemporaryDirectory() as tmp:
        path = seed(Path(tmp), n)
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the TUI child failed: {done.stderr.strip().splitlines()[-1:]}")
        return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(f"{asyncio.run(hold(args.child)):.1f}")
        return
    mb = measure_tui_rss_mb(args.tenants)
    print(f"{args.tenants} tenants  peak RSS of the dashboard process  {mb:7.1f} MB  (target <= 200)")


if __name__ == "__main__":
    main()
