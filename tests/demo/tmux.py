"""Drive a program in a real terminal: a private tmux server, send-keys in, capture-pane out."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path


class TmuxPane:
    """One detached tmux session on its own server socket, running one command."""

    def __init__(self, command: str, *, env: Mapping[str, str], cwd: Path, width: int = 80, height: int = 24):
        self.socket = f"opsdash-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._tmux(
            "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "-c", str(cwd),
            f"exec env {exports} {command}",
        )
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True)
        return proc.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def dead(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "t", "#{pane_dead}").strip() == "1"

    def exit_status(self) -> int:
        """The dead pane's exit code, or minus the signal that killed it."""
        fields = "#{pane_dead_status} #{pane_dead_signal}"
        status: list[str] = []

        def reaped() -> bool:
            status[:] = self._tmux("display-message", "-p", "-t", "t", fields).split()
            return bool(status)

        self.wait_for(reaped, 30, "tmux to report the exit status")
        code = int(status[0])
        return -int(status[1]) if len(status) > 1 and status[1] != "0" else code

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``predicate`` until it holds; fail with the screen if ``timeout`` passes first."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def wait_for_text(self, *needles: str, timeout: float = 60) -> str:
        self.wait_for(lambda: all(n in self.screen() for n in needles), timeout, f"{needles!r} on screen")
        return self.screen()

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
