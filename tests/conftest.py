"""Shared fixtures: a real MongoDB wire-protocol server, per-test databases and fleet files."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from opsdash.testing.mongo_server import SecantusServer, database_url, external_mongo_url

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """Base URL of a real server: ``$OPSDASH_TEST_MONGO_URL`` or a SecantusDB child process."""
    external = external_mongo_url()
    if external:
        yield external
        return
    with SecantusServer() as server:
        yield server.url


@pytest.fixture
def db_url(mongo_url: str) -> str:
    """A URL for a database no other test uses."""
    return database_url(mongo_url, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep opsdash's results store and local audit log inside the test's temp dir."""
    path = tmp_path / "state"
    monkeypatch.setenv("OPSDASH_STATE_DIR", str(path))
    return path


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_opsdash(args: Sequence[str], *, env: dict[str, str] | None = None, input: str | None = None,
                cwd: Path | None = None, timeout: float = 60) -> CliResult:
    """Run ``python -m opsdash ARGS`` as a real process, the way an operator would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "opsdash", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input if input is not None else "",
        cwd=cwd,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> object:
    """The ``run_opsdash`` helper, as a fixture."""
    return run_opsdash
