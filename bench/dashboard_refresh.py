"""How long the dashboard blocks its event loop when every row of a 1,000-tenant table changes.

Runs the real OpsdashApp headless (Textual's ``run_test``) over 1,000 tenants with a full set of results,
then posts a batch in which every tenant's DB latency changed and times ``refresh_rows`` (the only work the
UI thread does for a batch: rows, sort, diff, ``update_cell`` for the changed cells) and a batch that
reorders the table. Prints milliseconds; the target (issue 8) is <= 50 ms.

    python bench/dashboard_refresh.py [--tenants 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsdash.checks.base import CheckResult, Status
from opsdash.config.fleet import load_fleet
from opsdash.engine.store import ResultStore
from opsdash.screens.app import OpsdashApp
from opsdash.screens.view_model import render_overview
from opsdash.testing.fleetfile import TenantFiles, write_fleet

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
CHECKS = (
    "config:whatsapp",
    "config:whatsapp_otp",
    "config:cloudinary",
    "config:auth",
    "config:email",
    "config:business",
    "fallback:whatsapp",
    "fallback:whatsapp_otp",
    "fallback:cloudinary",
    "fallback:auth",
    "whatsapp",
    "cloudinary",
    "smtp",
    "auth",
    "isolation",
)


def results_for(names: list[str], latency: float, bad_every: int = 0) -> list[CheckResult]:
    out = []
    for i, name in enumerate(names):
        status = Status.CRIT if bad_every and i % bad_every == 0 else Status.OK
        out.append(
            CheckResult(
                tenant=name,
                check="db",
                status=status,
                summary="ok",
                details={"latency_ms": latency + i % 7},
                timestamp=NOW,
            )
        )
        for check in CHECKS:
            details: dict = {}
            if check.startswith("config:"):
                details = {"source": "db", "completeness": 1.0, "flag": None}
            elif check.startswith("fallback:"):
                details = {"target": "env", "ready": True}
            out.append(
                CheckResult(
                    tenant=name,
                    check=check,
                    status=Status.OK,
                    summary="ok",
                    details=details,
                    timestamp=NOW - timedelta(seconds=5),
                )
            )
    return out


async def measure(tenants: int, rounds: int, size: tuple[int, int]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        names = [f"tenant-{i:04d}" for i in range(tenants)]
        path = write_fleet(Path(tmp), [TenantFiles(n, f"mongodb://127.0.0.1:1/{n}") for n in names])
        fleet = load_fleet(path)
        store = ResultStore(Path(tmp) / "s.sqlite3")
        store.record(results_for(names, 10))
        app = OpsdashApp(fleet, store, clock=lambda: NOW, refresh_s=3600)
        timings: dict[str, list[float]] = {}
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = app.screen
            for r in range(rounds):
                for label, batch in (
                    ("every row changed", results_for(names, 20 + r * 10)),
                    ("every row changed + reorder", results_for(names, 30 + r * 10, bad_every=3 + r % 2)),
                ):
                    app.absorb(batch)
                    started = time.perf_counter()
                    rendering = render_overview(
                        fleet.tenants, list(app.latest.values()), "", screen._columns_now(), NOW
                    )
                    timings.setdefault(f"{label}: worker (off loop)", []).append(
                        time.perf_counter() - started
                    )
                    started = time.perf_counter()
                    screen.apply_rendering(rendering)
                    timings.setdefault(f"{label}: apply (event loop)", []).append(
                        time.perf_counter() - started
                    )
                    started = time.perf_counter()
                    await pilot.pause()
                    timings.setdefault(f"{label}: repaint (event loop)", []).append(
                        time.perf_counter() - started
                    )
        store.close()
        return {k: max(v) * 1000 for k, v in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for size in ((80, 24), (160, 48)):
        worst = asyncio.run(measure(args.tenants, args.rounds, size))
        for label, ms in worst.items():
            print(f"{args.tenants} tenants {size[0]}x{size[1]}  {label:<50} worst {ms:7.1f} ms")


if __name__ == "__main__":
    main()
