"""Peak and current RSS of a dashboard process holding N tenants.

Two modes, each measured in a child process that runs the real OpsdashApp headless (Textual's
``run_test``, 80x24) and reports VmHWM (peak) and VmRSS (current) from /proc/self/status:

- **engine** (the default, what a user's ``opsdash`` process holds): the parent starts a SecantusDB, seeds
  N tenant databases with one Company each (bench/sweep.py's ``seed``) and writes the fleet file
  (``write_bench_fleet``, straight on the server, db and config intervals of ``--interval`` seconds,
  default ``[endpoints]``, empty env files). The child runs the app as ``opsdash dashboard`` wires it:
  the real ``FleetBackend`` and an ``EngineThread`` over the results store. It waits until every db and
  config check of every tenant has reached the app from at least two engine runs, refreshes the overview
  and measures while the engine keeps running.
- **store** (the earlier, smaller figure): no database, no engine. The parent seeds only a results store
  (19 latest results per tenant, with the masked field tables the config checks really carry); the child
  loads them, shows the overview, absorbs one more batch in which every tenant changed and refreshes.

The target (issue 8) is <= 200 MB at 1,000 tenants. ``--profile`` runs the engine child under tracemalloc
and prints where the memory is held (the RSS figures of a profiled run are inflated by tracemalloc).

    python bench/tui_rss.py [--tenants 1000] [--mode engine|store|both] [--interval 10] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
MODES = ("engine", "store")
DEFAULT_INTERVAL_S = 10.0
"""db and config interval of the engine mode's fleet: the group deadline stays the default 5 s."""
DEFAULT_RUNS = 2
"""Engine runs every db and config check must have reached the app from before the engine mode measures."""
ENGINE_DEADLINE_S = 900.0
PROFILE_DEADLINE_S = 2400.0
POLL_S = 0.25
PROGRESS_S = 10.0
TARGET_MB = 200.0
PROFILE_TOP = 15
PROFILE_FRAMES = 1
"""Frames per traceback: every frame slows the traced engine further (1,000 tenants: 1 frame ~5x, 8 frames
~50x slower than untraced); pass ``--profile-frames`` for deeper tracebacks on smaller fleets."""
PROFILE_INTERVAL_S = 180.0
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


@dataclass
class RssFigures:
    """What one child measured; in engine mode also the engine runs every check was seen from, the
    seconds that took and the latest statuses of the db and config checks."""

    mode: str
    tenants: int
    peak_mb: float
    current_mb: float
    baseline_mb: float = 0.0
    """RSS after the child's first imports (Textual, the app, the engine), before any fleet or app exists."""
    runs: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] | None = None
    notes: list[str] | None = None


# -- store mode: a seeded results store, no engine ---------------------------------------------------


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


def seed_store(base: Path, n: int) -> Path:
    """Write a fleet file for n tenants and a results store (under ``base``) holding their latest results."""
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.store import ResultStore
    from opsdash.testing.fleetfile import TenantFiles, write_fleet

    names = [f"tenant-{i:04d}" for i in range(n)]
    tenants = [TenantFiles(name, f"mongodb://127.0.0.1:1/{name}") for name in names]
    path = write_fleet(base, tenants, tables={"state": {"dir": "state"}})
    store = ResultStore.for_fleet(load_fleet(path))
    store.record(fleet_results(names, NOW - timedelta(seconds=30), 10))
    store.close()
    return path


