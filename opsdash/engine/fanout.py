"""Bounded fan-out: one coroutine per item, a fixed number of them at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


async def each_bounded(
    items: Sequence[Item], run: Callable[[Item], Awaitable[Outcome]], workers: int
) -> list[Outcome]:
    """``[await run(item) for item in items]`` with up to ``workers`` running at once, started in the
    items' order; the outcomes in that order.

    A fixed set of worker tasks takes the items in turn, rather than a task per item waiting on a
    semaphore: a pass over 1,000 tenants then makes 64 tasks, not 1,000 tasks and 936 waits. An exception
    ends its worker and is raised as ``asyncio.gather`` raises it; the other workers go on with the items
    left."""
    outcomes: list[Outcome | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            outcomes[index] = await run(item)

    await asyncio.gather(*(worker() for _ in range(min(max(workers, 1), len(items)))))
    return outcomes  # type: ignore[return-value]
