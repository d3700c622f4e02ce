"""tenants.toml is validated up front: each bad file gets one line naming the problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsdash.config.fleet import load_fleet

GOOD_ENV = 'DATABASE_URL="mongodb://app:s3cret@127.0.0.1:27017/acme"\nUSE_DB_WHATSAPP="true"\n'


def write(tmp_path: Path, toml: str, envs: dict[str, str] | None = None) -> Path:
    for name, text in (envs or {"acme.env": GOOD_ENV}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "tenants.toml"
    path.write_text(toml)
    return path


def assert_refused(cli: object, path: Path, *needles: str) -> str:
    result = cli(["--config", str(path), "config", "check"])  # type: ignore[operator]
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]


def test_good_file_passes(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n')
    result = cli(["--config", str(path), "config", "check"])  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    assert "1 tenants" in result.stdout


def test_toml_syntax_error_names_the_line(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ntags = [\n\n"x" "y"]\n')
    assert_refused(cli, path, "tenants.toml", "invalid TOML", "line 6")


def test_unknown_key_names_tenant_and_key(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ndatabse_url = "x"\n')
    assert_refused(cli, path, "tenant 'acme'", "unknown key 'databse_url'")


def test_unknown_top_level_key(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[pol]\ndb_interval = 5\n')
    assert_refused(cli, path, "unknown key 'pol'")


def test_duplicate_tenant_name(tmp_path: Path, cli: object) -> None:
    toml = (
        '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
        '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ndatabase_url = "mongodb://h:1/other"\n'
    )
    assert_refused(cli, write(tmp_path, toml), "duplicate tenant name 'acme'")


def test_two_tenants_on_the_same_cluster_and_database(tmp_path: Path, cli: object) -> None:
    toml = (
        '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
        '[[tenants]]\nname = "globex"\nenv_file = "acme.env"\n'
        'database_url = "mongodb://other:pw@127.0.0.1:27017/acme?retryWrites=true"\n'
    )
    line = assert_refused(cli, write(tmp_path, toml), "'acme'", "'globex'", "isolation breach")
    assert "s3cret" not in line and "pw@" not in line


def test_database_url_that_will_not_parse(tmp_path: Path, cli: object) -> None:
    toml = '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ndatabase_url = "postgres://u:hunter22@h/db"\n'
    line = assert_refused(cli, write(tmp_path, toml), "tenant 'acme'", "DATABASE_URL does not parse")
    assert "hunter22" not in line


def test_database_url_without_database_name(tmp_path: Path, cli: object) -> None:
    toml = '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ndatabase_url = "mongodb://127.0.0.1:27017/"\n'
    assert_refused(cli, write(tmp_path, toml), "tenant 'acme'", "names no database")


def test_unset_variable_reference(tmp_path: Path, cli: object) -> None:
    toml = '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\ndatabase_url = "${ACME_MONGO_URL_UNSET}"\n'
    assert_refused(cli, write(tmp_path, toml), "tenant 'acme'", "${ACME_MONGO_URL_UNSET}", "unset")


def test_missing_env_file(tmp_path: Path, cli: object) -> None:
    toml = '[[tenants]]\nname = "acme"\nenv_file = "nope.env"\n'
    assert_refused(cli, write(tmp_path, toml), "nope.env", "env file not found")


def test_files_that_are_not_utf8_are_named(tmp_path: Path, cli: object) -> None:
    toml = '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
    path = write(tmp_path, toml, {"acme.env": GOOD_ENV})
    (tmp_path / "acme.env").write_bytes(GOOD_ENV.encode() + b"NOTE=caf\xe9\n")
    assert_refused(cli, path, "acme.env: env file is not UTF-8 text (byte ")
    path.write_bytes(b"# caf\xe9\n" + toml.encode())
    assert_refused(cli, path, "tenants.toml: not UTF-8 text (byte 5)")


def test_an_env_file_name_no_file_can_have_is_one_line(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "acme"\nenv_file = "ac\\u0000me.env"\n')
    assert_refused(cli, path, "ac\x00me.env: cannot read env file (embedded null byte)")


def test_env_file_line_that_does_not_parse_names_file_and_line(tmp_path: Path, cli: object) -> None:
    envs = {"acme.env": GOOD_ENV + "this is not dotenv\n"}
    toml = '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
    assert_refused(cli, write(tmp_path, toml, envs), "acme.env:3", "not a KEY=value line")


def test_bad_slug_and_bad_type(tmp_path: Path, cli: object) -> None:
    assert_refused(cli, write(tmp_path, '[[tenants]]\nname = "Acme Corp"\n'), "name", "slug")
    assert_refused(cli, write(tmp_path, '[poll]\ndb_interval = "fast"\n'), "poll.db_interval")


def test_unknown_service_override(tmp_path: Path, cli: object) -> None:
    assert_refused(cli, write(tmp_path, '[services.fax]\nflag = "USE_DB_FAX"\n'), "[services.fax]")


def test_missing_config_file(tmp_path: Path, cli: object) -> None:
    result = cli(["--config", str(tmp_path / "absent.toml"), "config", "check"])  # type: ignore[operator]
    assert result.returncode == 2 and "absent.toml: config file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_variable_references_resolve_from_env_file_then_process_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOBEX_URL", "mongodb://127.0.0.1:27017/globex")
    toml = (
        '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
        '[[tenants]]\nname = "globex"\nenv_file = "acme.env"\ndatabase_url = "${GLOBEX_URL}"\n'
    )
    fleet = load_fleet(write(tmp_path, toml))
    acme, globex = fleet.tenants
    assert acme.mongo.database == "acme" and acme.mongo.password == "s3cret"
    assert acme.mongo.display == "127.0.0.1:27017/acme"
    assert globex.mongo.database == "globex"


def test_service_overrides_rename_flags_and_env_vars(tmp_path: Path) -> None:
    toml = (
        '[services.cloudinary]\nflag = "USE_DB_CLD"\nenv = { cloudinaryCloudName = "CLD_NAME" }\n'
        '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n'
    )
    fleet = load_fleet(write(tmp_path, toml))
    spec = fleet.catalog["cloudinary"]
    assert spec.flag == "USE_DB_CLD"
    assert spec.env_name("cloudinaryCloudName") == "CLD_NAME"
    assert spec.env_name("cloudinaryApiKey") == "CLOUDINARY_API_KEY"


def test_config_found_through_env_var(tmp_path: Path, cli: object) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "acme"\nenv_file = "acme.env"\n')
    result = cli(["config", "check"], env={"OPSDASH_CONFIG": str(path)}, cwd=tmp_path.parent)  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
