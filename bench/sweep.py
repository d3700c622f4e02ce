"""Issue 8 in one run: how fast opsdash sweeps a 10/100/1,000-tenant fleet behind a slow network.

Seeds N tenant databases on one SecantusDB, puts a latency proxy (a separate process, ``--delay-ms`` each
way) in front of it, checks that one find really costs a round trip, then times three DB + config passes:

  (a) opsdash: ``Engine.run_once(groups=["db", "config"])``, as ``opsdash check --check db --check config``
      runs it (db and config checks of every tenant plus the fleet-wide isolation check, recorded in the
      results store), wall to wall, with a fresh engine (cold: new clients and connections) and again on
      the same engine (warm: pooled connections, what a repeated ``opsdash check`` would cost if it
      kept its connections; the dashboard and ``opsdash watch`` run the scheduled engine instead);
  (b) naive: for each tenant, serially, a new pymongo MongoClient, connect, find_one on Company, close
      (on a sample of ``--naive-sample`` tenants, scaled linearly when N is larger);
  (c) floor: raw AsyncMongoClient finds on Company over one shared client, at opsdash's concurrency.

(a) and (c) take turns, pass for pass (cold passes, then warm ones), and a/c is the median of each pass's
ratio to the floor pass next to it: the machine's speed drifts, and a pair sees the same machine.

For the largest N it then runs bench/scheduled.py: the scheduled engine the dashboard and ``opsdash
watch`` run (first picture, pace, false timeouts). It also times ``python -m opsdash check --tenant X``
as a whole process (median of ``--check-runs``) on a one-tenant fleet straight on the server with
unconfigured integrations, and calls the dashboard helpers' ``measure_refresh_block_ms`` and
``measure_tui_rss_mb`` when they exist. Prints one table.

    python bench/sweep.py [--delay-ms 25] [--sizes 10,100,1000] [--repeat 5] [--naive-sample 100]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient, MongoClient

from opsdash.config.fleet import Fleet, load_fleet
from opsdash.engine.mongo import MAX_CONNECTING, MAX_POOL_SIZE
from opsdash.engine.scheduler import Engine
from opsdash.engine.store import ResultStore
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import SecantusServer, database_url
from opsdash.testing.seed import healthy_company, prisma_document

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
EXTRA_TABLES: dict[str, dict[str, Any]] = {}
TARGET_SWEEP_S = 2.0
TARGET_VS_NAIVE = 50.0
TARGET_VS_FLOOR = 1.5
TARGET_CHECK_S = 0.6
TARGET_BLOCK_MS = 50.0
TARGET_RSS_MB = 200.0


def tenant_name(i: int) -> str:
    return f"t{i:04d}"


def company_fields(i: int) -> dict[str, Any]:
    """A healthy Company with its own WhatsApp number, Cloudinary folder and SMTP user (isolation OK)."""
    return healthy_company(
        fullName=f"Tenant {i}",
        whatsappPhoneNumberId=f"10990{i:08d}",
        cloudinaryClientFolder=f"tenant-{i}",
        smtpUser=f"mailer{i}@acme.example",
        emailUser=f"mailer{i}@acme.example",
    )


def seed(server_url: str, count: int) -> None:
    """One Prisma-shaped Company per tenant database, inserted directly (no proxy)."""
    with MongoClient(server_url) as client:
        for i in range(count):
            name = tenant_name(i)
            client[f"bench_{name}"]["Company"].insert_one(prisma_document(company_fields(i)))


def write_bench_fleet(directory: Path, proxy_url: str, count: int) -> Path:
    tenants = [
        TenantFiles(tenant_name(i), database_url(proxy_url, f"bench_{tenant_name(i)}")) for i in range(count)
    ]
    return write_fleet(directory, tenants, tables={"state": {"dir": "state"}, **EXTRA_TABLES})


class ProxyProcess:
    """``LatencyProxy`` in its own process, so the proxy's work does not share the GIL with the sweeps."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--proxy-child", str(target_port), str(delay_s)],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def proxy_child(target_port: int, delay_s: float) -> None:
    from opsdash.fakes.tcp import LatencyProxy

    with LatencyProxy("127.0.0.1", target_port, delay_s) as proxy:
        print(proxy.port, flush=True)
        sys.stdin.read()


