"""Raw TCP fakes: a listener that never answers, a closed port, and a latency proxy."""
from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading

from opsdash.fakes.lifecycle import StartStop

__all__ = ["HangingListener", "LatencyProxy", "closed_port"]


def closed_port(host: str = "127.0.0.1") -> int:
    """Return a loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class HangingListener(StartStop):
    """Accepts TCP connections and never sends a byte; sockets stay open until :meth:`stop`.

    Models a firewall-less host whose service is wedged: connects succeed, reads time out.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._accepted: list[socket.socket] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        """Start accepting; return ``(host, port)``."""
        if self._listener is not None:
            return self.address
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(64)
        listener.setblocking(False)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="HangingListener", daemon=True)
        self._thread.start()
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the listener."""
        return self.host, self.port

    @property
    def connections(self) -> int:
        """Number of connections accepted so far."""
        with self._cond:
            return len(self._accepted)

    def wait_for_connections(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``count`` connections were accepted; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._accepted) >= count, timeout)

    def _run(self) -> None:
        assert self._listener is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        conn, _ = self._listener.accept()
                        with self._cond:
                            self._accepted.append(conn)
                            self._cond.notify_all()

    def stop(self) -> None:
        """Stop accepting and close every accepted socket."""
        if self._listener is None:
            return
        assert self._wake_w is not None and self._wake_r is not None
        self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._cond:
            for conn in self._accepted:
                conn.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        self._listener = self._wake_r = self._wake_w = None


class LatencyProxy(StartStop):
    """TCP proxy that delivers each chunk ``delay_s_each_way`` seconds after receiving it.

    Each direction has a queue of ``(release_time, chunk)``: reading never waits for
    earlier chunks to be released, so pipelined traffic sees added latency, not a
    throughput cap. One round trip through the proxy costs ``2 * delay_s_each_way``.
    The TCP handshake to the proxy itself is not delayed. ``delay_s_each_way`` may be
    changed while running; it applies to chunks read afterwards.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay_s_each_way: float,
        *,
        host: str = "127.0.0.1",
        chunk_size: int = 65536,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.delay_s_each_way = delay_s_each_way
        self.host = host
        self.port = 0
        self.chunk_size = chunk_size
        self.connections = 0
        self.bytes_upstream = 0
        self.bytes_downstream = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        """Start the proxy on a free loopback port; return ``(host, port)``."""
        if self._loop is not None:
            return self.address
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, 0))
                self.port = int(self._server.sockets[0].getsockname()[1])
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="LatencyProxy", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._loop = None
            raise failure[0]
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` clients should connect to."""
        return self.host, self.port

    def stop(self) -> None:
        """Close the listener and all proxied connections."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        future.result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        upstream_w: asyncio.StreamWriter | None = None
        try:
            upstream_r, upstream_w = await asyncio.open_connection(self.target_host, self.target_port)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pipe(client_r, upstream_w, upstream=True))
                group.create_task(self._pipe(upstream_r, client_w, upstream=False))
        except* OSError:
            pass
        finally:
            writers = [w for w in (client_w, upstream_w) if w is not None]
            for writer in writers:
                writer.close()
            for writer in writers:
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()
            self._tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def receive() -> None:
            while True:
                try:
                    data = await reader.read(self.chunk_size)
                except OSError:
                    data = b""
                queue.put_nowait((loop.time() + self.delay_s_each_way, data))
                if not data:
                    return

        async def deliver() -> None:
            while True:
                release_at, data = await queue.get()
                wait = release_at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                if upstream:
                    self.bytes_upstream += len(data)
                else:
                    self.bytes_downstream += len(data)
                await writer.drain()

        receiver = asyncio.create_task(receive())
        try:
            await deliver()
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await receiver

