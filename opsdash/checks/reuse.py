"""What a pass may take from the previous one instead of reading or computing it again.

- A dotenv file unchanged on disk (same inode, size, mtime and ctime) is not read and parsed again,
  starting with the read that loaded the fleet (``Fleet.env_at_load``).
- A tenant whose env and Company documents (raw BSON bytes) are exactly what they were keeps what was
  derived from them (resolution, secrets, config verdicts): those are pure functions of these inputs.
- The fleet-wide isolation verdicts stand while every tenant's profile is what it was.
- A tenant's secrets, which its db result is scrubbed of, are worked out again only when its env is another
  object (read again) or the tenant is (the fleet reloaded).
- A read of an env source that is still running (a hung mount, a stalled API) is joined by the next run
  rather than started again, so that each stuck source holds one thread, not one per run.
- The scheduled isolation check compares each tenant as its own config run last read it (``loaded``), if
  that read is recent, instead of reading the whole fleet again within one deadline.
- Slow-changing server facts, the databases' sizes on disk (one ask per client) and a cluster's
  ``buildInfo`` (its version), are asked again only when older than ``FACTS_MAX_AGE_S``: they change
  over hours or at an upgrade, not between two 15 s polls. An ask still running is joined rather than
  sent again (``fact_read``), so the tenants of one cluster share it in a pass and in scheduled runs;
  while the sizes are asked again, the db checks report the last ones with their age (``last_fact``).

One ``Reuse`` belongs to one ``CheckContext``, so it lives as long as the engine that owns it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opsdash.config import envsource
from opsdash.config.envsource import DotenvFile, EnvSource, EnvValues, FileStamp
from opsdash.config.fleet import Tenant
from opsdash.engine.pass_cache import start_read

FACTS_MAX_AGE_S = 300.0
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass
class Derived:
    """What was derived from one tenant's inputs; ``extra`` holds results computed from them later."""

    env: Mapping[str, str | None]
    raw_documents: tuple[bytes, ...]
    value: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, env: Mapping[str, str | None], raw_documents: tuple[bytes, ...]) -> bool:
        return (self.env is env or self.env == env) and self.raw_documents == raw_documents


