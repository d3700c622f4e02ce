"""Micro-benchmark of ``ResultStore.record`` for a 1,000-tenant DB + config pass (issue 8).

Builds the 12 results per tenant a real pass records (``db``, six ``config:<service>`` with their masked
field tables, four ``fallback:<service>``, ``isolation``) with the checks' own pure functions
(``resolve_tenant``, ``config.result``, ``fallback.result``, ``db.decide``, ``isolation.results``), then
times ``--passes`` consecutive ``record()`` calls into a fresh store, each pass 30 s after the previous
one. As in a real fleet, the db result's latency (summary and details) changes every pass, the config,
fallback and isolation results only in timestamp, and a few tenants flap between OK and WARN.

Prints the CPU and wall time of each pass, the transitions returned, and the file size (database plus
WAL) with the history rows it holds.

- ``--history N`` first records N earlier passes (the same passes again, shifted back in time), to time
  a store whose checks already have long histories; ``--max-history`` sets the per-check cap, so that a
  small cap shows the cost of trimming.
- ``--other-writer``: a second ``ResultStore`` on the same file records one result before every pass, so
  the store cannot trust what it remembers of the latest results and reads them again.
- ``--per-tenant`` records each tenant's 12 results as a batch of its own (1,000 ``record()`` calls per
  pass), as the dashboard's engine does with each (tenant, group) job.
- ``--store-module FILE`` times another implementation of ``opsdash/engine/store.py``, e.g. an earlier
  one: ``git show <commit>:opsdash/engine/store.py > /tmp/store_before.py``.

    python bench/store_record.py [--tenants 1000] [--passes 10] [--history 0] [--max-history 10000]
                                 [--other-writer] [--per-tenant] [--store-module FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from opsdash.checks import config as config_check
from opsdash.checks import db as db_check
from opsdash.checks import fallback as fallback_check
from opsdash.checks import isolation
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.verdict import to_result
from opsdash.config.catalog import DEFAULT_CATALOG, ResolutionMode
from opsdash.config.resolve import CompanyRead, TenantResolution, resolve_tenant
from opsdash.engine import store as default_store
from opsdash.testing.seed import healthy_company

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FLAGGED = [name for name, spec in DEFAULT_CATALOG.items() if spec.mode == ResolutionMode.FLAGGED]


def tenant_config(index: int) -> tuple[str, dict[str, str | None], CompanyRead, TenantResolution]:
    """One tenant's env, Company read and resolution; every 7th lacks a field, every 5th uses env."""
    name = f"tenant-{index:04d}"
    overrides: dict[str, object] = {
        "fullName": f"Tenant {index} Trading",
        "email": f"ops@{name}.example",
        "whatsappPermanentToken": f"EAAG-{name}-token-{index * 7919}",
        "whatsappPhoneNumberId": f"1099{index:09d}",
        "whatsappBusinessAccountId": f"2099{index:09d}",
        "cloudinaryCloudName": f"{name}-cloud",
        "cloudinaryClientFolder": name,
        "smtpUser": f"mailer@{name}.example",
        "smtpPass": f"{name}-smtp-pass",
        "authCallbackUrl": f"https://{name}.example/api/auth/callback",
    }
    if index % 7 == 0:
        overrides["cloudinaryApiSecret"] = None
    env: dict[str, str | None] = {"USE_DB_WHATSAPP": "true", "USE_DB_CLOUDINARY": "true"}
    if index % 5 == 0:
        env.update({"USE_DB_AUTH_CALLBACK": "false", "AUTH_CALLBACK_URL": f"https://{name}.example/cb",
                    "WHATSAPP_PERMANENT_TOKEN": f"EAAG-env-{name}"})
    read = CompanyRead(documents=(healthy_company(**overrides),))
    return name, env, read, resolve_tenant(name, DEFAULT_CATALOG, env, read)


