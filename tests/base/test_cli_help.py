"""Every `vaxkiosk` subcommand's --help explains itself: a description, an example, and help for every option and
argument (issue 18, point 13). Walks the real parser, as installed from pyproject.toml's entry points."""

from __future__ import annotations

import argparse

from base.cli import build_parser
from tests.conftest import vaxkiosk


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield path + (name,), sub
                yield from subcommands(sub, path + (name,))


def test_every_subcommand_has_a_description_an_example_and_help_for_every_option():
    found = list(subcommands(build_parser()))
    assert len(found) >= 25  # kiosk, central, provisioning and their nested commands are all there
    problems = []
    for path, parser in found:
        where = "vaxkiosk " + " ".join(path)
        if not parser.description:
            problems.append(f"{where}: no description")
        if not parser.epilog or "example" not in parser.epilog or "vaxkiosk " + path[0] not in parser.epilog:
            problems.append(f"{where}: no example")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{where}: {'/'.join(action.option_strings) or action.dest} has no help")
    assert problems == []


def test_staff_alone_prints_the_staff_help():
    proc = vaxkiosk("staff")
    assert proc.returncode == 2
    text = proc.stderr.decode()
    assert "usage: vaxkiosk staff" in text and "unlock" in text and "reset-pin" in text and "remove" in text
    assert "parse-id" not in text  # not the top-level help


def test_a_named_configuration_that_is_missing_is_an_error_not_set_up_mode(tmp_path):
    """`vaxkiosk kiosk --config MISSING.toml` must not start set-up mode (which would enrol the kiosk anew): exit 78
    (EX_CONFIG, which systemd does not restart) with the path in the message. Set-up mode stays for a kiosk whose
    file has no identity yet (tests/provisioning/test_first_boot.py)."""
    missing = tmp_path / "typo" / "kiosk.toml"
    proc = vaxkiosk("kiosk", "--config", str(missing), timeout=30)
    assert proc.returncode == 78
    assert f"{missing}: no such configuration file" in proc.stderr.decode()
    assert not missing.parent.exists()  # nothing written, no set-up screen started
    proc = vaxkiosk("kiosk", timeout=30, env={"VAXKIOSK_CONFIG": str(missing)})
    assert proc.returncode == 78
