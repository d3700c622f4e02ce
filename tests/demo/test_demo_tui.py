"""``opsdash demo`` in a real terminal (tmux): it opens the dashboard, and every way out cleans up."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .leftovers import leftover_files, processes_with_marker
from .tmux import TmuxPane

REPO_ROOT = Path(__file__).resolve().parents[2]
MARKER_VAR = "OPSDASH_TEST_MARKER"


def readme_first_command() -> str:
    """The first command of the README's opening code block, without its comment."""
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md opens with no ```sh block"
    return block[1].splitlines()[0].split("#")[0].strip()


def demo_ports(tmpdir: Path) -> set[int]:
    """Every loopback port the running demo wrote into its tenants.toml and env files."""
    ports: set[int] = set()
    for path in tmpdir.rglob("*"):
        if path.suffix in {".toml", ".env"}:
            text = path.read_text()
            ports |= {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)}
            ports |= {int(p) for p in re.findall(r'SMTP_PORT="(\d+)"', text)}
    return ports


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Demo:
    def __init__(self, tmp_path: Path, command: str) -> None:
        self.marker = uuid.uuid4().hex
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()
        env = {
            MARKER_VAR: self.marker,
            "TMPDIR": str(self.tmpdir),
            "TERM": "xterm-256color",
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
        }
        self.pane = TmuxPane(command, env=env, cwd=REPO_ROOT)

    def wait_for_dashboard(self, timeout: float = 120) -> str:
        return self.pane.wait_for_text("opsdash", "acme", "hangar", "CRIT", timeout=timeout)

    def assert_nothing_left(self) -> None:
        self.pane.wait_for(self.pane.dead, 30, "opsdash to exit")
        self.pane.wait_for(lambda: not processes_with_marker(self.marker), 15, "demo servers to stop")
        assert leftover_files(self.tmpdir) == []


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path, f"{sys.executable} -m opsdash demo")
    try:
        yield running
    finally:
        running.pane.kill()


def test_readme_first_command_opens_the_dashboard_on_the_demo_fleet(tmp_path: Path) -> None:
    command = readme_first_command()
    assert command == "scripts/demo"
    exit_status = tmp_path / "exit-status"
    # The shell records the command's exit status: tmux sometimes leaves the exited process unreaped
    # (a zombie whose status it never reports), seen on this machine with tmux's own pane_dead_status.
    running = Demo(tmp_path, "sh -c " + shlex.quote(f"{command}; echo $? > {exit_status}"))
    try:
        screen = running.wait_for_dashboard(timeout=600)
        assert "✗ CRIT" in screen and "downtown" in screen
        running.pane.send("q")
        running.assert_nothing_left()
        assert exit_status.read_text().strip() == "0"
    finally:
        running.pane.kill()


@pytest.mark.parametrize("how", ["q", "ctrl-c", "sigterm"])
def test_every_way_out_leaves_no_process_port_or_temp_file(demo: Demo, how: str) -> None:
    demo.wait_for_dashboard()
    ports = demo_ports(demo.tmpdir)
    assert len(ports) >= 6
    assert processes_with_marker(demo.marker)
    if how == "q":
        demo.pane.send("q")
    elif how == "ctrl-c":
        demo.pane.send("C-c")
    else:
        os.kill(demo.pane.pid(), signal.SIGTERM)
    demo.assert_nothing_left()
    assert all(refuses(port) for port in ports), sorted(p for p in ports if not refuses(p))
