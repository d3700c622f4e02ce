"""``asyncio.run`` with a bounded way out.

At the end of ``asyncio.run`` every task still pending is cancelled and awaited without a limit. The
async MongoDB driver can leave a task that never finishes once one of its operations was cancelled at a
deadline (a topology lock left held), and then a process that is done, an ``opsdash check`` from cron or
a dashboard being quit, would hang forever. Here leftover tasks get ``teardown_s`` to end after they are
cancelled; the ones that do not are abandoned with the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
TEARDOWN_S = 2.0
_ABANDONED: list[asyncio.Task[Any]] = []
"""Tasks left pending at the end of a run; kept so that they are not reported as destroyed."""


def run_bounded(main: Coroutine[Any, Any, T], *, teardown_s: float = TEARDOWN_S) -> T:
    """Run ``main`` on a new event loop and close it; leftover tasks get ``teardown_s`` to end."""
    loop = asyncio.new_event_loop()
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
