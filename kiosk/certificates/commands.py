"""Certificate subcommand: verify-cert (any DCC issuer, offline). A sample to verify comes from
`vaxkiosk print-sample --kind certificate` (kiosk.printing.commands), signed with this machine's key."""

from __future__ import annotations

import sys

from kiosk.commands import emit, parse_time


def add_commands(sub) -> None:
    from base.cli import command

    p = command(sub, "verify-cert", "verify a vaccination certificate (HC1: text or a QR image); JSON out, "
                                    "exit 0 only when valid", "vaxkiosk verify-cert --image certificate.png")
    p.add_argument("--config", help="TOML file whose data dir holds the key and trust list (default: the installed "
                                    "one, else $VAXKIOSK_DATA or ~/.local/share/vaxkiosk)")
    p.add_argument("--trust", action="append", default=[], metavar="FILE",
                   help="PEM file of DCC signing certificates to trust as well (repeatable)")
    p.add_argument("--at", metavar="TIME", type=parse_time, help="validation clock, ISO 8601 (default: now)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", help="the HC1: text")
    source.add_argument("--image", metavar="FILE", help="an image with the certificate QR code")
    p.set_defaults(handler=cmd_verify_cert)


def _data_dir(config: str | None):
    from base.config import ConfigError
    from kiosk.config import command_data_dir

    try:
        return command_data_dir(config)
    except ConfigError as exc:
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        sys.exit(78)


def cmd_verify_cert(args) -> int:
    from kiosk.certificates import hcert, read_qr_image
    from kiosk.certificates.trustlist import trust_store

    text = args.text
    if args.image:
        text = read_qr_image(args.image)
        if text is None:
            emit({"valid": False, "reason": "no_qr_in_image", "name": None, "dob": None, "doses": [], "kid": None,
                  "issued": None})
            return 1
    try:
        trust = trust_store(_data_dir(args.config), args.trust)
    except (OSError, ValueError) as exc:
        print(f"vaxkiosk: cannot read the trust files: {exc}", file=sys.stderr)
        return 2
    result = hcert.verify(text, trust, args.at)
    emit(result.to_json())
    return 0 if result.valid else 1
