"""``run_bounded``: a process that is done never waits forever for a task that ignores cancellation."""

from __future__ import annotations

import asyncio

from opsdash.engine.loop import run_bounded


def test_a_task_that_refuses_to_end_is_abandoned_and_the_result_comes_back() -> None:
    refusals = 0

    async def stubborn(started: asyncio.Event) -> None:
        nonlocal refusals
        started.set()
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                refusals += 1

    async def main() -> str:
        started = asyncio.Event()
        leftover = asyncio.ensure_future(stubborn(started))
        await started.wait()
        assert not leftover.done()
        return "report"

    assert run_bounded(main(), teardown_s=0.1) == "report"
    assert refusals == 1


def test_leftover_tasks_that_accept_cancellation_are_cancelled_and_awaited() -> None:
    ended: list[str] = []

    async def polite(started: asyncio.Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("cleaned up")

    async def main() -> int:
        started = asyncio.Event()
        leftover = asyncio.ensure_future(polite(started))
        await started.wait()
        assert not leftover.done()
        return 7

    assert run_bounded(main()) == 7
    assert ended == ["cleaned up"]