def measure_find_ms(url: str, database: str) -> float:
    """One find on an established connection (the handshake is done by a ping first)."""
    with MongoClient(url, serverSelectionTimeoutMS=10_000) as client:
        client.admin.command("ping")
        sent = time.perf_counter()
        client[database]["Company"].find_one({})
        return (time.perf_counter() - sent) * 1000


async def sweep_opsdash(engine: Engine) -> tuple[float, int]:
    sent = time.perf_counter()
    results = await engine.run_once(groups=["db", "config"])
    return time.perf_counter() - sent, len(results)


def check_results(fleet: Fleet, results_count: int) -> None:
    from opsdash.checks.runner import group_check_ids

    per_tenant = len(group_check_ids(fleet, "db")) + len(group_check_ids(fleet, "config")) + 1
    expected = per_tenant * len(fleet.tenants)
    if results_count != expected:
        raise SystemExit(f"opsdash sweep returned {results_count} results, expected {expected}")


@dataclass
class Passes:
    """Wall times of (a) and (c), taken in alternation: cold passes of each, then warm passes of each;
    and the client CPU (``time.process_time``) of each pass of (a)."""

    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    floor_cold: list[float] = field(default_factory=list)
    floor_warm: list[float] = field(default_factory=list)
    cold_cpu: list[float] = field(default_factory=list)
    warm_cpu: list[float] = field(default_factory=list)

    @staticmethod
    def paired_ratio(mine: Sequence[float], floor: Sequence[float]) -> float:
        """The median of each pass's ratio to the floor pass timed next to it: the machine's speed drifts
        over a run, and both passes of a pair see the same machine."""
        return statistics.median(a / c for a, c in zip(mine, floor, strict=True))


async def paired_sweeps(
    fleet: Fleet, url: str, limit: int, pool: int, repeat: int, cold_repeat: int | None = None
) -> Passes:
    """``cold_repeat`` (default ``repeat``) cold passes of (a) (a fresh engine each, with the results
    store opened afresh, as ``opsdash check`` opens it) and of (c) (a fresh client each), alternating, then
    ``repeat`` warm passes of each (the last engine and client again), alternating."""
    passes = Passes()
    databases = [t.mongo.database for t in fleet.tenants]
    store: ResultStore | None = None
    engine: Engine | None = None
    client: AsyncMongoClient[dict[str, Any]] | None = None
    try:
        for _ in range(repeat if cold_repeat is None else cold_repeat):
            if engine is not None:
                await engine.stop()
            if client is not None:
                await client.close()
            if store is not None:
                store.close()
            store = ResultStore.for_fleet(fleet)
            engine = Engine(fleet, store=store, jitter=False)
            client = AsyncMongoClient(url, maxPoolSize=pool, maxConnecting=MAX_CONNECTING)
            cpu = time.process_time()
            seconds, count = await sweep_opsdash(engine)
            passes.cold_cpu.append(time.process_time() - cpu)
            check_results(fleet, count)
            passes.cold.append(seconds)
            passes.floor_cold.append(await floor_pass(client, databases, limit))
        assert engine is not None and client is not None
        for _ in range(repeat):
            cpu = time.process_time()
            seconds, count = await sweep_opsdash(engine)
            passes.warm_cpu.append(time.process_time() - cpu)
            check_results(fleet, count)
            passes.warm.append(seconds)
            passes.floor_warm.append(await floor_pass(client, databases, limit))
    finally:
        if engine is not None:
            await engine.stop()
        if client is not None:
            await client.close()
        if store is not None:
            store.close()
    return passes


def sweep_naive(urls: Sequence[tuple[str, str]]) -> float:
    """(b), timed; then waits for the closed clients' threads to end (``join_driver_threads``)."""
    sent = time.perf_counter()
    for url, database in urls:
        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=10_000)
        try:
            client[database]["Company"].find_one({})
        finally:
            client.close()
    elapsed = time.perf_counter() - sent
    join_driver_threads()
    return elapsed


