"""Atomic edits of one key in a dotenv file: comments and other keys kept, a timestamped backup, and
either the whole new file or the untouched old one on disk, never half of each.

The write goes to a temp file in the same directory, is fsynced, then ``os.replace``d over the original.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dotenv.parser import parse_stream

from opsdash.config.envsource import DotenvFile, parse_dotenv_text
from opsdash.errors import OpsdashError

BeforeReplace = Callable[[Path], None]
"""Called with the fully written temp file just before it replaces the original (a test seam)."""

_BARE_SAFE = re.compile(r"^[A-Za-z0-9_./:@+,-]*$")
_LINE = re.compile(
    r"""^(?P<head>[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*)
        (?P<value>'(?:\\'|[^'])*'|"(?:\\"|[^"])*"|[^\s#'"]*)
        (?P<tail>[ \t]+\#[^\r\n]*|[ \t]*)(?P<eol>\r?\n?)$""",
    re.VERBOSE,
)


class EnvWriteError(OpsdashError):
    """A dotenv file could not be written; the original is unchanged."""


def quote_value(value: str) -> str:
    """A dotenv value that python-dotenv reads back as exactly ``value``."""
    if _BARE_SAFE.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _rewrite_line(original: str, key: str, value: str) -> str:
    """The binding line with its value replaced, keeping ``export``, spacing and an inline comment."""
    match = _LINE.match(original)
    if match is None or match["key"] != key:
        eol = "\n" if original.endswith("\n") else ""
        return f"{key}={quote_value(value)}{eol}"
    return f"{match['head']}{quote_value(value)}{match['tail']}{match['eol']}"


def set_key_in_text(text: str, key: str, value: str | None) -> str:
    """``text`` with ``key`` set to ``value`` (its last, effective, binding rewritten in place, or a line
    appended), or every binding of ``key`` removed when ``value`` is ``None``. Pure."""
    bindings = list(parse_stream(io.StringIO(text)))
    positions = [i for i, b in enumerate(bindings) if b.key == key and not b.error]
    parts = [b.original.string for b in bindings]
    if value is None:
        for i in positions:
            parts[i] = ""
        return "".join(parts)
    if positions:
        last = positions[-1]
        parts[last] = _rewrite_line(parts[last], key, value)
        return "".join(parts)
    joined = "".join(parts)
    if joined and not joined.endswith("\n"):
        joined += "\n"
    return f"{joined}{key}={quote_value(value)}\n"


def _backup_path(path: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        counter += 1
    return candidate


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_key(
    path: Path,
    key: str,
    value: str | None,
    *,
    backup: bool = True,
    before_replace: BeforeReplace | None = None,
    now: datetime | None = None,
) -> Path | None:
    """Set (or with ``None`` remove) ``key`` in the dotenv file at ``path`` atomically; returns the backup
    path. Raises :class:`EnvWriteError` with one clear line, leaving the original and its directory as
    they were (no temp file, no backup) on any failure."""
    target = Path(os.path.realpath(path))
    label = str(path)
    try:
        original = target.read_text(encoding="utf-8")
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        raise EnvWriteError(f"{label}: env file not found") from None
    except OSError as exc:
        raise EnvWriteError(f"{label}: cannot read env file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise EnvWriteError(
            f"{label}: env file is not UTF-8 text (byte {exc.start}); nothing changed"
        ) from None
    parse_dotenv_text(original, label)
    updated = set_key_in_text(original, key, value)
    if parse_dotenv_text(updated, label).get(key) != value and value is not None:
        raise EnvWriteError(f"{label}: {key} would not read back as written; nothing changed")

    tmp_name: str | None = None
    backup_path: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(updated)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if backup:
            backup_path = _backup_path(target, now or datetime.now(UTC))
            shutil.copy2(target, backup_path)
        if before_replace is not None:
            before_replace(Path(tmp_name))
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise EnvWriteError(
            f"{label}: cannot write env file in {target.parent} ({reason}); nothing changed"
        ) from None
    finally:
        if tmp_name is not None:
            _discard(Path(tmp_name))
            if backup_path is not None:
                _discard(backup_path)
    return backup_path


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class WritableDotenv(DotenvFile):
    """A tenant's dotenv file as an env source that can also be written."""

    kind = "dotenv"
    redeploy_applies = False

    def __init__(self, path: Path, *, before_replace: BeforeReplace | None = None) -> None:
        super().__init__(path)
        self.before_replace = before_replace

    def set(self, key: str, value: str | None) -> None:
        """Set ``key`` (``None`` removes it) atomically, keeping a timestamped backup."""
        write_key(self.path, key, value, before_replace=self.before_replace)

    def close(self) -> None:
        """Nothing to release; present so every writable env source can be closed alike."""
