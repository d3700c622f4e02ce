"""The engine as the dashboard and ``opsdash watch`` run it, on a large fleet.

``bench/sweep.py`` times ``Engine.run_once``, the pass ``opsdash check`` makes. The dashboard and
``opsdash watch`` start the scheduled engine instead: one job per tenant and check group. The db and
config checks start with one sweep over the fleet, handing on each tenant's results as they come in,
and then run on their intervals. The integration probes start staggered over a start window. This
measures, over a fleet file (``bench/sweep.py`` writes it, behind its latency proxy):

- **first picture**: seconds from ``Engine.start()`` until every tenant's db, config and isolation
  results have been published (what the dashboard shows as soon as it can);
- **pace**: the tenants with a db result published in the following ``db_interval`` (plus
  ``PACE_SLACK_S`` for the run and its batch), against the fleet's size, and the longest gap between two
  db results of one tenant from start to the end of that window. Each db job runs once per interval,
  spread over it, so a full count and a gap of about one interval mean the schedule holds (a count of
  results rather than tenants would count a tenant twice or not at all, by where its runs fall against
  the window's edges);
- **false alarms**: db and config results that ended in a timeout although the fleet is healthy.

Integration probes run too, as they do for a user: the bench fleet's SMTP hosts do not resolve, and this
machine's resolver answers concurrent lookups of unknown names only after its 5 s retry, so they are the
slow endpoints that must not hold back the database checks.

    python bench/scheduled.py FLEET_TOML
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from opsdash.checks.base import CheckResult
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.engine.loop import widen_default_executor
from opsdash.engine.scheduler import Engine, io_threads
from opsdash.engine.store import ResultStore, Transition

FIRST_PICTURE_DEADLINE_S = 300.0
PACE_SLACK_S = 1.0


@dataclass
class ScheduledFigures:
    tenants: int
    first_picture_s: float
    db_interval_s: float
    db_tenants_in_interval: int
    longest_db_gap_s: float
    timeouts: int
    """db and config results with error_class "timeout", from start to the end of the measure."""
    integration_results: int


async def measure_scheduled(fleet: Fleet) -> ScheduledFigures:
    """Start the engine as the dashboard does and measure its first picture, pace and timeouts."""
    widen_default_executor(io_threads(fleet))
    names = {t.name for t in fleet.tenants}
    missing = {(name, kind) for name in names for kind in ("db", "config", "isolation")}
    covered = asyncio.Event()
    db_seen: dict[str, list[float]] = {name: [] for name in names}
    timeouts = 0
    integrations = 0
    started = time.perf_counter()

    def on_results(results: list[CheckResult], transitions: list[Transition]) -> None:
        nonlocal timeouts, integrations
        now = time.perf_counter()
        for result in results:
            kind = result.check.partition(":")[0]
            if kind in ("db", "config") and result.error_class == "timeout":
                timeouts += 1
            if kind == "db":
                db_seen[result.tenant].append(now)
            elif kind in ("whatsapp", "cloudinary", "smtp", "auth"):
                integrations += 1
            missing.discard((result.tenant, "config" if kind in ("config", "fallback") else kind))
        if not missing:
            covered.set()

    store = ResultStore.for_fleet(fleet)
    engine = Engine(fleet, store=store, on_results=on_results)
    try:
        await engine.start()
        await asyncio.wait_for(covered.wait(), FIRST_PICTURE_DEADLINE_S)
        first_picture = time.perf_counter() - started
        interval = fleet.poll.db_interval
        window_start = time.perf_counter()
        await asyncio.sleep(interval + PACE_SLACK_S)
        in_window = sum(1 for seen in db_seen.values() if any(at >= window_start for at in seen))
        longest_gap = max(
            (b - a for seen in db_seen.values() for a, b in itertools.pairwise(seen)), default=0.0
        )
    finally:
        await engine.stop(grace=2)
        store.close()
    return ScheduledFigures(
        len(names), first_picture, interval, in_window, longest_gap, timeouts, integrations
    )


def report(figures: ScheduledFigures) -> str:
    return (
        f"scheduled engine, N={figures.tenants}: first picture (every db, config and isolation result)"
        f" {figures.first_picture_s:.1f} s; tenants with a db result in the next {figures.db_interval_s:g} s"
        f" (+{PACE_SLACK_S:g} s) {figures.db_tenants_in_interval} of {figures.tenants}, longest gap between"
        f" two of a tenant's {figures.longest_db_gap_s:.1f} s; db/config timeouts {figures.timeouts};"
        f" integration results so far {figures.integration_results}"
    )


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    figures = asyncio.run(measure_scheduled(load_fleet(Path(sys.argv[1]))))
    print(report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