def join_driver_threads(timeout_s: float = 10.0) -> None:
    """Wait for the monitor threads of closed synchronous clients to end. ``close()`` only tells them to
    stop, and each wakes to exit within about two seconds: a naive sweep of 100 tenants straight on the
    server leaves some 300, one through the proxy about 6. The next sweeps are not timed beside them."""
    until = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name.startswith("pymongo_") and thread is not threading.current_thread():
            thread.join(max(0.0, until - time.monotonic()))


async def floor_pass(client: AsyncMongoClient[dict[str, Any]], databases: Sequence[str], limit: int) -> float:
    slots = asyncio.Semaphore(limit)

    async def one(database: str) -> None:
        async with slots:
            await client[database]["Company"].find({}).limit(10).to_list()

    sent = time.perf_counter()
    await asyncio.gather(*(one(d) for d in databases))
    return time.perf_counter() - sent


def time_check_cli(server_url: str, workdir: Path, runs: int) -> list[float]:
    """``python -m opsdash check --tenant solo`` on a one-tenant fleet straight on the server."""
    with MongoClient(server_url) as client:
        client["bench_solo"]["Company"].insert_one(
            {"_id": ObjectId(), "fullName": "Solo", "email": "ops@solo.example"}
        )
    solo = TenantFiles("solo", database_url(server_url, "bench_solo"))
    config = write_fleet(workdir, [solo], tables={"state": {"dir": "state"}})
    return time_check_process(config, ["--tenant", "solo"], runs)


