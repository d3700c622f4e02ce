"""Run SecantusDB (a MongoDB wire-protocol server) as a separate process on a free loopback port."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from pymongo import MongoClient
from pymongo.errors import PyMongoError

TEST_MONGO_ENV = "OPSDASH_TEST_MONGO_URL"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies, however it dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(base_url: str, database: str) -> str:
    """``base_url`` with its path set to ``/database``; options are kept."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def wait_for_ping(url: str, deadline_s: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the server at ``url`` answers ``ping``; raise if it dies or the deadline passes."""
    give_up = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < give_up:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"MongoDB server exited with code {process.returncode}")
        try:
            with MongoClient(url, serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
                client.admin.command("ping")
            return
        except PyMongoError as exc:
            last_error = exc
    raise RuntimeError(f"MongoDB server at {url} did not answer ping: {last_error}")


class SecantusServer:
    """``python -m secantus --port P --storage-path :memory: --enable-test-commands`` as a child process,
    on ``port`` or a free one."""

    def __init__(
        self, *, storage_path: str = ":memory:", log_path: Path | None = None, port: int | None = None
    ) -> None:
        self.storage_path = storage_path
        self.log_path = log_path
        self.requested_port = port
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, deadline_s: float = 60.0) -> str:
        self.port = self.requested_port or free_port()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                self.storage_path,
                "--enable-test-commands",
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            wait_for_ping(self.url, deadline_s, self.process)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> SecantusServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def external_mongo_url() -> str | None:
    """``$OPSDASH_TEST_MONGO_URL``, when the suite should use a real mongod instead of SecantusDB."""
    return os.environ.get(TEST_MONGO_ENV) or None
