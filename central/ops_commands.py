"""`vaxkiosk central password-hash`: a password hash for a [[users]] entry of the central config."""

from __future__ import annotations

import argparse
import getpass
import sys


def add_commands(sub) -> None:
    from central.registry_commands import central_subparsers

    from base.cli import command

    p = command(central_subparsers(sub), "password-hash",
                "print a password hash for a [[users]] entry of the central config",
                "vaxkiosk central password-hash --stdin < password.txt")
    p.add_argument("--stdin", action="store_true", help="read the password from stdin instead of asking")
    p.set_defaults(handler=cmd_password)


def cmd_password(args: argparse.Namespace) -> int:
    from werkzeug.security import generate_password_hash

    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("password: ")
    if len(password) < 10:
        print("vaxkiosk: use at least 10 characters", file=sys.stderr)
        return 1
    print(generate_password_hash(password))
    return 0
