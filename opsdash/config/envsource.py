"""Env sources: where a tenant deployment's environment (flags and fallback values) lives."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from dotenv.parser import parse_stream

from opsdash.errors import ConfigError


class EnvSource(Protocol):
    """A tenant deployment's environment variables."""

    label: str

    def read(self) -> dict[str, str | None]:
        """All variables; a key declared without a value maps to ``None``."""
        ...


def parse_dotenv_text(text: str, label: str) -> dict[str, str | None]:
    """Parse dotenv text with python-dotenv's parser; a line it cannot parse is a ``ConfigError``."""
    values: dict[str, str | None] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise ConfigError(f"{label}:{binding.original.line}: not a KEY=value line")
        if binding.key is not None:
            values[binding.key] = binding.value
    return values


class DotenvFile:
    """A dotenv file, as a Vercel project's env would be exported with ``vercel env pull``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)

    def read(self) -> dict[str, str | None]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{self.label}: env file not found") from None
        except OSError as exc:
            raise ConfigError(f"{self.label}: cannot read env file ({exc.strerror})") from None
        return parse_dotenv_text(text, self.label)


class StaticEnv:
    """An in-memory environment, for tenants with no env file."""

    def __init__(self, values: Mapping[str, str | None], label: str = "<none>") -> None:
        self._values = dict(values)
        self.label = label

    def read(self) -> dict[str, str | None]:
        return dict(self._values)
