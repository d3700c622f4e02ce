"""``each_bounded``: every item run, in order, never more than the workers at once."""

from __future__ import annotations

import asyncio

import pytest

from opsdash.engine.fanout import each_bounded


async def test_items_start_in_order_with_at_most_the_workers_running_and_outcomes_keep_their_places() -> None:
    started: list[int] = []
    running = 0
    most = 0
    began = {i: asyncio.Event() for i in range(10)}
    release = {i: asyncio.Event() for i in range(10)}

    async def run(item: int) -> str:
        nonlocal running, most
        started.append(item)
        began[item].set()
        running += 1
        most = max(most, running)
        await release[item].wait()
        running -= 1
        return f"done {item}"

    fanned = asyncio.ensure_future(each_bounded(list(range(10)), run, 3))
    for item in (2, 0, 1, 5, 4, 3, 8, 6, 7, 9):
        await asyncio.wait_for(began[item].wait(), 5)
        release[item].set()
    assert await asyncio.wait_for(fanned, 5) == [f"done {i}" for i in range(10)]
    assert most == 3
    assert started == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


async def test_a_failing_item_is_raised_and_the_other_workers_run_the_rest() -> None:
    ran: list[int] = []
    all_ran = asyncio.Event()

    async def run(item: int) -> int:
        if item == 1:
            raise ValueError("item 1 broke")
        ran.append(item)
        if len(ran) == 5:
            all_ran.set()
        return item

    with pytest.raises(ValueError, match="item 1 broke"):
        await each_bounded(list(range(6)), run, 2)
    await asyncio.wait_for(all_ran.wait(), 5)
    assert sorted(ran) == [0, 2, 3, 4, 5]


async def test_no_items_and_fewer_items_than_workers() -> None:
    async def run(item: int) -> int:
        return item * 2

    assert await each_bounded([], run, 4) == []
    assert await each_bounded([1, 2], run, 64) == [2, 4]
    assert await each_bounded([1, 2], run, 0) == [2, 4]
