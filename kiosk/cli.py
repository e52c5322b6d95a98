"""`vaxkiosk`: one command, many subcommands.

Each subcommand lives next to the code it drives: a module in COMMAND_MODULES exposes `add_commands(subparsers)`,
which declares its arguments and sets `handler` (a function `args -> exit code`). Modules keep their heavy imports
inside the handlers so that `vaxkiosk parse-id` does not pay for OpenCV or Flask.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kiosk import __version__

COMMAND_MODULES = [
    "kiosk.commands",
    "kiosk.printing.commands",
    "kiosk.certificates.commands",
    "kiosk.scan_commands",
    "kiosk.staff_accounts",
    "kiosk.sms.commands",
    "central.commands",
    # After central.commands: adds the registry's subcommands under `vaxkiosk central`.
    "central.registry_commands",
    "provisioning.commands",
    "central.ops_commands",
    "kiosk.demo.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaxkiosk", description="Check-in kiosk for vaccination sites.")
    parser.add_argument("--version", action="version", version=f"vaxkiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
