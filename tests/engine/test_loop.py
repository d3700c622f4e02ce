"""``run_bounded``: a process that is done never waits forever for a task that ignores cancellation, on
either event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from opsdash.engine.loop import EVENT_LOOP_VAR, event_loop_name, run_bounded
from opsdash.errors import ConfigError


@pytest.fixture(params=["uvloop", "asyncio"], autouse=True)
def event_loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(EVENT_LOOP_VAR, request.param)
    yield request.param


def test_the_engine_loop_is_uvloop_unless_asyncio_is_asked_for(
    event_loop_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def kind() -> bool:
        return isinstance(asyncio.get_running_loop(), uvloop.Loop)

    assert run_bounded(kind()) is (event_loop_kind == "uvloop")
    monkeypatch.delenv(EVENT_LOOP_VAR)
    assert event_loop_name() == "uvloop"
    assert run_bounded(kind()) is True


def test_an_unknown_event_loop_is_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    async def main() -> None:
        ran.append("main")

    monkeypatch.setenv(EVENT_LOOP_VAR, "trio")
    with pytest.raises(ConfigError, match="OPSDASH_EVENT_LOOP: must be uvloop or asyncio, not 'trio'"):
        run_bounded(main())
    assert ran == []


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
