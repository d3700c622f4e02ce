"""DaemonThreadExecutor: a blocking call that never returns holds up neither shutdown nor process exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from opsdash.engine.daemon_executor import DaemonThreadExecutor


def test_work_runs_on_at_most_the_given_number_of_daemon_threads() -> None:
    executor = DaemonThreadExecutor(2)
    gate = threading.Event()
    names: list[str] = []

    def work(i: int) -> int:
        gate.wait()
        names.append(threading.current_thread().name)
        assert threading.current_thread().daemon
        return i * i

    futures = [executor.submit(work, i) for i in range(6)]
    assert executor.threads == 2
    gate.set()
    assert [f.result(timeout=10) for f in futures] == [0, 1, 4, 9, 16, 25]
    assert set(names) <= {"opsdash-io-1", "opsdash-io-2"}
    executor.shutdown()


def test_a_failing_call_reports_its_exception() -> None:
    executor = DaemonThreadExecutor(1)
    future = executor.submit(int, "not a number")
    with pytest.raises(ValueError):
        future.result(timeout=10)
    executor.shutdown()


def test_shutdown_returns_while_a_call_never_does_and_refuses_new_work() -> None:
    executor = DaemonThreadExecutor(1)
    started = threading.Event()
    never = threading.Event()
    executor.submit(lambda: (started.set(), never.wait()))
    queued = executor.submit(lambda: "late")
    assert started.wait(10)
    executor.shutdown(wait=True, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        executor.submit(lambda: None)
    never.set()


def test_a_process_whose_loop_has_a_call_that_never_returns_still_exits() -> None:
    program = textwrap.dedent(
        """
        import asyncio, threading
        from opsdash.engine.loop import run_bounded, widen_default_executor

        async def main() -> str:
            widen_default_executor(4)
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, threading.Event().wait)
            await asyncio.sleep(0)
            return "done"

        print(run_bounded(main(), teardown_s=0.5))
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert (finished.returncode, finished.stdout.strip()) == (0, "done"), finished.stderr
