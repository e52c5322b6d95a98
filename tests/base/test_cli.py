"""`vaxkiosk` is assembled from the installed programs' commands, and the demo from a checkout only."""

from __future__ import annotations

import pytest

from base import cli


def subcommands(parser) -> set[str]:
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_every_program_adds_its_subcommands_and_a_checkout_adds_the_demo():
    assert {"parse-id", "kiosk", "checkin", "print-sample", "verify-cert", "decode", "staff", "central", "provision",
            "doctor", "demo"} <= subcommands(cli.build_parser())


def test_outside_a_checkout_the_demo_says_where_it_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "CHECKOUT", tmp_path)  # an installed wheel: no devtools/ beside the packages
    assert cli.main(["demo", "--for", "30"]) == 2
    assert "runs from a checkout" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--version"], ["central", "--help"]])
def test_the_command_answers_without_running_anything(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0 and capsys.readouterr().out
