"""On a terminal: secrets are typed without echo, the diff is shown and the operator is asked."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from dotenv import dotenv_values

from tests.actions.conftest import CANARY_NEW, TwoTenants

DEADLINE_S = 60.0


class Terminal:
    """``python -m opsdash ARGS`` on a pseudo-terminal, driven prompt by prompt."""

    def __init__(self, args: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execvpe(sys.executable, [sys.executable, "-m", "opsdash", *args], dict(os.environ))
        self.output = b""

    def _read(self, until: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:
            return False
        self.output += chunk
        return bool(chunk)

    def expect(self, text: str) -> None:
        until = time.monotonic() + DEADLINE_S
        while text.encode() not in self.output:
            assert time.monotonic() < until, f"no {text!r} in {self.output!r}"
            assert self._read(until), f"exited before {text!r}: {self.output!r}"

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self) -> tuple[int, str]:
        until = time.monotonic() + DEADLINE_S
        while time.monotonic() < until and self._read(until):
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status), self.output.decode(errors="replace")


def test_secret_is_typed_without_echo_and_the_diff_confirmed(two_tenants: TwoTenants) -> None:
    term = Terminal(["--config", str(two_tenants.path), "edit", "acme", "smtpPass", "smtpHost=mx.example",
                     "--reason", "rotate"])
    term.expect("smtpPass (input hidden): ")
    term.send(CANARY_NEW)
    term.expect("Apply these changes? [y/N] ")
    term.send("y")
    code, output = term.finish()
    assert code == 0, output
    assert CANARY_NEW not in output
    assert "smtpPass  <set sha256:" in output and "'mx.example'" in output
    doc = two_tenants.company("acme")
    assert (doc["smtpPass"], doc["smtpHost"]) == (CANARY_NEW, "mx.example")


def test_answering_no_writes_nothing(two_tenants: TwoTenants) -> None:
    term = Terminal(["--config", str(two_tenants.path), "flag", "acme", "cloudinary", "env", "--reason", "r"])
    term.expect("Write this flag? [y/N] ")
    term.send("n")
    code, output = term.finish()
    assert code == 2 and "not confirmed" in output
    assert dotenv_values(two_tenants.env_files["acme"])["USE_DB_CLOUDINARY"] == "true"
