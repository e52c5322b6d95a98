"""Subcommand `vaxkiosk central`, with the registry's and the dashboard's subcommands under it."""

from __future__ import annotations

import logging
import sys


def add_commands(sub) -> None:
    from base.cli import command

    p = command(sub, "central", "run central: the aggregator (ingest) and the operations web app",
                "vaxkiosk central --config /etc/vaxkiosk/central.toml",
                "Run central (ingest from the kiosks' broker and, when this process binds its port, the operations "
                "dashboard), or one of the registry commands below.")
    p.add_argument("--config", help="TOML file (default: $VAXKIOSK_CENTRAL_CONFIG or /etc/vaxkiosk/central.toml)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="how much the log says (default INFO)")
    p.set_defaults(handler=cmd_central)
    from central import ops_commands, registry_commands

    registry_commands.add_commands(sub)
    ops_commands.add_commands(sub)


def cmd_central(args) -> int:
    from base.config import ConfigError
    from central.app import CentralApp
    from central.config import load

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        return 78
    try:
        return CentralApp(config).run_forever()
    except ConfigError as exc:  # a part's own sections (e.g. [[sites]]) are validated when the part is built
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        return 78