def time_check_process(config: Path, check_args: Sequence[str], runs: int) -> list[float]:
    """Wall seconds of ``python -m opsdash --config CONFIG check CHECK_ARGS`` as a whole process, after
    one untimed run (which writes the bytecode caches)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    command = [sys.executable, "-m", "opsdash", "--config", str(config), "check", *check_args]
    subprocess.run(command, capture_output=True, env=env, cwd=config.parent, check=False)
    times = []
    for _ in range(runs):
        sent = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, cwd=config.parent, check=False)
        times.append(time.perf_counter() - sent)
        if done.returncode not in (0, 1, 2):
            raise SystemExit(f"opsdash check failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return times


def check_process_rows(fleet: Fleet, runs: int) -> list[Row]:
    """``opsdash check`` as cron runs it on the largest fleet, through the proxy: the whole fleet's db and
    config checks (what a cold sweep is inside it, plus start-up, loading the fleet and the store, and
    the report), and one tenant's checks."""
    n, one_tenant = len(fleet.tenants), fleet.tenants[0].name
    whole = time_check_process(fleet.path, ["--check", "db", "--check", "config", "--format", "json"],
                               max(1, runs // 2))
    one = time_check_process(fleet.path, ["--tenant", one_tenant], runs)
    print(f"N={n} opsdash check runs: db+config {seconds_list(whole)} s, --tenant {one_tenant}"
          f" {seconds_list(one)} s")
    return [
        Row(f"N={n} opsdash check --check db --check config, a process (median of {len(whole)})",
            f"{statistics.median(whole):.3f} s", "-", None),
        Row(f"N={n} opsdash check --tenant {one_tenant}, a process (median of {len(one)})",
            f"{statistics.median(one):.3f} s", "-", None),
    ]


def scheduled_rows(fleet: Fleet) -> list[Row]:
    """bench/scheduled.py on the largest fleet: the engine as the dashboard and ``opsdash watch`` run it."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    scheduled = importlib.import_module("scheduled")
    figures = asyncio.run(scheduled.measure_scheduled(fleet))
    print(scheduled.report(figures))
    n = figures.tenants
    return [
        Row(f"N={n} scheduled engine (dashboard, watch): first picture", f"{figures.first_picture_s:.1f} s",
            "-", None),
        Row(f"N={n} scheduled engine: tenants with a db result in one db_interval"
            f" ({figures.db_interval_s:g} s)",
            f"{figures.db_tenants_in_interval} of {n}", "-", None),
        Row(f"N={n} scheduled engine: longest gap between two db results of a tenant",
            f"{figures.longest_db_gap_s:.1f} s", "-", None),
        Row(f"N={n} scheduled engine: db/config timeouts (healthy fleet)", str(figures.timeouts), "-", None),
    ]


def tui_measure(module_file: str, function: str) -> Callable[[int], float] | None:
    path = BENCH_DIR / module_file
    if not path.is_file():
        return None
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    module = importlib.import_module(path.stem)
    return getattr(module, function, None)


@dataclass
class Row:
    measure: str
    value: str
    target: str
    met: bool | None


def verdict(met: bool | None, value: str) -> str:
    if met is None:
        return "pending" if value == "pending" else "-"
    return "yes" if met else "MISSED"


def print_table(rows: Sequence[Row]) -> None:
    width = max(len(r.measure) for r in rows)
    vwidth = max(len(r.value) for r in rows)
    twidth = max(len(r.target) for r in rows)
    print(f"| {'measure':<{width}} | {'result':<{vwidth}} | {'target':<{twidth}} | met |")
    print(f"|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|{'-' * (twidth + 2)}|-----|")
    for r in rows:
        met = verdict(r.met, r.value)
        print(f"| {r.measure:<{width}} | {r.value:<{vwidth}} | {r.target:<{twidth}} | {met} |")


def seconds_list(values: Sequence[float]) -> str:
    return "/".join(f"{v:.3f}" for v in values)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_ticks() -> tuple[int, int]:
    """The machine's stolen and total CPU ticks so far (``/proc/stat``): a KVM guest's host may give its
    cores to other guests, which slows everything here without showing in the load average."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)


def steal_since(before: tuple[int, int]) -> str:
    steal, total = cpu_ticks()
    return f"{100 * (steal - before[0]) / max(total - before[1], 1):.1f}%"


def machine_speed_ms() -> float:
    """A fixed piece of pure-Python work, timed (median of 5): how fast this machine is right now, to
    compare runs on other days."""
    times = []
    for _ in range(5):
        sent = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        times.append(time.perf_counter() - sent)
    return 1000 * statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delay-ms", type=float, default=25.0, help="latency added each way (default 25)")
    parser.add_argument("--sizes", default="10,100,1000", help="fleet sizes (default 10,100,1000)")
    parser.add_argument("--repeat", type=int, default=5, help="passes per measure; medians are shown")
    parser.add_argument("--naive-sample", type=int, default=100, help="tenants (b) visits")
    parser.add_argument("--check-runs", type=int, default=5, help="runs of the opsdash check process")
    parser.add_argument("--skip-tui", action="store_true", help="do not run the dashboard measures")
    parser.add_argument("--skip-scheduled", action="store_true", help="do not run bench/scheduled.py")
    parser.add_argument("--proxy-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.proxy_child:
        proxy_child(int(args.proxy_child[0]), float(args.proxy_child[1]))
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    delay_s = args.delay_ms / 1000
    print(f"load average before: {load_average()} (nproc {os.cpu_count()});"
          f" machine speed {machine_speed_ms():.0f} ms (a fixed pure-Python loop)")
    run_ticks = cpu_ticks()

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="opsdash-bench-") as tmp, SecantusServer() as server:
        base = Path(tmp)
        seeded = time.perf_counter()
        seed(server.url, max(sizes))
        print(f"seeded {max(sizes)} tenant databases in {time.perf_counter() - seeded:.1f} s")
        proxy = ProxyProcess(server.port, delay_s)
        try:
            proxy_url = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
            find_ms = measure_find_ms(proxy_url, f"bench_{tenant_name(0)}")
            round_trip_ms = 2 * args.delay_ms
            print(f"one find through the proxy: {find_ms:.1f} ms (one round trip = {round_trip_ms:g} ms)")
            assert find_ms >= round_trip_ms, "the latency proxy does not delay finds"
            for n in sizes:
                directory = base / f"fleet{n}"
                fleet = load_fleet(write_bench_fleet(directory, proxy_url, n))
                sweep_ticks = cpu_ticks()
                passes = asyncio.run(
                    paired_sweeps(fleet, proxy_url, fleet.poll.max_concurrency, MAX_POOL_SIZE, args.repeat)
                )
                sweep_steal = steal_since(sweep_ticks)
                sample = min(n, args.naive_sample)
                naive_sample = sweep_naive([(t.mongo.url, t.mongo.database) for t in fleet.tenants[:sample]])
                naive = naive_sample * n / sample
                a, aw = statistics.median(passes.cold), statistics.median(passes.warm)
                c, cw = statistics.median(passes.floor_cold), statistics.median(passes.floor_warm)
                ratio = Passes.paired_ratio(passes.cold, passes.floor_cold)
                ratio_w = Passes.paired_ratio(passes.warm, passes.floor_warm)
                scaled = f", scaled from {sample} tenants" if sample < n else ""
                print(
                    f"N={n}: (a) opsdash cold {a:.3f} s, warm {aw:.3f} s | (b) naive {naive:.2f} s{scaled}"
                    f" | (c) floor cold {c:.3f} s, warm {cw:.3f} s | a/b {a / naive:.4f} ({naive / a:.0f}x)"
                    f" | a/c paired cold {ratio:.2f}, warm {ratio_w:.2f}"
                    f" (of medians {a / c:.2f}, {aw / cw:.2f}) | load {load_average()},"
                    f" CPU stolen {sweep_steal}"
                )
                print(
                    f"N={n} passes: (a) cold {seconds_list(passes.cold)}, warm {seconds_list(passes.warm)}"
                    f" | (c) cold {seconds_list(passes.floor_cold)}, warm {seconds_list(passes.floor_warm)}"
                    f" | (a) client CPU cold {seconds_list(passes.cold_cpu)},"
                    f" warm {seconds_list(passes.warm_cpu)}"
                )
                at_scale = n == 1000
                for label, mine, floor, paired in (("warm", aw, cw, ratio_w), ("cold", a, c, ratio)):
                    rows.append(Row(f"N={n} (a) opsdash sweep, {label}", f"{mine:.3f} s",
                                    "<= 2 s" if at_scale else "-",
                                    mine <= TARGET_SWEEP_S if at_scale else None))
                    rows.append(Row(f"N={n} a/b, {label}", f"{mine / naive:.4f} ({naive / mine:.0f}x faster)",
                                    ">= 50x faster" if at_scale else "-",
                                    naive / mine >= TARGET_VS_NAIVE if at_scale else None))
                    rows.append(Row(f"N={n} a/c, {label} (pass by pass; floor {floor:.3f} s)",
                                    f"{paired:.2f}", "<= 1.5" if at_scale else "-",
                                    paired <= TARGET_VS_FLOOR if at_scale else None))
                rows.append(Row(f"N={n} (b) naive serial sweep", f"{naive:.2f} s{scaled}", "-", None))
                if n == max(sizes):
                    rows.extend(check_process_rows(fleet, args.check_runs))
                if n == max(sizes) and not args.skip_scheduled:
                    rows.extend(scheduled_rows(fleet))
        finally:
            proxy.stop()
        check_times = time_check_cli(server.url, base / "solo", args.check_runs)
        check_s = statistics.median(check_times)
        rows.append(Row(f"opsdash check, one tenant (median of {len(check_times)})", f"{check_s:.3f} s",
                        "<= 0.6 s", check_s <= TARGET_CHECK_S))
    print(f"opsdash check runs: {', '.join(f'{t:.3f}' for t in check_times)} s")

    refresh = None if args.skip_tui else tui_measure("dashboard_refresh.py", "measure_refresh_block_ms")
    rss = None if args.skip_tui else tui_measure("tui_rss.py", "measure_tui_rss_mb")
    if refresh is None:
        rows.append(Row("longest event-loop block, 1,000-row refresh", "pending", "<= 50 ms", None))
    else:
        block = refresh(1000)
        rows.append(Row("longest event-loop block, 1,000-row refresh", f"{block:.1f} ms", "<= 50 ms",
                        block <= TARGET_BLOCK_MS))
    if rss is None:
        rows.append(Row("peak RSS, TUI with 1,000 tenants", "pending", "<= 200 MB", None))
    else:
        mb = rss(1000)
        rows.append(Row("peak RSS, TUI with 1,000 tenants", f"{mb:.0f} MB", "<= 200 MB", mb <= TARGET_RSS_MB))
    print(f"load average after: {load_average()}; CPU stolen over the run {steal_since(run_ticks)};"
          f" machine speed {machine_speed_ms():.0f} ms")
    print()
    print(f"{args.delay_ms:g} ms each way; naive (b) serial; (a) and (c) at opsdash's poll.max_concurrency")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
