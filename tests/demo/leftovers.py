"""Find what a finished process left behind: live processes that inherited a marker, and temp files."""

from __future__ import annotations

import os
from pathlib import Path


def processes_with_marker(marker: str) -> list[int]:
    """PIDs of live processes whose environment contains ``marker`` (children inherit it)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if needle in environ and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


def leftover_files(directory: Path) -> list[str]:
    """Everything still inside ``directory``."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
