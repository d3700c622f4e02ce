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


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


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
    return timings


async def test_latency_proxy_adds_round_trip_delay() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    target_port = server.sockets[0].getsockname()[1]
    delay = 0.025
    with LatencyProxy("127.0.0.1", target_port, delay) as proxy:
        timings = await _round_trips(proxy.port, 4, b"ping")
        assert all(t >= 2 * delay * 0.9 for t in timings)
        assert max(timings) < 2 * delay + 0.25
        assert proxy.connections == 1
        assert proxy.bytes_upstream == 16
    server.close()
    await server.wait_closed()


async def test_latency_proxy_pipelines_instead_of_serialising() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    target_port = server.sockets[0].getsockname()[1]
    delay = 0.05
    with LatencyProxy("127.0.0.1", target_port, delay) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        started = time.perf_counter()
        messages = 20
        for i in range(messages):
            writer.write(f"{i:04d}".encode())
            await writer.drain()
            await asyncio.sleep(0)
        received = await reader.readexactly(4 * messages)
        elapsed = time.perf_counter() - started
        assert received == b"".join(f"{i:04d}".encode() for i in range(messages))
        assert 2 * delay * 0.9 <= elapsed < 10 * delay
        writer.close()
    server.close()
    await server.wait_closed()


async def test_latency_proxy_to_closed_port_closes_client() -> None:
    with LatencyProxy("127.0.0.1", closed_port(), 0.01) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        assert await asyncio.wait_for(reader.read(1), 2) == b""
        writer.close()


async def test_latency_proxy_half_close_propagates() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    target_port = server.sockets[0].getsockname()[1]
    with LatencyProxy("127.0.0.1", target_port, 0.005) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"last words")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 2) == b"last words"
        writer.close()
    server.close()
    await server.wait_closed()
