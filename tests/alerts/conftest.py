"""Real parts for the alert tests: an Alertmanager process, a restartable SecantusDB, a webhook
receiver, and ``opsdash watch`` run as a real process whose NDJSON lines are read as they come."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from opsdash.fakes.http_base import FakeHTTPServer, RecordedRequest, Response, json_response
from opsdash.testing.mongo_server import free_port, wait_for_ping

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` at the deadline."""
    give_up = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > give_up:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        pause.wait(0.05)


class AlertmanagerProcess:
    """``prometheus-alertmanager`` on a free loopback port with a null receiver and clustering off."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.workdir / "alertmanager.yml"
        config.write_text(
            'route:\n  receiver: "null"\n  group_wait: 1h\nreceivers:\n  - name: "null"\n', encoding="utf-8"
        )
        storage = self.workdir / "am-data"
        storage.mkdir(exist_ok=True)
        self.log = open(self.workdir / "alertmanager.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                f"--storage.path={storage}",
            ],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
        )

        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, "alertmanager exited"
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, "alertmanager /-/ready")

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced, inhibited and unprocessed), filtered by labels."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        response.raise_for_status()
        return [a for a in response.json() if all(a["labels"].get(k) == v for k, v in labels.items())]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    am = AlertmanagerProcess(tmp_path)
    am.start()
    yield am
    am.stop()


class RestartableSecantus:
    """A SecantusDB that keeps its port and its data across stop/start: a tenant DB that goes down."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        with open(self.storage.parent / "secantus.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(self.port),
                 "--storage-path", str(self.storage), "--enable-test-commands", "--log-level", "WARNING"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        wait_for_ping(self.url, 60, self.process)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def tenant_server(tmp_path: Path) -> Iterator[RestartableSecantus]:
    server = RestartableSecantus(tmp_path / "secantus-data")
    server.start()
    yield server
    server.stop()


class WebhookReceiver(FakeHTTPServer):
    """Records every POST to ``/hook``; answers 500 to the first ``fail_first`` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__()
        self.fail_first = fail_first
        self.answers: list[int] = []
        self.router.add("POST", "/hook", self._hook)
        self.router.add("GET", "/ping/(?P<uuid>[^/]+)", lambda r: Response(200, b"OK"))

    def _hook(self, request: RecordedRequest) -> Response:
        status = 500 if len(self.answers) < self.fail_first else 200
        self.answers.append(status)
        return json_response(status, {"ok": status == 200})

    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the deliveries that were answered 2xx (attempts after the failing ones)."""
        with self.lock:
            answered = list(self.answers)
        posts = self.requests_to("/hook")
        return [r.json() for r, status in zip(posts, answered, strict=False) if status == 200]


_RUNNING_WATCHES: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_watch_outlives_its_test() -> Iterator[None]:
    """A failed test must not leave ``opsdash watch`` running against the next test's servers."""
    yield
    while _RUNNING_WATCHES:
        process = _RUNNING_WATCHES.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


class WatchProcess:
    """``python -m opsdash --config FLEET watch ARGS``; stdout lines are queued as they arrive."""

    def __init__(self, fleet: Path, args: list[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._stderr = open(stderr_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "opsdash", "--config", str(fleet), "watch", *args],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, env={**os.environ},
            text=True,
        )
        _RUNNING_WATCHES.append(self.process)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next_event(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next NDJSON event (each line must be one complete JSON object)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no NDJSON line within {timeout:g}s; stderr: {self.stderr_text()[-2000:]}")
        self.seen.append(line)
        assert line.endswith("\n") and "\n" not in line[:-1]
        return json.loads(line)

    def drain(self) -> list[dict[str, Any]]:
        """Every line received so far and not yet read."""
        events = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return events
            self.seen.append(line)
            events.append(json.loads(line))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        rc = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        self._stderr.close()
        return rc

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")