def rss_mb() -> tuple[float, float]:
    """This process's peak (VmHWM) and current (VmRSS) RSS in MB; ru_maxrss for both without /proc."""
    figures: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                figures[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    if len(figures) < 2:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
    return figures["VmHWM"], figures["VmRSS"]


async def hold_store(path: Path, profile: bool) -> RssFigures:
    """Run the dashboard headless over the seeded store, refresh it with a fresh batch, measure."""
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.store import ResultStore
    from opsdash.screens.app import OpsdashApp

    baseline = rss_mb()[1]
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
        peak, current = rss_mb()
        if profile:
            print_profile()
    store.close()
    return RssFigures("store", len(fleet.tenants), peak, current, baseline)


# -- engine mode: a real fleet on SecantusDB, the real engine and backend -----------------------------


def bench_poll(interval_s: float, profile: bool) -> dict[str, float]:
    """The engine mode's ``[poll]``: short db and config intervals; under tracemalloc (several times
    slower) long ones with deadlines to match, so that runs end with their real results, not timeouts."""
    if not profile:
        return {"db_interval": interval_s, "config_interval": interval_s}
    slow = max(interval_s, PROFILE_INTERVAL_S)
    deadline = 0.75 * slow
    return {
        "db_interval": slow,
        "config_interval": slow,
        "db_timeout": deadline,
        "integration_timeout": deadline,
    }


def seed_fleet(base: Path, server_url: str, n: int, poll: dict[str, float]) -> Path:
    """n tenant databases with one Company each and their fleet file (state under ``base``)."""
    bench = str(Path(__file__).resolve().parent)
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import sweep

    sweep.seed(server_url, n)
    saved = dict(sweep.EXTRA_TABLES)
    sweep.EXTRA_TABLES["poll"] = poll
    try:
        return sweep.write_bench_fleet(base, server_url, n)
    finally:
        sweep.EXTRA_TABLES.clear()
        sweep.EXTRA_TABLES.update(saved)


Key = tuple[str, str]


def count_runs(latest: dict[Key, Any], seen: dict[Key, tuple[datetime, int]], keys: list[Key]) -> int:
    """Count, per (tenant, check), the distinct results the app has held (one per engine run: runs are
    seconds apart and this is called every ``POLL_S``); returns the fewest runs any key has had."""
    fewest: int | None = None
    for key in keys:
        result = latest.get(key)
        if result is None:
            return 0
        last, runs = seen.get(key, (None, 0))
        if result.timestamp != last:
            runs += 1
            seen[key] = (result.timestamp, runs)
        fewest = runs if fewest is None else min(fewest, runs)
    return fewest or 0


def status_counts(results: Any) -> dict[str, int]:
    """How many latest results per kind of check (``config:*`` counts as ``config``), status and error."""
    counts: dict[str, int] = {}
    for result in results:
        label = f"{result.check.partition(':')[0]} {result.status.name}"
        if result.error_class:
            label += f" ({result.error_class})"
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


async def hold_engine(path: Path, runs: int, deadline_s: float, profile: bool) -> RssFigures:
    """Run the dashboard as ``opsdash dashboard`` does (real backend, engine thread) until every tenant's
    db and config checks have reached it from ``runs`` engine runs, refresh the overview, measure with the
    engine running."""
    from opsdash.checks.runner import group_check_ids
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.engine_thread import EngineThread
    from opsdash.engine.store import ResultStore
    from opsdash.screens.app import OpsdashApp
    from opsdash.screens.backend import FleetBackend

    baseline = rss_mb()[1]
    fleet = load_fleet(path)
    store = ResultStore.for_fleet(fleet)
    backend = FleetBackend(fleet, store=store)
    app = OpsdashApp(
        fleet,
        store,
        backend=backend,
        engine_factory=lambda on_results: EngineThread(fleet, store, on_results),
    )
    checks = (*group_check_ids(fleet, "db"), *group_check_ids(fleet, "config"))
    keys = [(t.name, check) for t in fleet.tenants for check in checks]
    seen: dict[Key, tuple[datetime, int]] = {}
    notes: list[str] = []
    started = time.monotonic()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            reported = started
            while (fewest := count_runs(app.latest, seen, keys)) < runs:
                if not app.is_running:
                    raise RuntimeError("the dashboard exited before it was measured")
                now = time.monotonic()
                if now - started > deadline_s:
                    raise TimeoutError(f"not every check was seen {runs} times within {deadline_s:g} s")
                if now - reported >= PROGRESS_S:
                    reported = now
                    print(
                        f"{now - started:6.1f} s: {len(seen)} of {len(keys)} checks seen, fewest runs"
                        f" {fewest}, RSS {rss_mb()[1]:.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
                await pilot.pause(POLL_S)
            seconds = time.monotonic() - started
            del seen
            screen = app.screen
            screen.request_rows()
            refresh = screen._requested
            while screen._shown_request < refresh:
                if time.monotonic() - started > deadline_s:
                    raise TimeoutError("the overview did not show the last refresh")
                await pilot.pause(POLL_S)
            await pilot.pause()
            if app.screen.table.row_count != len(fleet.tenants):
                raise RuntimeError(f"the overview shows {app.screen.table.row_count} rows")
            peak, current = rss_mb()
            statuses = status_counts(app.latest.values())
            if profile:
                print_profile()
    finally:
        if app.engine is not None:
            try:
                app.engine.stop()
            except TimeoutError as exc:
                notes.append(str(exc))
                print(f"after the measure: {exc}", file=sys.stderr, flush=True)
        store.close()
    return RssFigures("engine", len(fleet.tenants), peak, current, baseline, runs, seconds, statuses, notes)


def print_profile() -> None:
    """Top allocations held right now (tracemalloc), by file, by line, and the biggest ones' tracebacks."""
    import tracemalloc

    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    total = sum(stat.size for stat in snapshot.statistics("filename"))
    print(f"tracemalloc: {total / 2**20:.1f} MB held by Python allocations", file=sys.stderr)
    for key in ("filename", "lineno"):
        print(f"\ntop {PROFILE_TOP} by {key}:", file=sys.stderr)
        for stat in snapshot.statistics(key)[:PROFILE_TOP]:
            frame = stat.traceback[0]
            where = frame.filename if key == "filename" else f"{frame.filename}:{frame.lineno}"
            print(f"{stat.size / 2**20:8.2f} MB {stat.count:9d} blocks  {where}", file=sys.stderr)
    print(f"\ntop {PROFILE_TOP} by traceback:", file=sys.stderr)
    for rank, stat in enumerate(snapshot.statistics("traceback")[:PROFILE_TOP], 1):
        print(f"\n#{rank}: {stat.size / 2**20:.2f} MB in {stat.count} blocks", file=sys.stderr)
        for line in stat.traceback.format(most_recent_first=True)[: 2 * 12]:
            print(f"    {line}", file=sys.stderr)


def child(mode: str, path: Path, runs: int, deadline_s: float, profile_frames: int) -> None:
    profile = profile_frames > 0
    if profile:
        import tracemalloc

        tracemalloc.start(profile_frames)
    if mode == "engine":
        figures = asyncio.run(hold_engine(path, runs, deadline_s, profile))
    else:
        figures = asyncio.run(hold_store(path, profile))
    print(json.dumps(asdict(figures)))


def run_child(
    mode: str, path: Path, runs: int, deadline_s: float, profile_frames: int, verbose: bool
) -> RssFigures:
    command = [sys.executable, __file__, "--child", mode, str(path), "--runs", str(runs)]
    command += ["--deadline", str(deadline_s), "--profile-frames", str(profile_frames)]
    profile = profile_frames > 0
    done = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=None if profile or verbose else subprocess.PIPE,
        text=True,
        check=False,
        timeout=deadline_s + 300,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or "").strip().splitlines()[-30:])
        raise RuntimeError(f"the {mode} child failed ({done.returncode}):\n{tail}")
    return RssFigures(**json.loads(done.stdout.strip().splitlines()[-1]))


