"""Raw TCP fakes: hanging listener, closed port, latency proxy."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from opsdash.fakes.tcp import HangingListener, LatencyProxy, closed_port


def test_closed_port_refuses_connections() -> None:
    port = closed_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_hanging_listener_accepts_but_never_answers() -> None:
    with HangingListener() as listener:
        with socket.create_connection(listener.address, timeout=0.2) as sock:
            assert listener.wait_for_connections(1)
            sock.sendall(b"EHLO example\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(1)
        assert listener.connections == 1


def test_hanging_listener_stop_closes_accepted_sockets() -> None:
    listener = HangingListener()
    address = listener.start()
    sock = socket.create_connection(address, timeout=2)
    assert listener.wait_for_connections(1)
    listener.stop()
    assert sock.recv(1) == b""
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1).close()


class EchoServer:
    """Asyncio echo server that waits for its connections to finish on exit."""

    def __init__(self) -> None:
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.idle.clear()
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
            self.active -= 1
            if not self.active:
                self.idle.set()

    async def __aenter__(self) -> EchoServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.server.close()
        await asyncio.wait_for(self.idle.wait(), 2)
        await self.server.wait_closed()


async def _round_trips(port: int, count: int, payload: bytes) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(len(payload)) == payload
        timings.append(time.perf_counter() - started)
    writer.close()
    await writer.wait_closed()
    return timings


async def test_latency_proxy_adds_round_trip_delay() -> None:
    delay = 0.025
    async with EchoServer() as echo:
        with LatencyProxy("127.0.0.1", echo.port, delay) as proxy:
            timings = await _round_trips(proxy.port, 4, b"ping")
            assert all(t >= 2 * delay * 0.9 for t in timings)
            assert max(timings) < 2 * delay + 0.25
            assert proxy.connections == 1
            assert proxy.bytes_upstream == 16


async def test_latency_proxy_pipelines_instead_of_serialising() -> None:
    delay = 0.05
    messages = 20
    async with EchoServer() as echo:
        with LatencyProxy("127.0.0.1", echo.port, delay) as proxy:
            reader, writer = await asyncio.open_connection(*proxy.address)
            started = time.perf_counter()
            for i in range(messages):
                writer.write(f"{i:04d}".encode())
                await writer.drain()
                await asyncio.sleep(0)
            received = await reader.readexactly(4 * messages)
            elapsed = time.perf_counter() - started
            writer.close()
            await writer.wait_closed()
    assert received == b"".join(f"{i:04d}".encode() for i in range(messages))
    assert 2 * delay * 0.9 <= elapsed < 10 * delay


async def test_latency_proxy_to_closed_port_closes_client() -> None:
    with LatencyProxy("127.0.0.1", closed_port(), 0.01) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        assert await asyncio.wait_for(reader.read(1), 2) == b""
        writer.close()
        await writer.wait_closed()


async def test_latency_proxy_half_close_propagates() -> None:
    async with EchoServer() as echo:
        with LatencyProxy("127.0.0.1", echo.port, 0.005) as proxy:
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"last words")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 2) == b"last words"
            writer.close()
            await writer.wait_closed()
