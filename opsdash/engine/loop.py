"""``asyncio.run`` with a bounded way out.

At the end of ``asyncio.run`` every task still pending is cancelled and awaited without a limit. The
async MongoDB driver can leave a task that never finishes once one of its operations was cancelled at a
deadline (a topology lock left held), and then a process that is done, an ``opsdash check`` from cron or
a dashboard being quit, would hang forever. Here leftover tasks get ``teardown_s`` to end after they are
cancelled; the ones that do not are abandoned with the loop. Blocking calls run on daemon threads
(``DaemonThreadExecutor``), so one that never returns holds up neither the teardown nor the exit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from opsdash.engine.daemon_executor import DaemonThreadExecutor

T = TypeVar("T")
TEARDOWN_S = 2.0
_ABANDONED: list[asyncio.Task[Any]] = []
"""Tasks left pending at the end of a run; kept so that they are not reported as destroyed."""


def run_bounded(main: Coroutine[Any, Any, T], *, teardown_s: float = TEARDOWN_S) -> T:
    """Run ``main`` on a new event loop and close it; leftover tasks get ``teardown_s`` to end."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(DaemonThreadExecutor(min(32, (os.cpu_count() or 1) + 4)))
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _finish(loop, teardown_s)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _finish(loop: asyncio.AbstractEventLoop, teardown_s: float) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=teardown_s))
    _ABANDONED.extend(task for task in pending if not task.done())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(_shutdown_executor(loop, teardown_s))


async def _shutdown_executor(loop: asyncio.AbstractEventLoop, teardown_s: float) -> None:
    try:
        async with asyncio.timeout(teardown_s):
            await loop.shutdown_default_executor()
    except TimeoutError:
        pass


def widen_default_executor(threads: int) -> None:
    """Give the running loop a default executor of ``threads`` threads.

    Every DNS lookup (the MongoDB driver's, httpx's, aiosmtplib's) and every env file read runs in the
    loop's default executor, which asyncio sizes by CPU count (6 threads on 2 cores). A few slow lookups
    (a resolver that drops queries answers after its 5 s retry) would fill it, and then every new
    MongoDB connection waits behind them and database checks time out. Call it where the loop is owned,
    with a thread for every run the engine lets happen at once (``io_threads``). Its threads are daemon
    threads (``DaemonThreadExecutor``): a call that never returns does not hold up the way out."""
    asyncio.get_running_loop().set_default_executor(DaemonThreadExecutor(threads))
