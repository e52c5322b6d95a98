"""`vaxkiosk`: one command over the programs (kiosk, central, provisioning), built from what is installed.

Each program declares its subcommands in modules with `add_commands(subparsers)`, which declare their arguments and
set `handler` (a function `args -> exit code`), listed in pyproject.toml under the entry-point group
"vaxkiosk.commands". This module knows none of them by name. They keep their heavy imports inside the handlers, so
that `vaxkiosk parse-id` does not pay for OpenCV or Flask.

Development tooling is not installed: `vaxkiosk demo` runs devtools/demo from a checkout, where devtools/ stands
next to the packages; anywhere else it says so.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata
from pathlib import Path

GROUP = "vaxkiosk.commands"
CHECKOUT = Path(__file__).resolve().parent.parent  # a checkout's root, when this file is a checkout's


def command(sub, name: str, summary: str, example: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does (`description`, else `summary`) and shows an example: every
    subcommand is made with this (tests/base/test_cli_help.py walks them all)."""
    return sub.add_parser(name, help=summary, description=description or summary[:1].upper() + summary[1:] + ".",
                          epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)


def add_demo_command(sub) -> None:
    p = command(sub, "demo", "a whole site on one machine: broker, central, two kiosks with simulated "
                             "cameras, virtual printers and scripted staff (loopback only; from a checkout)",
                "vaxkiosk demo --for 120")
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS",
                   help="run this long, drain the queues, print a summary; exit 0 only when it adds up")
    p.add_argument("--dir", help="an empty folder for the demo's files (default: a new folder in /tmp)")
    p.add_argument("--drain", type=float, default=90.0, metavar="SECONDS",
                   help="with --for: how long to wait for the queues to drain (default 90)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    if not (CHECKOUT / "devtools" / "demo").is_dir():
        print("vaxkiosk demo: the demo is development tooling and runs from a checkout of the vaxkiosk repository "
              "(git clone …, then `make demo` there); this installation has no devtools/ folder.", file=sys.stderr)
        return 2
    if str(CHECKOUT) not in sys.path:  # an editable install maps only the packages it installs
        sys.path.append(str(CHECKOUT))
    run = importlib.import_module("devtools.demo.run").run
    return run(args.dir, args.seconds, args.drain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaxkiosk", description="Check-in kiosk for vaccination sites.")
    parser.add_argument("--version", action="version", version=f"vaxkiosk {metadata.version('vaxkiosk')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in metadata.entry_points(group=GROUP):
        entry.load()(sub)
    add_demo_command(sub)
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
