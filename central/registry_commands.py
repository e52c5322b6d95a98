"""`vaxkiosk central <add-site | enrol-code | enrol-bundle | revoke | devices | broker-config>`: registry operations.

These are subcommands of `vaxkiosk central`; `central_subparsers` finds that command's sub-parsers or creates them,
so the aggregator's own `vaxkiosk central ...` commands (branch sync) can live in another module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys

DEFAULT_BROKER_DIR = "/var/lib/vaxkiosk-central/broker"
DEFAULT_PID_FILE = "/run/mosquitto/mosquitto.pid"


def central_subparsers(sub):
    """The sub-parsers of `vaxkiosk central`, shared by every module that adds central subcommands."""
    central = sub.choices.get("central")
    if central is None:
        central = sub.add_parser("central", help="central aggregator and device registry")
    for action in central._actions:  # argparse has no public accessor for an existing subparsers action
        if isinstance(action, argparse._SubParsersAction):
            return action
    return central.add_subparsers(dest="central_command", metavar="CENTRAL_COMMAND")


def _registry_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", default=os.environ.get("VAXKIOSK_REGISTRY", "/var/lib/vaxkiosk-central/registry.db"),
                   help="registry SQLite file (default: $VAXKIOSK_REGISTRY or %(default)s)")
    p.add_argument("--broker-dir", default=os.environ.get("VAXKIOSK_BROKER_DIR", DEFAULT_BROKER_DIR),
                   help="where the Mosquitto password file and ACL are written")
    p.add_argument("--broker-pid-file", default=os.environ.get("VAXKIOSK_BROKER_PID_FILE", DEFAULT_PID_FILE),
                   help="the broker to SIGHUP after a change ('' when a systemd path unit reloads it)")
    p.add_argument("--json", action="store_true", help="print one JSON object (for scripts and tests)")


def _access_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker-host", required=True, help="broker address as the kiosks reach it")
    p.add_argument("--broker-port", type=int, default=8883)
    p.add_argument("--broker-ca", default="", help="the project CA (PEM) kiosks verify the broker with")
    p.add_argument("--central-url", default=os.environ.get("VAXKIOSK_CENTRAL_URL", ""))


def add_commands(sub) -> None:
    csub = central_subparsers(sub)

    p = csub.add_parser("add-site", help="register a vaccination site (or rename it)")
    _registry_args(p)
    p.add_argument("--site", required=True)
    p.add_argument("--name", default="")
    p.set_defaults(handler=cmd_add_site)

    p = csub.add_parser("enrol-code", help="create a one-time enrolment code for a site (text + QR)")
    _registry_args(p)
    p.add_argument("--site", required=True)
    p.add_argument("--expires-in", default="24h", type=parse_duration, help="e.g. 30m, 8h, 2d (default 24h)")
    p.add_argument("--central-url", default=os.environ.get("VAXKIOSK_CENTRAL_URL", ""),
                   help="central's address as kiosks reach it (put in the QR); default $VAXKIOSK_CENTRAL_URL")
    p.set_defaults(handler=cmd_enrol_code)

    p = csub.add_parser("enrol-bundle", help="enrol a kiosk now and write its offline enrolment bundle (secret!)")
    _registry_args(p)
    _access_args(p)
    p.add_argument("--site", required=True)
    p.add_argument("--out", required=True, help="bundle file to write (mode 0600); carry it to the kiosk")
    p.set_defaults(handler=cmd_enrol_bundle)

    p = csub.add_parser("revoke", help="revoke a kiosk: its broker access ends at once")
    _registry_args(p)
    p.add_argument("--kiosk", required=True)
    p.add_argument("--reason", default="")
    p.set_defaults(handler=cmd_revoke)

    p = csub.add_parser("devices", help="list registered kiosks")
    _registry_args(p)
    p.add_argument("--site")
    p.set_defaults(handler=cmd_devices)

    p = csub.add_parser("broker-config", help="write Mosquitto's vaxkiosk config, password file, ACL, TLS files")
    _registry_args(p)
    p.add_argument("--conf", required=True, help="e.g. /etc/mosquitto/conf.d/vaxkiosk.conf")
    p.add_argument("--listen", action="append", default=[], metavar="[ADDR:]PORT", help="plain MQTT listener")
    p.add_argument("--tls-listen", action="append", default=[], metavar="[ADDR:]PORT", help="TLS listener")
    p.add_argument("--tls-host", action="append", default=[], help="broker name(s)/IP(s) in its certificate")
    p.add_argument("--central-password-file", required=True,
                   help="central's broker password (created with a random one if missing; mode 0600)")
    p.set_defaults(handler=cmd_broker_config)


def parse_duration(text: str) -> dt.timedelta:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration like 30m, 8h or 2d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return dt.timedelta(seconds=int(m.group(1)) * unit)


def open_registry(args):
    from central.registry import Registry
    from provisioning.broker import BrokerFiles

    return Registry(args.registry, BrokerFiles(args.broker_dir, args.broker_pid_file or None))


def _refused(args, exc) -> int:
    if args.json:
        print(json.dumps(exc.to_json(), ensure_ascii=False))
    else:
        print(f"vaxkiosk: {exc.message_vi} / {exc.message_en}" + (f" ({exc.detail})" if exc.detail else ""),
              file=sys.stderr)
    return 1


def _run(args, action) -> int:
    from central.registry import RegistryRefused

    registry = open_registry(args)
    try:
        return action(registry)
    except RegistryRefused as exc:
        return _refused(args, exc)
    finally:
        registry.close()


def cmd_add_site(args) -> int:
    def action(registry):
        registry.add_site(args.site, args.name)
        print(json.dumps({"ok": True, "site": registry.site(args.site)}, ensure_ascii=False) if args.json
              else f"site {args.site} registered")
        return 0
    return _run(args, action)


def cmd_enrol_code(args) -> int:
    import segno

    from central.registry import enrol_qr_text, format_code

    if not args.central_url:
        print("vaxkiosk: --central-url (or $VAXKIOSK_CENTRAL_URL) is needed: the QR tells the kiosk where central is",
              file=sys.stderr)
        return 2

    def action(registry):
        code, expires = registry.create_code(args.site, args.expires_in)
        qr_text = enrol_qr_text(args.central_url, code)
        if args.json:
            print(json.dumps({"ok": True, "site": args.site, "code": format_code(code),
                              "expires": expires.isoformat(timespec="seconds"), "qr_text": qr_text}))
            return 0
        print(f"Mã cài đặt / set-up code for site {args.site}:  {format_code(code)}")
        print(f"Hết hạn / expires: {expires.isoformat(timespec='minutes')}  (dùng một lần / one use)")
        print(f"Central: {args.central_url}")
        segno.make(qr_text, error="m").terminal(out=sys.stdout, compact=True)
        return 0
    return _run(args, action)


def cmd_enrol_bundle(args) -> int:
    from pathlib import Path

    from central.enrol_api import BrokerAccess, enrolment_document
    from provisioning.files import write_atomic

    ca_pem = Path(args.broker_ca).read_text() if args.broker_ca else ""

    def action(registry):
        enrolment = registry.enrol_directly(args.site)
        document = enrolment_document(enrolment, BrokerAccess(args.broker_host, args.broker_port, ca_pem),
                                      args.central_url)
        write_atomic(Path(args.out), json.dumps(document, ensure_ascii=False, indent=1).encode())
        result = {"ok": True, "kiosk_id": enrolment.kiosk_id, "site": args.site, "bundle": args.out}
        print(json.dumps(result) if args.json else
              f"kiosk {enrolment.kiosk_id} enrolled; bundle written to {args.out} (it holds the kiosk's password: "
              "carry it on a USB stick, delete it after `vaxkiosk provision --bundle`)")
        return 0
    return _run(args, action)


def cmd_revoke(args) -> int:
    def action(registry):
        reloaded = registry.revoke(args.kiosk, args.reason)
        if args.json:
            print(json.dumps({"ok": True, "kiosk_id": args.kiosk, "broker_reloaded": reloaded}))
        else:
            print(f"kiosk {args.kiosk} revoked; password removed from {registry.broker_files.password_file}")
            print("broker reloaded: its connection is closed now" if reloaded else
                  "broker NOT signalled (no pid file or no permission): the vaxkiosk-broker-reload.path unit "
                  "reloads it; check with `systemctl status vaxkiosk-broker-reload.path`")
        return 0
    return _run(args, action)


def cmd_devices(args) -> int:
    def action(registry):
        devices = registry.devices(args.site)
        if args.json:
            print(json.dumps({"ok": True, "devices": devices}))
        else:
            for d in devices:
                print(f"{d['kiosk_id']:<24} {d['site_id']:<16} {d['state']:<8} enrolled {d['enrolled_wall']}")
        return 0
    return _run(args, action)


def _listener(spec: str, **tls):
    from provisioning.broker import Listener

    address, _, port = spec.rpartition(":")
    return Listener(int(port), address, **tls)


def cmd_broker_config(args) -> int:
    from pathlib import Path

    from provisioning import broker
    from provisioning.files import write_atomic

    pw_file = Path(args.central_password_file)
    if not pw_file.exists():
        write_atomic(pw_file, broker.new_password().encode())
    central_hash = broker.hash_password(pw_file.read_text().strip())
    listeners = [_listener(s) for s in args.listen]
    if args.tls_listen:
        if not args.tls_host:
            print("vaxkiosk: --tls-listen needs --tls-host (the names kiosks use for the broker)", file=sys.stderr)
            return 2
        tls_dir = Path(args.broker_dir) / "tls"
        ca_pem, ca_key = tls_dir / "ca.pem", tls_dir / "ca.key"
        if not ca_pem.exists():  # the CA is made once: every kiosk already trusts it
            broker.make_ca(tls_dir)
        cert, key = broker.make_server_cert(tls_dir, ca_pem, ca_key, args.tls_host)
        listeners += [_listener(s, cafile=str(ca_pem), certfile=str(cert), keyfile=str(key))
                      for s in args.tls_listen]
    registry = open_registry(args)
    registry.central_password_hash = central_hash
    try:
        registry.broker_files.write_conf(args.conf, listeners)
        reloaded = registry.sync_broker()
    finally:
        registry.close()
    result = {"ok": True, "conf": args.conf, "password_file": str(registry.broker_files.password_file),
              "acl_file": str(registry.broker_files.acl_file), "broker_reloaded": reloaded}
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0
