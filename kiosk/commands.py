"""Core subcommands: parse-id, kiosk, checkin."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from base.cli import command


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file (default: $VAXKIOSK_CONFIG or /etc/vaxkiosk/kiosk.toml)")


def parse_time(text: str) -> dt.datetime:
    """A command's `--at TIME`: ISO 8601, with a zone (`Z`, `+07:00`, `+0700`) or without one (then UTC)."""
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


def add_commands(sub) -> None:
    p = command(sub, "parse-id", "read a scanned ID-card code (argument, or raw bytes on stdin) and print JSON",
                "vaxkiosk parse-id '064195001234|245123456|Nguyễn Văn An|15081995|Nam|Gia Lai|01012021'")
    p.add_argument("text", nargs="?", help="the scanned text; without it, raw bytes are read from stdin")
    p.set_defaults(handler=cmd_parse_id)

    p = command(sub, "kiosk", "run the kiosk appliance",
                "vaxkiosk kiosk --config /etc/vaxkiosk/kiosk.toml",
                "Run the kiosk: scanners, printer, screens and the link to central. With no --config and no "
                "installed configuration (first boot) the screen asks for the set-up code instead; a --config that "
                "does not exist is an error (exit 78).")
    add_config_arg(p)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="how much the log says (default INFO)")
    p.set_defaults(handler=cmd_kiosk)

    p = command(sub, "checkin", "check a scanned code in to the local queue (no scanner needed)",
                "vaxkiosk checkin --config kiosk.toml < scanned-code.txt")
    add_config_arg(p)
    p.add_argument("text", nargs="?", help="the scanned text; without it, raw bytes are read from stdin")
    p.add_argument("--source", default="staff", choices=["camera", "serial", "screen", "staff"],
                   help="where the code was read, as the record keeps it (default staff)")
    p.set_defaults(handler=cmd_checkin)


def _read_input(text: str | None) -> bytes | str:
    return text if text is not None else sys.stdin.buffer.read()


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cmd_parse_id(args) -> int:
    from kiosk.identity import parse

    result = parse(_read_input(args.text))
    emit(result.to_json())
    return 0 if result.ok else 1


def load_config_or_exit(path: str | None):
    from base.config import ConfigError
    from kiosk.config import load

    try:
        return load(path)
    except ConfigError as exc:
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        sys.exit(78)  # EX_CONFIG: systemd shows it, and Restart= does not loop on a broken file forever


def cmd_kiosk(args) -> int:
    import os

    from kiosk import first_boot
    from kiosk.app import App
    from kiosk.config import DEFAULT_PATH, ENV_VAR, resolve_path

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = resolve_path(args.config)
    if (args.config or os.environ.get(ENV_VAR)) and not path.exists():
        # A named file that is not there is a typo or a missing mount, not a fresh kiosk: set-up mode would
        # enrol the kiosk again under a new identity. Set-up mode is for the installed default only.
        print(f"vaxkiosk: configuration error: {path}: no such configuration file (set-up mode starts only "
              f"when no --config or ${ENV_VAR} is given and {DEFAULT_PATH} does not exist)", file=sys.stderr)
        return 78
    if first_boot.needs_enrolment(path):
        # A fresh kiosk: the screen asks for the set-up code; once enrolled, this process becomes the kiosk.
        return first_boot.run(path, sys.argv[1:])
    return App(load_config_or_exit(args.config)).run_forever()


def cmd_checkin(args) -> int:
    from base.privacy import mask_id
    from base.refusal import Refusal
    from kiosk.checkin import CheckinService
    from kiosk.identity import Identity, parse
    from kiosk.store import Store

    config = load_config_or_exit(args.config)
    result = parse(_read_input(args.text))
    if not isinstance(result, Identity):
        emit(result.to_json() if not result.ok else {"ok": False, "error": {"code": "not_an_id_card"}})
        return 1
    store = Store(config.db_path)
    try:
        outcome = CheckinService(store, config.kiosk).check_in(result, args.source)
    except Refusal as exc:  # a refused check-in, or an entry that is not the person holding the number today
        emit(exc.to_json())
        return 1
    finally:
        store.close()
    row = outcome.checkin
    emit({"ok": True, "created": outcome.created, "checkin_id": row["id"], "ticket": row["number"],
          "day": row["day"], "id_number": mask_id(row["id_number"]), "state": row["state"]})
    return 0
