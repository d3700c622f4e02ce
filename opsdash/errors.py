"""User-facing errors: one line, a named subject, a non-zero exit code, never a traceback."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class OpsdashError(Exception):
    """An error the operator can act on; the CLI prints ``str(err)`` on one line and exits."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(OpsdashError):
    """tenants.toml, an env file or a CLI argument is wrong."""


class ActionRefused(OpsdashError):
    """A write was refused by validation, preflight, role or conflict checks."""