def measure(
    n: int = 1000,
    *,
    engine: bool = True,
    interval_s: float = DEFAULT_INTERVAL_S,
    runs: int = DEFAULT_RUNS,
    deadline_s: float | None = None,
    profile_frames: int = 0,
    verbose: bool = False,
) -> RssFigures:
    """Peak and current RSS of a child dashboard holding n tenants, in engine or store mode; with
    ``profile_frames`` the child runs under tracemalloc and prints where its memory is held."""
    profile = profile_frames > 0
    if deadline_s is None:
        deadline_s = PROFILE_DEADLINE_S if profile else ENGINE_DEADLINE_S
    with tempfile.TemporaryDirectory(prefix="opsdash-tui-rss-") as tmp:
        base = Path(tmp)
        if not engine:
            return run_child("store", seed_store(base, n), runs, deadline_s, profile_frames, verbose)
        from opsdash.testing.mongo_server import SecantusServer

        with SecantusServer() as server:
            path = seed_fleet(base, server.url, n, bench_poll(interval_s, profile))
            return run_child("engine", path, runs, deadline_s, profile_frames, verbose)


def measure_tui_rss_mb(n: int = 1000, engine: bool = True) -> float:
    """Peak RSS, in MB, of a child process running the real OpsdashApp headless holding n tenants: with
    the real engine over a real n-tenant fleet (default), or over a seeded store only (``engine=False``)."""
    return measure(n, engine=engine).peak_mb


def report(figures: RssFigures) -> str:
    line = (
        f"{figures.tenants} tenants  mode {figures.mode:<6}  peak (VmHWM) {figures.peak_mb:6.1f} MB"
        f"  current (VmRSS) {figures.current_mb:6.1f} MB  (target <= {TARGET_MB:g}; after imports"
        f" {figures.baseline_mb:.1f} MB)"
    )
    if figures.mode == "engine":
        line += (
            f"  [every db/config check seen from {figures.runs} engine runs after {figures.seconds:.1f} s;"
            f" latest: {figures.statuses}]"
        )
    for note in figures.notes or ():
        line += f"\n  note: {note}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="db/config interval, s")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="engine runs to wait for (default 2)")
    parser.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="tracemalloc profile of the child")
    parser.add_argument("--profile-frames", type=int, default=None, help=f"default {PROFILE_FRAMES}")
    parser.add_argument("--verbose", action="store_true", help="show the child's progress and logs")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FLEET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        deadline = args.deadline or ENGINE_DEADLINE_S
        child(args.child[0], Path(args.child[1]), args.runs, deadline, args.profile_frames or 0)
        return
    modes = MODES if args.mode == "both" else (args.mode,)
    for mode in modes:
        figures = measure(
            args.tenants,
            engine=mode == "engine",
            interval_s=args.interval,
            runs=args.runs,
            deadline_s=args.deadline,
            profile_frames=(args.profile_frames or PROFILE_FRAMES) if args.profile else 0,
            verbose=args.verbose,
        )
        print(report(figures), flush=True)


if __name__ == "__main__":
    main()
