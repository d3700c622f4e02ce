"""Env sources: where a tenant deployment's environment (flags and fallback values) lives."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from dotenv.parser import parse_stream

from opsdash.errors import ConfigError

FileStamp = tuple[int, int, int, int]
EnvValues = dict[str, str | None]


def file_stamp(path: os.PathLike[str] | str) -> FileStamp | None:
    """What changes whenever a file is rewritten or replaced; None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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
        return parse_dotenv_text(self.read_text(), self.label)

    def read_text(self) -> str:
        """The file's text; a ``ConfigError`` naming the file if it cannot be read or is not UTF-8."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{self.label}: env file not found") from None
        except OSError as exc:
            raise ConfigError(f"{self.label}: cannot read env file ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{self.label}: env file is not UTF-8 text (byte {exc.start})") from None
        except ValueError as exc:
            raise ConfigError(f"{self.label}: cannot read env file ({exc})") from None


class StaticEnv:
    """An in-memory environment, for tenants with no env file."""

    def __init__(self, values: Mapping[str, str | None], label: str = "<none>") -> None:
        self._values = dict(values)
        self.label = label

    def read(self) -> dict[str, str | None]:
        return dict(self._values)


def read_texts_bounded(
    files: Sequence[DotenvFile], timeout_s: float
) -> list[tuple[FileStamp | None, str] | Exception]:
    """Each file's stamp (taken before it is read) and text, or why it could not be read (a
    ``ConfigError``, or whatever else the read raised, for the caller to raise); read in order by one
    daemon thread.

    A file that keeps the thread for ``timeout_s`` (``2 * timeout_s`` at most: progress is looked at once
    per ``timeout_s``), as one on a hung mount does, is a ``ConfigError`` naming it, instead of a process
    that never gets past loading its fleet; the thread, a daemon, never holds up the process's exit.
    """
    texts: list[tuple[FileStamp | None, str] | Exception] = []
    finished = threading.Event()

    def read_all() -> None:
        for file in files:
            try:
                stamp = file_stamp(file.path)
                texts.append((stamp, file.read_text()))
            except Exception as exc:
                texts.append(exc)
        finished.set()

    threading.Thread(target=read_all, name="opsdash-env-read", daemon=True).start()
    seen = 0
    while not finished.wait(timeout_s):
        if len(texts) == seen:
            stuck = files[seen].label
            raise ConfigError(f"{stuck}: env file did not answer in {timeout_s:g} s (a hung mount?)")
        seen = len(texts)
    return texts
