"""The garbage collector's pace for a process that sweeps a fleet.

A pass over a fleet keeps a large set of young objects alive at once: every tenant's results, detail
tables and in-flight driver operations, and they die by reference counting when the next pass replaces
them. Almost none of it is cyclic garbage (``pass_cache`` breaks the one cycle a pass used to leave).
CPython collects its youngest generation when the tracked objects allocated and not yet freed since the
last collection exceed the first threshold (700 by default): with a threshold below a pass's peak, every
pass triggers collections that free nothing, scan every live result and promote them into older
generations, which are then scanned again (at 1,000 tenants: ~550 collections and 1.9-5 s of a 7 s pass
at 700; 0.06-0.10 s per pass plus a 0.3 s second-generation collection every few passes at 50,000).

The pass that keeps the most is a fresh engine's first one (``opsdash check``, the dashboard's first
runs): nothing is reused yet, so every tenant's env, resolution, verdicts and results are new. It keeps
about 200 tracked objects per tenant on the bench fleet and about 310 on a fully configured one (the
test measures it), against 60-85 for a later pass. A threshold above that lets every pass run without a
collection; one runs when tracked objects really accumulate (cycles or growth), so memory stays bounded.
A fleet whose every database refuses connections, polled for 25 passes at 1,000 tenants, ran none after
its first pass and held its memory flat, at the former threshold of 200 per tenant already.
"""

from __future__ import annotations

import gc

SWEEP_GEN0_THRESHOLD = 50_000
TRACKED_PER_TENANT = 450
"""Headroom over the ~310 tracked objects per tenant a first pass over a fully configured fleet keeps."""


def sweep_threshold(tenants: int) -> int:
    """The first-generation threshold for a process that sweeps ``tenants`` tenants."""
    return max(SWEEP_GEN0_THRESHOLD, TRACKED_PER_TENANT * tenants)


def pace_for_sweeps(tenants: int) -> None:
    """Raise the first-generation threshold to ``sweep_threshold(tenants)`` unless it is already higher
    (or the collector's automatic runs are off: a threshold of 0)."""
    first, second, third = gc.get_threshold()
    wanted = sweep_threshold(tenants)
    if 0 < first < wanted:
        gc.set_threshold(wanted, second, third)
