"""Subcommands of the operations side: `central-ops` (monitor + dashboard alone) and `central-password`."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading


def add_commands(sub) -> None:
    p = sub.add_parser("central-ops", help="run central's fleet monitor and operations dashboard")
    p.add_argument("--config", required=True, help="the central TOML file")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(handler=cmd_central_ops)

    p = sub.add_parser("central-password", help="print a password hash for a [[users]] entry of the central config")
    p.add_argument("--stdin", action="store_true", help="read the password from stdin instead of asking")
    p.set_defaults(handler=cmd_password)


def load_or_exit(path: str):
    from central.ops_config import load
    from kiosk.config import ConfigError

    try:
        return load(path)
    except ConfigError as exc:
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        sys.exit(78)


def cmd_central_ops(args: argparse.Namespace) -> int:
    from central.ops import OpsService

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = OpsService(load_or_exit(args.config))
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    service.start()
    print(f"dashboard listening on port {service.web_port}", flush=True)
    try:
        stopping.wait()
    finally:
        service.stop()
    return 0


def cmd_password(args: argparse.Namespace) -> int:
    from werkzeug.security import generate_password_hash

    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("password: ")
    if len(password) < 10:
        print("vaxkiosk: use at least 10 characters", file=sys.stderr)
        return 1
    print(generate_password_hash(password))
    return 0
