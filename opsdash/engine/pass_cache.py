"""One sweep, one read: a memo scoped to a pass over the fleet (``Engine.run_once``).

Within a pass the db check, the config checks and the fleet-wide isolation check of a tenant all need
its env and its Company documents, and every tenant on a cluster asks for the same ``buildInfo``. Inside
``sweep()`` each such read runs once and every caller awaits the same task; outside a sweep (scheduled
runs, each group on its own clock) ``memo`` just runs the read.

Readers must return their failures as values rather than raise them: a shared task outlives any one
caller's deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_CURRENT: ContextVar[PassCache | None] = ContextVar("opsdash_pass_cache", default=None)


class PassCache:
    """Shared tasks by key for the duration of one pass."""

    def __init__(self) -> None:
        self._tasks: dict[Hashable, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """The result of ``read()``, started by the first caller with this key; a caller that gives up
        (cancelled, timed out) leaves the read running for the others."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(read())
            self._tasks[key] = task
        result: T = await asyncio.shield(task)
        return result


@contextmanager
def sweep() -> Iterator[PassCache]:
    """Open a pass: reads made by tasks started inside it (they inherit the context) are shared."""
    cache = PassCache()
    token = _CURRENT.set(cache)
    try:
        yield cache
    finally:
        _CURRENT.reset(token)


def current() -> PassCache | None:
    """The pass this task runs in, if any."""
    return _CURRENT.get()


async def memo(key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """``read()`` once per pass for ``key``; every time outside a pass."""
    cache = _CURRENT.get()
    if cache is None:
        return await read()
    return await cache.once(key, read)
