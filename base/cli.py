"""`vaxkiosk`: one command over the programs (kiosk, central, provisioning), built from what is installed.

Each program declares its subcommands in modules with `add_commands(subparsers)`, which declare their arguments and
set `handler` (a function `args -> exit code`), listed in pyproject.toml under the entry-point group
"vaxkiosk.commands". This module knows none of them by name. They keep their heavy imports inside the handlers, so
that `vaxkiosk parse-id` does not pay for OpenCV or Flask.

Development tooling is not installed: `vaxkiosk demo` runs from a checkout, where devtools/ stands next to the
packages; anywhere else it says so.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata
from pathlib import Path

GROUP = "vaxkiosk.commands"
CHECKOUT = Path(__file__).resolve().parent.parent
CHECKOUT_TOOLS = "devtools"


def add_checkout_commands(sub) -> None:
    if (CHECKOUT / CHECKOUT_TOOLS / "commands.py").is_file():
        if str(CHECKOUT) not in sys.path:  # an editable install maps only the packages it installs
            sys.path.append(str(CHECKOUT))
        importlib.import_module(f"{CHECKOUT_TOOLS}.commands").add_commands(sub)
        return
    p = sub.add_parser("demo", help="a whole site on one machine (runs from a checkout of the repository)")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=_demo_needs_a_checkout)


def _demo_needs_a_checkout(args) -> int:
    print("vaxkiosk demo: the demo is development tooling and runs from a checkout of the vaxkiosk repository "
          "(git clone …, then `make demo` there); this installation has no devtools/ folder.", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaxkiosk", description="Check-in kiosk for vaccination sites.")
    parser.add_argument("--version", action="version", version=f"vaxkiosk {metadata.version('vaxkiosk')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in metadata.entry_points(group=GROUP):
        entry.load()(sub)
    add_checkout_commands(sub)
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
