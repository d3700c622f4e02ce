"""One sweep, one read: a memo scoped to a pass over the fleet (``Engine.run_once``).

Within a pass the db check, the config checks and the fleet-wide isolation check of a tenant all need
its env and its Company documents, and every tenant on a cluster asks for the same ``buildInfo``. Inside
``sweep()`` each such read runs once and every caller awaits the same task; outside a sweep (scheduled
runs, each group on its own clock) ``memo`` just runs the read.

Readers must return their failures as values rather than raise them: a shared task outlives any one
caller's deadline. What a read raises all the same is marked seen when it ends (``start_read``), rather
than left for asyncio to report as "never retrieved" once its callers have gone: the async MongoDB
driver, cancelled in the middle of a server selection, can end the read with an error of its own ("Lock
is not acquired").
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_CURRENT: ContextVar[PassCache | None] = ContextVar("opsdash_pass_cache", default=None)
_RUNNING: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()
log = logging.getLogger(__name__)


def start_read(read: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
    """``read()`` as a task whose failure is marked seen when it ends (logged at debug level, by its type
    alone, as its text may quote a tenant's data): every caller may have given up on it by then. It is
    among the :func:`running_reads` until it ends."""
    task = asyncio.ensure_future(read())
    task.add_done_callback(_seen)
    _RUNNING.add(task)
    return task


def running_reads() -> list[asyncio.Future[Any]]:
    """Reads started on this event loop (``start_read``) that are still running: their callers may have
    given up on them, and whoever closes the clients they use waits for them first."""
    loop = asyncio.get_running_loop()
    return [task for task in list(_RUNNING) if not task.done() and task.get_loop() is loop]


def _seen(task: asyncio.Future[Any]) -> None:
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        log.debug("a shared read ended with %s", type(failure).__name__)


class PassCache:
    """Shared tasks by key for the duration of one pass."""

    def __init__(self, tenants: Sequence[Any] | None = None) -> None:
        self._tasks: dict[Hashable, asyncio.Future[Any]] = {}
        self._values: dict[Hashable, Any] = {}
        self.tenants = tenants
        """The tenants the pass covers, when it was told."""
        self.serialised: dict[int, tuple[Any, bytes]] = {}
        """Objects serialised in this pass and their bytes, by ``id`` (``opsdash.checks.content``)."""
        self._later: dict[Hashable, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._tasks) + len(self._values)

    def start(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The shared task for ``key``, started now by the first caller (done at once for a value put)."""
        task = self._tasks.get(key)
        if task is None:
            if key in self._values:
                task = asyncio.get_running_loop().create_future()
                task.set_result(self._values[key])
            else:
                task = start_read(read)
            self._tasks[key] = task
        return task

    def end(self) -> None:
        """Forget the finished reads, the values put and what was serialised. Each task's context holds
        this pass, so a pass that kept its finished reads would be a reference cycle of a few objects per
        read, left to the cycle collector; and a read still running keeps the pass alive."""
        self._tasks = {key: task for key, task in self._tasks.items() if not task.done()}
        self._values = {}
        self.serialised = {}
        self._later = {}

    def put(self, key: Hashable, value: Any) -> None:
        """Record a value computed without a shared task (a caller that found every input ready), unless
        ``key`` already has one."""
        if key not in self._tasks and key not in self._values:
            self._values[key] = value

    def peek(self, key: Hashable) -> Any:
        """The finished result for ``key``, or ``None`` while it is missing or still running."""
        if key in self._values:
            return self._values[key]
        task = self._tasks.get(key)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def later(self, key: Hashable, finish: Callable[[], Awaitable[Any]]) -> None:
        """Start the rest of a run that leaves it behind: a check with nothing left but an answer shared
        with the rest of its cluster to wait for ends its part of the pass, and ``finish()`` runs on
        alongside; ``left`` has it, and the pass awaits every one (``finish_later``) before it ends. It
        is among the :func:`running_reads` until it ends, so that an engine stopped in the middle of the
        pass waits for it too."""
        self._later[key] = start_read(finish)

    def left(self, key: Hashable) -> asyncio.Future[Any] | None:
        """The rest the run for ``key`` left behind, if it did."""
        return self._later.get(key)

    async def finish_later(self) -> dict[Hashable, Any]:
        """Wait for every rest left behind; their outcomes by key."""
        later, self._later = self._later, {}
        outcomes = await asyncio.gather(*later.values())
        return dict(zip(later, outcomes, strict=True))

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """The result of ``read()``, started by the first caller with this key; a caller that gives up
        (cancelled, timed out) leaves the read running for the others."""
        return await joined(self.start(key, read))


@contextmanager
def sweep(tenants: Sequence[Any] | None = None) -> Iterator[PassCache]:
    """Open a pass (over ``tenants``, if given): reads made by tasks started inside it (they inherit the
    context) are shared."""
    cache = PassCache(tenants)
    token = _CURRENT.set(cache)
    try:
        yield cache
    finally:
        _CURRENT.reset(token)
        cache.end()


def current() -> PassCache | None:
    """The pass this task runs in, if any."""
    return _CURRENT.get()


def outside(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` in a copy of the current context without its pass. What it starts (a
    task, a callback: a scheduler's wakeup, which starts the next runs, and schedules the one after)
    inherits that context, and must not join a pass that ends long before it: its reads would be the
    pass's, for ever."""
    context = contextvars.copy_context()
    context.run(_CURRENT.set, None)
    return context.run(call, *args, **kwargs)


async def joined(task: asyncio.Future[T]) -> T:
    """Wait for a task from :func:`shared`. A caller that gives up (cancelled, timed out) leaves the task
    running, inside a pass for the others and outside one alone: every read ends on its own timeout,
    and a MongoDB read cancelled in the middle of a server selection can leave its client unable to
    select a server ever again (see ``opsdash.engine.mongo``)."""
    if task.done():
        return task.result()
    result: T = await asyncio.shield(task)
    return result


def shared(key: Hashable, read: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
    """Start ``read()`` now (once per pass for ``key``; every time outside a pass); await it with
    :func:`joined`. Lets a check start several reads before waiting for any."""
    cache = _CURRENT.get()
    if cache is None:
        return start_read(read)
    return cache.start(key, read)


async def memo(key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """``read()`` once per pass for ``key``; every time outside a pass."""
    cache = _CURRENT.get()
    if cache is None:
        return await read()
    return await cache.once(key, read)
