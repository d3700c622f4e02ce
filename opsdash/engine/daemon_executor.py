"""An executor whose threads never hold up a loop's teardown or the process's exit.

asyncio runs every blocking call of the engine in the loop's default executor: DNS lookups (the MongoDB
driver's, httpx's, aiosmtplib's) and env file reads. With a ``ThreadPoolExecutor`` a call that never
returns (an env file on a hung mount) hangs the way out twice: ``loop.shutdown_default_executor()`` joins
its threads, and so does the interpreter at exit. Here the threads are daemon threads and ``shutdown``
never waits for a call in progress, so a dashboard can always be quit and ``opsdash check`` always exits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadExecutor(ThreadPoolExecutor):
    """Up to ``threads`` daemon threads, started as work arrives and kept for the next. A
    ``ThreadPoolExecutor`` by type only (asyncio accepts no other as a loop's default executor): none of
    its machinery runs."""

    def __init__(self, threads: int, name: str = "opsdash-io") -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        super().__init__(max_workers=threads, thread_name_prefix=name)
        self._max_threads = threads
        self._name = name
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._idle = 0
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads started so far."""
        return self._started

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._work.put((future, fn, args, kwargs))
            if self._idle == 0 and self._started < self._max_threads:
                self._started += 1
                name = f"{self._name}-{self._started}"
                threading.Thread(target=self._serve, name=name, daemon=True).start()
            else:
                self._idle = max(0, self._idle - 1)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new work and let idle threads end. Never waits for a call in progress, whatever
        ``wait`` says: that call may never return."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = self._started
        if cancel_futures:
            while True:
                try:
                    work = self._work.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
        for _ in range(threads):
            self._work.put(None)

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            future, fn, args, kwargs = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del work, future, fn, args, kwargs
            with self._lock:
                self._idle += 1