def pass_results(
    tenants: list[tuple[str, dict[str, str | None], CompanyRead, TenantResolution]],
    started: datetime,
    pass_no: int,
    rng: random.Random,
) -> list[CheckResult]:
    """The 12 results per tenant of one DB + config pass started at ``started``."""
    out: list[CheckResult] = []
    profiles = []
    for index, (name, env, read, res) in enumerate(tenants):
        flapping = index % 100 == 0 and pass_no % 2 == 1
        probe = db_check.DbProbe(
            target="cluster-a.example:27017", database=name, latency_ms=round(rng.uniform(40, 60), 1),
            version="7.0.14", company_count=2 if flapping else 1, size_on_disk=81_920 + index,
        )
        verdict = db_check.decide(probe)
        out.append(to_result(name, db_check.CHECK_ID, verdict, started=started,
                             duration_s=rng.uniform(0.05, 0.2)))
        out += [config_check.result(name, res.services[s], res.findings, started) for s in DEFAULT_CATALOG]
        out += [
            fallback_check.result(name, DEFAULT_CATALOG[s], env, read, res.services[s], started)
            for s in FLAGGED
        ]
        profiles.append(isolation.profile_of(
            name, _Target(name), frozenset({"10.0.0.1:27017"}), res))
    out += isolation.results(profiles, started, 0.4)
    return out


class _Target:
    """The two attributes of a MongoTarget that ``isolation.profile_of`` reads."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.display = f"cluster-a.example/{database}"


def _per_tenant(batch: list[CheckResult]) -> list[list[CheckResult]]:
    by_tenant: dict[str, list[CheckResult]] = {}
    for result in batch:
        by_tenant.setdefault(result.tenant, []).append(result)
    return list(by_tenant.values())


def file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def load_store_module(path: str | None) -> ModuleType:
    """``opsdash.engine.store``, or the module in ``path``."""
    if path is None:
        return default_store
    spec = importlib.util.spec_from_file_location("store_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--history", type=int, default=0, metavar="PASSES",
                        help="first record this many earlier passes (copies of the first, 30 s apart)")
    parser.add_argument("--max-history", type=int, default=10_000, help="max_history_per_check")
    parser.add_argument("--other-writer", action="store_true",
                        help="a second ResultStore on the file records one result between passes")
    parser.add_argument("--per-tenant", action="store_true",
                        help="record each tenant's results as its own batch, as the dashboard's engine does")
    parser.add_argument("--store-module", metavar="FILE", help="time this store module instead")
    args = parser.parse_args(argv)
    result_store = load_store_module(args.store_module).ResultStore

    rng = random.Random(8)
    tenants = [tenant_config(i) for i in range(args.tenants)]
    passes = [pass_results(tenants, T0 + timedelta(seconds=30 * p), p, rng) for p in range(args.passes)]
    sample = passes[0]
    statuses = {s: sum(1 for r in sample if r.status is s) for s in Status}
    mean_body = statistics.mean(len(r.model_dump_json()) for r in sample)
    print(f"{len(sample)} results per pass ({args.tenants} tenants), JSON body {mean_body:.0f} B on average,"
          f" statuses {statuses}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "opsdash.sqlite3"
        store = result_store(path, max_history_per_check=args.max_history)
        other = result_store(path, max_history_per_check=args.max_history) if args.other_writer else None
        if args.history:
            fill = time.perf_counter()
            for p in range(args.history):
                moment = T0 - timedelta(seconds=30 * (args.history - p))
                store.record(r.model_copy(update={"timestamp": moment}) for r in passes[p % len(passes)])
            print(f"history: {args.history} earlier passes recorded in {time.perf_counter() - fill:.1f} s")
        cpu_times, wall_times = [], []
        for p, batch in enumerate(passes):
            if other is not None:
                other.record([CheckResult(tenant="elsewhere", check="db", status=Status.OK, summary="ok",
                                          timestamp=T0 + timedelta(seconds=30 * p))])
            chunks = _per_tenant(batch) if args.per_tenant else [batch]
            cpu, wall = time.process_time(), time.perf_counter()
            transitions = [t for chunk in chunks for t in store.record(chunk)]
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            cpu_times.append(cpu)
            wall_times.append(wall)
            print(f"pass {p + 1:2d}: record {wall:.3f} s wall, {cpu:.3f} s CPU,"
                  f" {len(transitions)} transitions")
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        size = file_size(path)
        print(f"first / last / median of {len(passes)}: {wall_times[0]:.3f} / {wall_times[-1]:.3f} /"
              f" {statistics.median(wall_times):.3f} s wall; CPU {cpu_times[0]:.3f} / {cpu_times[-1]:.3f} /"
              f" {statistics.median(cpu_times):.3f} s")
        print(f"file: {size / 1e6:.1f} MB for {rows} history rows ({size / max(rows, 1):.0f} B per row)")
        if other is not None:
            other.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
