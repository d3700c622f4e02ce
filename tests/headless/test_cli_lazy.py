"""The lazy command line: only the invoked command's module loads, and every help text stays as it was."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from opsdash import cli
from tests.conftest import CliResult
from tests.headless.conftest import canary_company, make_fleet


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def eager_commands() -> list[tuple[str, str | None]]:
    """(command, help) as the command modules themselves register them, in COMMAND_MODULES order."""
    return [(a.dest, a.help) for a in subcommands(cli.build_parser(lazy=False))._choices_actions]


def printed(parser: argparse.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What parsing ``argv`` prints (help or a usage error) before argparse exits."""
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    captured = capsys.readouterr()
    return captured.out + captured.err


@pytest.fixture(autouse=True)
def fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def test_every_command_module_has_its_help_lines_in_the_table() -> None:
    for module_name in cli.COMMAND_MODULES:
        parser = argparse.ArgumentParser(prog="opsdash")
        registered = parser.add_subparsers(dest="command")
        importlib.import_module(module_name).register(registered)
        actual = tuple((a.dest, a.help) for a in registered._choices_actions)
        assert cli.COMMAND_HELP.get(module_name) == actual, f"update cli.COMMAND_HELP for {module_name}"


def test_top_level_help_lists_every_command(cli: object) -> None:
    result: CliResult = cli(["--help"], env={"COLUMNS": "100"})  # type: ignore[operator]
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and
              not line.startswith("     ")]
    assert listed == [name for name, _ in eager_commands()]
    assert "check        run every check once" in result.stdout
    assert "redeploy     redeploy a Vercel tenant's current production deployment" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["bogus"], ["--config"], ["--read-only", "--bogus", "check"], ["check", "--format", "nope"],
     ["config", "show", "--help"], ["config", "check", "--help"], ["flag"], ["edit", "x"]]
    + [[name, "--help"] for commands in cli.COMMAND_HELP.values() for name, _ in commands],
)
def test_lazy_parser_prints_exactly_what_the_eager_one_does(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    eager = printed(cli.build_parser(lazy=False), argv, capsys)
    lazy = printed(cli.build_parser(), argv, capsys)
    assert eager and lazy == eager


def test_a_parsed_command_carries_its_real_arguments() -> None:
    args = cli.build_parser().parse_args(["--read-only", "check", "--tenant", "a", "--format", "json"])
    assert (args.command, args.tenant, args.format, args.read_only) == ("check", ["a"], "json", True)
    assert args.func.__module__ == "opsdash.headless.check"
    args = cli.build_parser().parse_args(["redeploy", "acme", "--reason", "r"])
    assert args.command == "redeploy" and args.func.__module__ == "opsdash.commands.flag"


def test_a_module_missing_from_the_table_is_still_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_HELP", {})
    assert [(a.dest, a.help) for a in subcommands(cli.build_parser())._choices_actions] == eager_commands()


LOADED_PROBE = """\
import sys
from opsdash.cli import main
rc = main(sys.argv[1:])
unwanted = ("textual", "opsdash.actions", "opsdash.commands", "opsdash.screens", "opsdash.alerts",
            "opsdash.headless.watch", "opsdash.demo", "opsdash.headless.formats.json",
            "opsdash.headless.formats.nagios", "opsdash.headless.formats.prometheus", "platformdirs")
loaded = sorted(m for m in sys.modules if any(m == u or m.startswith(u + ".") for u in unwanted))
if "Company" in vars(sys.modules["opsdash.config.company"]):
    loaded.append("the Company model")
print("RC", rc, "LOADED", loaded, file=sys.stderr)
"""


def test_check_imports_only_what_it_needs(tmp_path: Path, mongo_url: str, state_dir: Path) -> None:
    fleet = make_fleet(tmp_path, mongo_url, {"solo": [canary_company("solo")]})
    proc = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, "--config", str(fleet), "check", "--check", "db"],
        capture_output=True, text=True, timeout=60,
    )
    assert "RC 0 LOADED []" in proc.stderr, proc.stderr


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\nfrom opsdash.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('opsdash.') and m not in "
        "('opsdash.cli', 'opsdash.errors')), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr.strip() == "[]", proc.stderr


GC_PROBE = """\
import gc, sys
from opsdash.cli import imports_without_collection, parse
with imports_without_collection():
    paused = not gc.isenabled()
    args, func = parse(['--config', 'x.toml', 'check', '--tenant', 'a'])
print(paused, gc.isenabled(), gc.get_freeze_count() > 1000, func.__module__)
try:
    with imports_without_collection():
        parse(['bogus'])
except SystemExit:
    print(gc.isenabled())
"""


def test_the_collector_pauses_for_imports_and_resumes_for_the_command() -> None:
    proc = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["True", "True", "True", "opsdash.headless.check", "True"], proc.stderr
