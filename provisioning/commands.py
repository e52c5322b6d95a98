"""Kiosk-side set-up subcommands: `vaxkiosk provision` and `vaxkiosk doctor`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from base.cli import command
from kiosk.commands import add_config_arg

KIOSK_SERVICES = ["vaxkiosk-kiosk.service", "vaxkiosk-browser.service"]


def add_commands(sub) -> None:
    p = command(sub, "provision", "enrol this kiosk with central and write its configuration",
                "vaxkiosk provision --central https://central.example.vn --code ABCD-EFGH --pin 3f9a…")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--code", help="one-time set-up code (with --central)")
    source.add_argument("--bundle", help="offline enrolment bundle file made by `vaxkiosk central enrol-bundle`")
    source.add_argument("--qr-text", help="the text of the enrolment QR (VXK1:ENROL:<url>|<code>)")
    p.add_argument("--central", help="central's address, e.g. https://central.example.vn (http only to this machine)")
    p.add_argument("--pin", default="", help="with --code: sha256 of central's public key (`vaxkiosk central "
                                             "enrol-code` prints it); central must present that key")
    p.add_argument("--ca", default="", help="PEM CA file central's certificate must chain to (default: the "
                                            "system's CAs; not needed with a pin)")
    add_config_arg(p)
    p.add_argument("--data-dir", default="/var/lib/vaxkiosk", help="where the kiosk keeps its data (new configs)")
    p.add_argument("--force", action="store_true", help="re-provision a kiosk that already has an identity")
    p.add_argument("--enable-services", action="store_true",
                   help="systemctl enable --now the kiosk services (only when systemd runs this machine)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_provision)

    p = command(sub, "doctor", "check camera, decoder, printer, broker, clock, disk and config",
                "vaxkiosk doctor --config /etc/vaxkiosk/kiosk.toml")
    add_config_arg(p)
    p.add_argument("--test-print", action="store_true", help="also print a test slip")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_doctor)


def systemd_running() -> bool:
    # sd_booted(): the documented test for "systemd is PID 1".
    return Path("/run/systemd/system").is_dir()


def enable_services() -> str:
    if not systemd_running():
        return "skipped: systemd is not running this machine (container or chroot); enable the services on the Pi"
    proc = subprocess.run(["systemctl", "enable", "--now", *KIOSK_SERVICES], capture_output=True, text=True)
    if proc.returncode:
        return f"failed: systemctl: {proc.stderr.strip()}"
    return "enabled and started: " + ", ".join(KIOSK_SERVICES)


def cmd_provision(args) -> int:
    from kiosk.config import resolve_path
    from kiosk.enrolment import EnrolError, enrol_from_bundle, enrol_from_code_text, enrol_with_code

    config_path = resolve_path(args.config)
    if args.pin and not args.code:
        print("vaxkiosk: --pin goes with --code (an enrolment QR carries its own)", file=sys.stderr)
        return 2
    try:
        if args.bundle:
            result = enrol_from_bundle(args.bundle, config_path, args.force, args.data_dir)
        elif args.qr_text:
            result = enrol_from_code_text(args.qr_text, config_path, args.force, args.data_dir, ca_file=args.ca)
        else:
            if not args.central:
                print("vaxkiosk: --code needs --central URL", file=sys.stderr)
                return 2
            result = enrol_with_code(args.central, args.code, config_path, args.force, args.data_dir,
                                     pin=args.pin, ca_file=args.ca)
    except EnrolError as exc:
        if args.json:
            print(json.dumps(exc.to_json(), ensure_ascii=False))
        else:
            print(f"vaxkiosk: {exc.message_vi}\n          {exc.message_en}" + (f" ({exc.detail})" if exc.detail
                                                                               else ""), file=sys.stderr)
        return 1
    services = enable_services() if args.enable_services else "not requested"
    if args.json:
        print(json.dumps({**result.to_json(), "services": services, "next": doctor_hint(config_path)},
                         ensure_ascii=False))
    else:
        print(f"Đã cài đặt / provisioned: kiosk {result.kiosk_id}, site {result.site_id} {result.site_name}")
        if result.central:
            print(f"central: {central_line(result.central)}")
        print(f"config: {result.config_path} (0600)   broker: {result.broker}")
        print(f"services: {services}")
        print(f"next: `{doctor_hint(config_path)}`")
    return 0


def doctor_hint(config_path: Path) -> str:
    """The check to run next, on the configuration provision just wrote (not whatever doctor would find alone)."""
    import shlex

    return f"vaxkiosk doctor --config {shlex.quote(str(Path(config_path).resolve()))}"


def central_line(central) -> str:
    """Who the kiosk enrolled with, in one line: the technician compares the key with the operator's printout."""
    from base.pinning import pin_groups

    how = {"pin": "key pinned by the code", "ca": f"certificate issued by {central.issuer}",
           "loopback": "this machine, plain http"}[central.verified]
    return f"{central.url}  ({how})" + (f"\n         key sha256: {pin_groups(central.pin)}" if central.pin else "")


def cmd_doctor(args) -> int:
    from provisioning.doctor import FAIL, report, run

    checks = run(args.config, args.test_print)
    failed = any(c.status == FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.to_json() for c in checks]}, ensure_ascii=False))
    else:
        print(report(checks))
    return 1 if failed else 0
