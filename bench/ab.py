"""A/B of code versions on the bench fleet, taking turns: is one commit's sweep faster than another's?

One run of bench/sweep.py cannot tell a 5 % change from this machine's drift: its speed moves by a
quarter over minutes. This script seeds the fleet behind the latency proxy once. Then, round after
round, it runs each version in a process of its own, the order alternating: one cold pass (a fresh
engine), then ``--passes`` warm passes of the same engine, each paired with a floor pass, by bench/sweep.py's
own ``paired_sweeps``. It prints every round, and for each version the medians over all rounds: the warm
passes' wall time, their client CPU (``time.process_time``, the figure least moved by the server and the
proxy sharing the two cores) and their ratio to the floor pass next to them, and the cold passes' wall
time.

    git worktree add /tmp/before HEAD~1
    .venv/bin/python bench/ab.py /tmp/before . [--rounds 4] [--passes 7] [--tenants 1000]

A version is a directory holding an ``opsdash`` package (a worktree, or this checkout); it goes first on
the child's ``PYTHONPATH``. The server, the proxy and the floor's client are this checkout's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sweep

from opsdash.testing.mongo_server import SecantusServer


async def child_passes(config: Path, url: str, passes: int) -> dict[str, Any]:
    """In the version's own process: one cold pass, then warm passes, each paired with a floor pass
    (``sweep.paired_sweeps``)."""
    import opsdash
    from opsdash.config.fleet import load_fleet
    from opsdash.engine.mongo import MAX_POOL_SIZE

    fleet = load_fleet(config)
    timed = await sweep.paired_sweeps(
        fleet, url, fleet.poll.max_concurrency, MAX_POOL_SIZE, passes, cold_repeat=1
    )
    return {
        "source": str(Path(opsdash.__file__).resolve().parent.parent),
        "cold": timed.cold[0], "cold_cpu": timed.cold_cpu[0],
        "warm": timed.warm, "warm_cpu": timed.warm_cpu, "floor": timed.floor_warm,
    }


def run_version(version: Path, config: Path, url: str, passes: int) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(version), str(sweep.BENCH_DIR)])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(config), url, str(passes)],
        env=environment, capture_output=True, text=True, cwd=config.parent, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench/ab.py: {version} failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(figures["source"]) != version:
        raise SystemExit(f"bench/ab.py: the child ran the opsdash in {figures['source']}, not {version}")
    return figures


def ratios(figures: dict[str, Any]) -> list[float]:
    return [a / c for a, c in zip(figures["warm"], figures["floor"], strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("versions", nargs="*", type=Path, help="directories holding an opsdash package")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, the order alternating (default 4)")
    parser.add_argument("--passes", type=int, default=7, help="warm passes per version per round")
    parser.add_argument("--tenants", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="latency added each way (default 25)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        config, url, passes = args.child
        print(json.dumps(asyncio.run(child_passes(Path(config), url, int(passes)))))
        return 0
    if len(args.versions) < 2:
        parser.error("give at least two versions to compare")
    versions = [v.resolve() for v in args.versions]
    missing = [str(v) for v in versions if not (v / "opsdash" / "__init__.py").is_file()]
    if missing:
        parser.error(f"no opsdash package in {', '.join(missing)}")
    kept: list[list[dict[str, Any]]] = [[] for _ in versions]
    with tempfile.TemporaryDirectory(prefix="opsdash-ab-") as tmp, SecantusServer() as server:
        sweep.seed(server.url, args.tenants)
        proxy = sweep.ProxyProcess(server.port, args.delay_ms / 1000)
        try:
            url = f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true"
            for round_index in range(args.rounds):
                order = list(enumerate(versions))
                if round_index % 2:
                    order.reverse()
                for number, version in order:
                    directory = Path(tmp) / f"round{round_index}-{number}"
                    directory.mkdir()
                    config = sweep.write_bench_fleet(directory, url, args.tenants)
                    figures = run_version(version, config, url, args.passes)
                    kept[number].append(figures)
                    print(
                        f"round {round_index} {number + 1}: {version}: cold {figures['cold']:.3f} s"
                        f" (CPU {figures['cold_cpu']:.3f} s), warm median"
                        f" {statistics.median(figures['warm']):.3f} s"
                        f" (CPU {statistics.median(figures['warm_cpu']):.3f} s),"
                        f" floor {statistics.median(figures['floor']):.3f} s,"
                        f" a/c {statistics.median(ratios(figures)):.3f}",
                        flush=True,
                    )
        finally:
            proxy.stop()
    print(f"\n{args.tenants} tenants, {args.delay_ms:g} ms each way, {args.rounds} rounds of {args.passes}"
          " warm passes; medians over every round")
    for number, (version, runs) in enumerate(zip(versions, kept, strict=True)):
        warm = [x for figures in runs for x in figures["warm"]]
        warm_cpu = [x for figures in runs for x in figures["warm_cpu"]]
        paired = [x for figures in runs for x in ratios(figures)]
        cold = [figures["cold"] for figures in runs]
        print(
            f"{number + 1}: {version}: warm median {statistics.median(warm):.3f} s, client CPU"
            f" {statistics.median(warm_cpu):.3f} s, a/c {statistics.median(paired):.3f};"
            f" cold {statistics.median(cold):.3f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
