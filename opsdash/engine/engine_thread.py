"""Run an Engine on its own asyncio loop in a daemon thread, for a UI that owns the main loop.

Callbacks (``on_results``) run on the engine's thread: post messages to the UI from them, do not touch
widgets directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from opsdash.checks.base import CheckResult
from opsdash.checks.context import CheckGroup
from opsdash.config.fleet import Fleet
from opsdash.engine.loop import run_bounded, widen_default_executor
from opsdash.engine.scheduler import Engine, JobInfo, ResultsCallback, Runner, io_threads
from opsdash.engine.store import ResultStore


class EngineThread:
    """Owns one thread, one event loop and one Engine; start() and stop() are blocking and idempotent."""

    def __init__(
        self,
        fleet: Fleet,
        store: ResultStore,
        on_results: ResultsCallback | None = None,
        *,
        runner: Runner | None = None,
        jitter: bool = True,
        stop_grace_s: float | None = 2.0,
    ) -> None:
        self.fleet = fleet
        self.store = store
        self.on_results = on_results
        self._runner = runner
        self._jitter = jitter
        self._stop_grace_s = stop_grace_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: Engine | None = None
        self._stop_requested: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def engine(self) -> Engine | None:
        return self._engine

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and return once the engine is scheduling; re-raises a startup failure."""
        with self._lock:
            if self._thread is not None:
                return
            self._ready.clear()
            self._startup_error = None
            thread = threading.Thread(target=self._main, name="opsdash-engine", daemon=True)
            self._thread = thread
            thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the check engine did not start within {timeout:g}s")
        if self._startup_error is not None:
            error = self._startup_error
            thread.join(timeout)
            with self._lock:
                self._thread = None
            raise error

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the engine (in-flight checks get ``stop_grace_s`` to finish) and join the thread."""
        with self._lock:
            thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
            if thread is None:
                return
            if loop is not None and stop_requested is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(stop_requested.set)
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the check engine did not stop within {timeout:g}s")
            self._thread = None

    def store_refusal(self) -> str | None:
        """Why the results store refuses the engine's results, while it does (``Engine.store_refusal``)."""
        engine = self._engine
        return engine.store_refusal if engine is not None else None

    def check_now(self, tenant: str | None = None) -> None:
        """Run one tenant's checks (or everyone's) now."""
        engine = self._engine
        if engine is None:
            raise RuntimeError("the check engine is not running")
        engine.check_now(tenant)

    def run_once(
        self,
        tenants: Sequence[str] | None = None,
        groups: Sequence[CheckGroup] | None = None,
    ) -> Future[list[CheckResult]]:
        """Start one pass on the engine's loop; the returned future holds its results."""
        loop, engine = self._loop, self._engine
        if loop is None or engine is None:
            raise RuntimeError("the check engine is not running")
        return asyncio.run_coroutine_threadsafe(engine.run_once(tenants, groups), loop)

    def jobs(self) -> list[JobInfo]:
        engine = self._engine
        return engine.jobs() if engine is not None else []

    def _main(self) -> None:
        try:
            run_bounded(self._serve())
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup_error = exc
        finally:
            self._loop = None
            self._engine = None
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        widen_default_executor(io_threads(self.fleet))
        self._stop_requested = asyncio.Event()
        engine = Engine(
            self.fleet,
            store=self.store,
            on_results=self.on_results,
            runner=self._runner,
            jitter=self._jitter,
        )
        try:
            await engine.start()
        except BaseException:
            await engine.stop(grace=0)
            raise
        self._engine = engine
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await engine.stop(grace=self._stop_grace_s)
