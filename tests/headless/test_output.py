"""Atomic file output: the target is replaced whole, and no temp file is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsdash.headless.output import write_atomic


def test_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "opsdash.prom"
    target.write_text("old\n")
    inode_before = os.stat(target).st_ino
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert os.stat(target).st_ino != inode_before
    assert [p.name for p in tmp_path.iterdir()] == ["opsdash.prom"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_failure_leaves_the_old_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "opsdash.prom"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        write_atomic(target, None)  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["opsdash.prom"]
