"""Subcommand `vaxkiosk demo`."""

from __future__ import annotations


def add_commands(sub) -> None:
    p = sub.add_parser("demo", help="a whole site on one machine: broker, central, two kiosks with simulated "
                                    "cameras, virtual printers and scripted staff (loopback only)")
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS",
                   help="run this long, drain the queues, print a summary; exit 0 only when it adds up")
    p.add_argument("--dir", help="an empty folder for the demo's files (default: a new folder in /tmp)")
    p.add_argument("--drain", type=float, default=90.0, metavar="SECONDS",
                   help="with --for: how long to wait for the queues to drain (default 90)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from kiosk.demo.run import run

    return run(args.dir, args.seconds, args.drain)
