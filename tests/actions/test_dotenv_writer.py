"""Dotenv edits keep everything else, and a failed write leaves the original file exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dotenv import dotenv_values

from opsdash.config.dotenv_writer import EnvWriteError, quote_value, set_key_in_text, write_key

ORIGINAL = (
    "# production env for acme\n"
    "export NODE_ENV=production\n"
    'CLOUDINARY_API_SECRET="s3cr#t value"\n'
    "\n"
    "# flags\n"
    "USE_DB_CLOUDINARY=true  # flipped in March\n"
    "USE_DB_WHATSAPP='false'\n"
)


def test_rewrites_the_value_in_place_keeping_comments_and_other_keys() -> None:
    out = set_key_in_text(ORIGINAL, "USE_DB_CLOUDINARY", "false")
    assert out == ORIGINAL.replace("USE_DB_CLOUDINARY=true  #", "USE_DB_CLOUDINARY=false  #")


def test_quoted_and_exported_values_are_rewritten_readably() -> None:
    out = set_key_in_text(ORIGINAL, "USE_DB_WHATSAPP", "true")
    assert "USE_DB_WHATSAPP=true\n" in out
    out = set_key_in_text(ORIGINAL, "NODE_ENV", "staging")
    assert "export NODE_ENV=staging\n" in out


def test_absent_key_is_appended_and_none_removes_it(tmp_path: Path) -> None:
    out = set_key_in_text(ORIGINAL.rstrip("\n"), "USE_DB_AUTH_CALLBACK", "true")
    assert out.endswith("USE_DB_WHATSAPP='false'\nUSE_DB_AUTH_CALLBACK=true\n")
    removed = set_key_in_text(ORIGINAL, "USE_DB_CLOUDINARY", None)
    assert "USE_DB_CLOUDINARY" not in removed
    assert "# flips" not in removed and "# flags\n" in removed


def test_the_last_binding_is_the_one_rewritten() -> None:
    text = "FLAG=true\nOTHER=1\nFLAG=true\n"
    assert set_key_in_text(text, "FLAG", "false") == "FLAG=true\nOTHER=1\nFLAG=false\n"


@pytest.mark.parametrize("value", ["true", "a b", 'quote"d', "back\\slash", "#hash", "", "multi\nline"])
def test_values_read_back_unchanged(tmp_path: Path, value: str) -> None:
    path = tmp_path / "x.env"
    path.write_text(set_key_in_text(ORIGINAL, "K", value), encoding="utf-8")
    assert dotenv_values(path)["K"] == value
    assert quote_value("true") == "true"


def test_write_key_is_atomic_and_keeps_a_timestamped_backup(tmp_path: Path) -> None:
    path = tmp_path / "acme.env"
    path.write_text(ORIGINAL, encoding="utf-8")
    os.chmod(path, 0o640)
    backup = write_key(path, "USE_DB_CLOUDINARY", "false")
    assert dotenv_values(path)["USE_DB_CLOUDINARY"] == "false"
    assert dotenv_values(path)["CLOUDINARY_API_SECRET"] == "s3cr#t value"
    assert backup is not None and backup.read_text(encoding="utf-8") == ORIGINAL
    assert backup.name.startswith("acme.env.") and backup.name.endswith(".bak")
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, backup.name])


def test_failure_between_temp_write_and_rename_leaves_the_original(tmp_path: Path) -> None:
    path = tmp_path / "acme.env"
    path.write_text(ORIGINAL, encoding="utf-8")
    seen: list[str] = []

    def crash(tmp: Path) -> None:
        seen.append(tmp.read_text(encoding="utf-8"))
        raise OSError(5, "Input/output error")

    with pytest.raises(EnvWriteError) as err:
        write_key(path, "USE_DB_CLOUDINARY", "false", before_replace=crash)
    assert "USE_DB_CLOUDINARY=false" in seen[0]
    assert path.read_text(encoding="utf-8") == ORIGINAL
    assert [p.name for p in tmp_path.iterdir()] == ["acme.env"]
    assert str(path) in str(err.value) and "nothing changed" in str(err.value)


def test_symlinked_env_file_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.env"
    real.write_text(ORIGINAL, encoding="utf-8")
    link = tmp_path / "link.env"
    link.symlink_to(real)
    write_key(link, "USE_DB_CLOUDINARY", "false", backup=False)
    assert link.is_symlink()
    assert dotenv_values(real)["USE_DB_CLOUDINARY"] == "false"


def _read_only_env_file() -> Path:
    """An env file whose directory nobody, root included, can create files in: a sysfs ``uevent``."""
    path = Path("/sys/class/net/lo/uevent")
    if not path.is_file():
        pytest.skip("no sysfs on this machine")
    return path


def test_read_only_directory_gives_a_clear_error_and_changes_nothing() -> None:
    path = _read_only_env_file()
    before = path.read_text(encoding="utf-8")
    with pytest.raises(EnvWriteError) as err:
        write_key(path, "USE_DB_CLOUDINARY", "true")
    message = str(err.value)
    assert message.startswith(f"{path}: cannot write env file in /sys/")
    assert "\n" not in message and "nothing changed" in message
    assert path.read_text(encoding="utf-8") == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith((".tmp", ".bak"))]


def test_missing_file_and_unparseable_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvWriteError, match="env file not found"):
        write_key(tmp_path / "nope.env", "K", "v")
    bad = tmp_path / "bad.env"
    bad.write_text("this is not dotenv\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a KEY=value line"):
        write_key(bad, "K", "v")
    assert bad.read_text(encoding="utf-8") == "this is not dotenv\n"


def test_a_file_that_is_not_utf8_is_refused_and_kept(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.env"
    latin1.write_bytes(b'NOTE="caf\xe9"\nK="old"\n')
    refusal = r"latin1.env: env file is not UTF-8 text \(byte 9\); nothing changed"
    with pytest.raises(EnvWriteError, match=refusal):
        write_key(latin1, "K", "v")
    assert latin1.read_bytes() == b'NOTE="caf\xe9"\nK="old"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["latin1.env"]