@dataclass
class Reuse:
    """Per-engine memory across passes (see the module docstring)."""

    env_files: dict[str, tuple[FileStamp, EnvValues]] = field(default_factory=dict)
    derived: dict[str, Derived] = field(default_factory=dict)
    facts: dict[Hashable, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    fact_reads: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict)
    """The latest ask of each fact, by key, while it may still be running."""
    databases_by_client: tuple[object, dict[Hashable, list[str]]] | None = None
    """Database names by client, with the tenants (a pass's or the fleet's) they were listed from."""
    fleet_wide: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Fleet-wide results by check id, with the inputs they were computed from."""
    env_reads: dict[str, asyncio.Future[EnvValues]] = field(default_factory=dict)
    """The latest read of each env source, by label, while it may still be running."""
    stamp_reads: dict[str, asyncio.Future[FileStamp | None]] = field(default_factory=dict)
    """The latest stat of each env file outside a pass's own, by label, while it may still be running."""
    secrets: dict[str, tuple[Tenant, Mapping[str, str | None], list[str]]] = field(default_factory=dict)
    """Each tenant's secrets with the tenant and env they were worked out from (see ``secrets_for``)."""
    loaded: dict[str, tuple[float, Any]] = field(default_factory=dict)
    """Each tenant's latest loaded state (env, Company read, resolution) and when it was loaded."""
    loaded_whole: dict[str, tuple[float, Any]] = field(default_factory=dict)
    """The same, for the latest load whose env and Company documents were both read."""

    def unchanged_env(self, source: EnvSource, stamp: FileStamp | None) -> EnvValues | None:
        """The env read last time if the file is as it was then (``stamp``: the file's now)."""
        seen = self.env_files.get(source.label) if stamp is not None else None
        if seen is not None and seen[0] == stamp:
            return seen[1]
        return None

    def stamp_read(self, source: DotenvFile) -> asyncio.Future[FileStamp | None]:
        """A thread stat'ing ``source``: the one still running from an earlier run, else a new one. Await
        it shielded: a stat on a hung mount blocks as a read does, and must block neither the event loop
        nor more than one thread."""
        return _running_or_new(
            self.stamp_reads, source.label, lambda: asyncio.to_thread(envsource.file_stamp, source.path)
        )

    def known_env(self, source: EnvSource) -> EnvValues | None:
        """The env last read from ``source``, however old, without touching it; None if never read."""
        seen = self.env_files.get(source.label)
        return seen[1] if seen is not None else None

    def env_read(self, source: EnvSource) -> asyncio.Future[EnvValues]:
        """A thread reading ``source``: the one still running from an earlier run, else a new one. Await
        it shielded: a caller that gives up leaves it to the next."""
        return _running_or_new(self.env_reads, source.label, lambda: asyncio.to_thread(source.read))

    def remember_env(self, source: EnvSource, stamp: FileStamp | None, values: EnvValues) -> None:
        """Keep ``values`` for the file as it was at ``stamp`` (taken before it was read)."""
        if stamp is not None:
            self.env_files[source.label] = (stamp, values)

    def derived_for(
        self, tenant: str, env: Mapping[str, str | None], raw_documents: tuple[bytes, ...]
    ) -> Derived | None:
        """What was derived from exactly these inputs, if anything."""
        entry = self.derived.get(tenant)
        if entry is not None and entry.matches(env, raw_documents):
            return entry
        return None

    def remember_derived(
        self, tenant: str, env: Mapping[str, str | None], raw_documents: tuple[bytes, ...], value: Any
    ) -> Derived:
        entry = Derived(env, raw_documents, value)
        self.derived[tenant] = entry
        return entry

    def secrets_for(
        self,
        tenant: Tenant,
        env: Mapping[str, str | None],
        work_out: Callable[[], list[str]],
    ) -> list[str]:
        """``work_out()`` (the tenant's secrets, a pure function of the tenant and its env), again only when
        the tenant or its env is another object than last time: an env file unchanged on disk is the
        same object from pass to pass (``unchanged_env``). The list is shared: do not change it."""
        kept = self.secrets.get(tenant.name)
        if kept is not None and kept[0] is tenant and kept[1] is env:
            return kept[2]
        found = work_out()
        self.secrets[tenant.name] = (tenant, env, found)
        return found

    def remember_loaded(self, tenant: str, state: Any, whole: bool, now: float | None = None) -> None:
        """Keep ``state`` as the tenant's latest load; ``whole`` when every read it needed succeeded."""
        entry = (time.monotonic() if now is None else now, state)
        self.loaded[tenant] = entry
        if whole:
            self.loaded_whole[tenant] = entry

    def recent_load(self, tenant: str, max_age_s: float, now: float | None = None) -> Any:
        """The tenant's latest whole load at most ``max_age_s`` old, else its latest load of that age
        (one whose reads failed), else None."""
        at_now = time.monotonic() if now is None else now
        for kept in (self.loaded_whole.get(tenant), self.loaded.get(tenant)):
            if kept is not None and at_now - kept[0] <= max_age_s:
                return kept[1]
        return None

    def fresh_fact(self, key: Hashable, now: float | None = None) -> tuple[dict[str, Any], float] | None:
        """The server reply kept for ``key`` and its age in seconds, if younger than ``FACTS_MAX_AGE_S``."""
        kept = self.last_fact(key, now)
        if kept is None or kept[1] > FACTS_MAX_AGE_S:
            return None
        return kept

    def last_fact(self, key: Hashable, now: float | None = None) -> tuple[dict[str, Any], float] | None:
        """The server reply kept for ``key`` and its age in seconds, however old."""
        kept = self.facts.get(key)
        if kept is None:
            return None
        at, stats = kept
        return stats, (time.monotonic() if now is None else now) - at

    def remember_fact(self, key: Hashable, reply: dict[str, Any], now: float | None = None) -> None:
        self.facts[key] = (time.monotonic() if now is None else now, reply)

    def fact_read(self, key: Hashable, ask: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The ask for ``key`` still running, else a new one. ``ask`` returns its failure as a value; await
        the future shielded: a caller that gives up leaves it to the others."""
        return _running_or_new(self.fact_reads, key, ask)


def _running_or_new(
    reads: dict[K, asyncio.Future[Any]], key: K, read: Callable[[], Awaitable[T]]
) -> asyncio.Future[T]:
    """The read kept under ``key`` while it still runs, else ``read()`` started now and kept there."""
    running = reads.get(key)
    if running is None or running.done():
        running = start_read(read)
        reads[key] = running
    return running
