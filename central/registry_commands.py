"""`vaxkiosk central <add-site | enrol-code | enrol-bundle | revoke | revoke-key | devices | broker-config |
regional-broker-config>`: registry operations.

These are subcommands of `vaxkiosk central` (whose own handler runs the aggregator, central.commands). They read
central.toml: the database ([central] data_dir), central's broker password ([mqtt]) and [registry].
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys


SITE_HELP = "the site's id, e.g. GL-01"


def central_subparsers(sub):
    """The sub-parsers of `vaxkiosk central` (the aggregator's command, central.commands), created on first use."""
    central = sub.choices["central"]
    for action in central._actions:  # argparse has no public accessor for an existing subparsers action
        if isinstance(action, argparse._SubParsersAction):
            return action
    return central.add_subparsers(dest="central_command", metavar="REGISTRY_COMMAND",
                                  help="without one, `vaxkiosk central` runs central")


def _registry_args(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: `vaxkiosk central --config F revoke ...` (the parent's option) must not be reset by this default.
    p.add_argument("--config", default=argparse.SUPPRESS,
                   help="central.toml (default: $VAXKIOSK_CENTRAL_CONFIG or /etc/vaxkiosk/central.toml)")
    p.add_argument("--json", action="store_true", help="print one JSON object (for scripts and tests)")


def add_commands(sub) -> None:
    from base.cli import command

    csub = central_subparsers(sub)

    p = command(csub, "add-site", "register a vaccination site (or rename it)",
                f"vaxkiosk central add-site --site GL-01 --name 'Trạm Y tế Phường Yên Đỗ' --district Pleiku --province 64")
    _registry_args(p)
    p.add_argument("--site", required=True, help=SITE_HELP)
    p.add_argument("--name", default="", help="the site's name as screens and printouts show it")
    p.add_argument("--district", default="", help="district (quận/huyện), for the dashboard's filters")
    p.add_argument("--province", default="", help="province code (two digits, as on the ID card)")
    p.set_defaults(handler=cmd_add_site)

    p = command(csub, "enrol-code", "create a one-time enrolment code for a site (text + QR)",
                "vaxkiosk central enrol-code --site GL-01 --expires-in 8h")
    _registry_args(p)
    p.add_argument("--site", required=True, help=SITE_HELP)
    p.add_argument("--expires-in", default="24h", type=parse_duration, help="e.g. 30m, 8h, 2d (default 24h)")
    p.set_defaults(handler=cmd_enrol_code)

    p = command(csub, "enrol-bundle", "enrol a kiosk now and write its offline enrolment bundle (secret!)",
                "vaxkiosk central enrol-bundle --site GL-01 --out /media/usb/gl01-k3.bundle")
    _registry_args(p)
    p.add_argument("--site", required=True, help=SITE_HELP)
    p.add_argument("--out", required=True, help="bundle file to write (mode 0600); carry it to the kiosk")
    p.set_defaults(handler=cmd_enrol_bundle)

    p = command(csub, "revoke", "revoke a kiosk: its broker access ends at once",
                "vaxkiosk central revoke --kiosk GL-01-k3 --reason 'stolen'")
    _registry_args(p)
    p.add_argument("--kiosk", required=True, help="the kiosk's id, as `vaxkiosk central devices` lists it")
    p.add_argument("--reason", default="", help="why, for the registry's record")
    p.set_defaults(handler=cmd_revoke)

    p = command(csub, "revoke-key", "revoke one document signing key: its certificates verify as revoked",
                "vaxkiosk central revoke-key --kid 'q1w2e3r4t5Y=' --reason 'kiosk key leaked'")
    _registry_args(p)
    p.add_argument("--kid", required=True, help="the key id as base64 (verify-cert prints it)")
    p.add_argument("--reason", default="", help="why, for the registry's record")
    p.set_defaults(handler=cmd_revoke_key)

    p = command(csub, "devices", "list registered kiosks", "vaxkiosk central devices --site GL-01 --json")
    _registry_args(p)
    p.add_argument("--site", help="only this site's kiosks")
    p.set_defaults(handler=cmd_devices)

    p = command(csub, "broker-config", "write Mosquitto's vaxkiosk config, password file, ACL, TLS files",
                "vaxkiosk central broker-config --conf /etc/mosquitto/conf.d/vaxkiosk.conf --central-listen 127.0.0.1:1883 "
                "--tls-listen 8883 --tls-host broker.example.vn")
    _registry_args(p)
    p.add_argument("--conf", required=True, help="e.g. /etc/mosquitto/conf.d/vaxkiosk.conf")
    p.add_argument("--central-listen", action="append", default=[], metavar="[ADDR:]PORT", required=True,
                   help="plain listener for central's aggregator processes, normally loopback (127.0.0.1:1883): "
                        "only central logs in there")
    p.add_argument("--listen", action="append", default=[], metavar="[ADDR:]PORT", help="plain kiosk listener")
    p.add_argument("--tls-listen", action="append", default=[], metavar="[ADDR:]PORT", help="TLS kiosk listener")
    p.add_argument("--tls-host", action="append", default=[], help="broker name(s)/IP(s) in its certificate")
    p.add_argument("--bridge-listen", action="append", default=[], metavar="[ADDR:]PORT",
                   help="TLS listener for regional brokers' bridges (needs --tls-host): only their bridge users "
                        "log in there (see regional-broker-config)")
    p.set_defaults(handler=cmd_broker_config)

    p = command(csub, "regional-broker-config",
                "define a region (its sites) and write its broker's config, bridged to this central's national broker",
                "vaxkiosk central regional-broker-config --region tay-nguyen --site GL-01 --site GL-02 "
                "--national broker.example.vn:8884 --tls-listen 8883 --tls-host broker-tn.example.vn")
    _registry_args(p)
    p.add_argument("--region", required=True, help="region name (letters, digits, '-', '_')")
    p.add_argument("--site", action="append", default=[], required=True, help="a site of the region (repeat)")
    p.add_argument("--national", required=True, metavar="HOST:PORT",
                   help="the national broker's bridge listener (broker-config --bridge-listen); HOST must be in "
                        "its certificate (--tls-host)")
    p.add_argument("--listen", action="append", default=[], metavar="[ADDR:]PORT", help="plain kiosk listener")
    p.add_argument("--tls-listen", action="append", default=[], metavar="[ADDR:]PORT", help="TLS kiosk listener")
    p.add_argument("--tls-host", action="append", default=[],
                   help="the regional broker's name(s)/IP(s) in its certificate")
    p.set_defaults(handler=cmd_regional_broker_config)


def parse_duration(text: str) -> dt.timedelta:
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not m or int(m.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration like 30m, 8h or 2d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return dt.timedelta(seconds=int(m.group(1)) * unit)


class NotConfigured(Exception):
    pass


def open_registry(args):
    from central.config import load
    from central.registry import registry_from_config

    config = load(getattr(args, "config", None))
    registry = registry_from_config(config)
    if registry is None:
        raise NotConfigured(f"{config.source}: no [registry] section: this central does not enrol kiosks")
    if not config.mqtt.password:
        raise NotConfigured(f"{config.source}: [mqtt] password is empty: central's broker login is written "
                            "to the password file with the kiosks'")
    return registry


def _refused(args, exc) -> int:
    if args.json:
        print(json.dumps(exc.to_json(), ensure_ascii=False))
    else:
        print(f"vaxkiosk: {exc.message_vi} / {exc.message_en}" + (f" ({exc.detail})" if exc.detail else ""),
              file=sys.stderr)
    return 1


def _run(args, action) -> int:
    from base.config import ConfigError
    from central.registry import RegistryRefused

    try:
        registry = open_registry(args)
    except (ConfigError, NotConfigured) as exc:
        print(f"vaxkiosk: configuration error: {exc}", file=sys.stderr)
        return 78
    try:
        return action(registry)
    except RegistryRefused as exc:
        return _refused(args, exc)
    finally:
        registry.close()


def cmd_add_site(args) -> int:
    def action(registry):
        registry.add_site(args.site, args.name, args.district, args.province)
        print(json.dumps({"ok": True, "site": registry.site(args.site)}, ensure_ascii=False) if args.json
              else f"site {args.site} registered")
        return 0
    return _run(args, action)


def cmd_enrol_code(args) -> int:
    import segno

    from base.enrolment import format_code, qr_text
    from base.pinning import pin_groups
    from central.registry import central_pin

    def action(registry):
        central_url = registry.settings.central_url
        if not central_url:
            print("vaxkiosk: [registry] central_url is empty: the QR tells the kiosk where central is",
                  file=sys.stderr)
            return 78
        try:
            pin = central_pin(registry.settings)
        except (OSError, ValueError) as exc:
            print(f"vaxkiosk: [registry] central_certificate: {exc}", file=sys.stderr)
            return 78
        code, expires = registry.create_code(args.site, args.expires_in)
        text = qr_text(central_url, code, pin)
        if args.json:
            print(json.dumps({"ok": True, "site": args.site, "code": format_code(code),
                              "expires": expires.isoformat(timespec="seconds"), "qr_text": text,
                              "central_pin": pin}))
            return 0
        print(f"Mã cài đặt / set-up code for site {args.site}:  {format_code(code)}")
        print(f"Hết hạn / expires: {expires.isoformat(timespec='minutes')}  (dùng một lần / one use)")
        print(f"Central: {central_url}")
        if pin:  # the kiosk shows the same groups before it uses the code
            print(f"Khóa / key sha256: {pin_groups(pin)}")
        segno.make(text, error="m").terminal(out=sys.stdout, compact=True)
        return 0
    return _run(args, action)


def cmd_enrol_bundle(args) -> int:
    from pathlib import Path

    from base.files import write_atomic
    from central.enrol_api import broker_access, enrolment_document

    def action(registry):
        enrolment = registry.enrol_directly(args.site)
        document = enrolment_document(enrolment, broker_access(registry.settings), registry.settings.central_url)
        write_atomic(Path(args.out), json.dumps(document, ensure_ascii=False, indent=1).encode())
        result = {"ok": True, "kiosk_id": enrolment.kiosk_id, "site": args.site, "bundle": args.out}
        print(json.dumps(result) if args.json else
              f"kiosk {enrolment.kiosk_id} enrolled; bundle written to {args.out} (it holds the kiosk's password: "
              "carry it on a USB stick, delete it after `vaxkiosk provision --bundle`)")
        return 0
    return _run(args, action)


def cmd_revoke(args) -> int:
    def action(registry):
        done = registry.revoke(args.kiosk, args.reason)
        if args.json:
            print(json.dumps({"ok": True, "kiosk_id": args.kiosk, "broker_reloaded": done.broker_reloaded,
                              "session_ended": done.session_ended}))
        else:
            print(f"kiosk {args.kiosk} revoked; password removed from {registry.broker_files.password_file}")
            print("broker reloaded: its connection is closed now" if done.broker_reloaded else
                  "broker NOT signalled (no pid file or no permission): the vaxkiosk-broker-reload.path unit "
                  "reloads it; check with `systemctl status vaxkiosk-broker-reload.path`")
            print("its broker session is ended" if done.session_ended else
                  "its broker session could NOT be ended (central's broker listener unreachable?): the broker "
                  "drops it within an hour (persistent_client_expiration)")
        return 0
    return _run(args, action)


def cmd_revoke_key(args) -> int:
    def action(registry):
        registry.revoke_key(args.kid, args.reason)
        print(json.dumps({"ok": True, "kid": args.kid}) if args.json else
              f"signing key {args.kid} revoked: kiosks learn it at their next trust-list refresh")
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
    from central.broker import Listener

    address, _, port = spec.rpartition(":")
    return Listener(int(port), address, **tls)


def _tls_files(broker_dir, hosts: list[str], tls_dir=None) -> dict:
    """The project CA (made once, in `<broker_dir>/tls`: every kiosk already trusts it) and a server certificate
    for `hosts` in `tls_dir`: the TLS settings of a Listener."""
    from central import broker

    ca_dir = broker_dir / "tls"
    ca_pem, ca_key = ca_dir / "ca.pem", ca_dir / "ca.key"
    if not ca_pem.exists():
        broker.make_ca(ca_dir)
    cert, key = broker.make_server_cert(tls_dir or ca_dir, ca_pem, ca_key, hosts)
    return {"cafile": str(ca_pem), "certfile": str(cert), "keyfile": str(key)}


def cmd_broker_config(args) -> int:
    from pathlib import Path

    from central import bridge

    def action(registry):
        listeners = ([_listener(s, kiosks=False) for s in args.central_listen]
                     + [_listener(s) for s in args.listen])
        if args.tls_listen or args.bridge_listen:
            if not args.tls_host:
                print("vaxkiosk: --tls-listen and --bridge-listen need --tls-host (the names kiosks and regional "
                      "brokers use for the broker)", file=sys.stderr)
                return 2
            tls = _tls_files(registry.broker_files.directory, args.tls_host)
            listeners += [_listener(s, **tls) for s in args.tls_listen]
            listeners += [_listener(s, kiosks=False, bridges=True, **tls) for s in args.bridge_listen]
        if args.bridge_listen:  # the bridge files exist (empty until a region is defined) before the broker reads them
            bridge.regions_dir(registry.broker_files).mkdir(parents=True, exist_ok=True)
        registry.broker_files.write_conf(args.conf, listeners)
        reloaded = registry.sync_broker()
        result = {"ok": True, "conf": args.conf, "password_file": str(registry.broker_files.password_file),
                  "acl_file": str(registry.broker_files.acl_file), "broker_reloaded": reloaded}
        if args.tls_listen:
            result["ca"] = str(Path(registry.broker_files.directory) / "tls" / "ca.pem")
        if args.bridge_listen:
            result["bridge_password_file"] = str(registry.broker_files.bridge_password_file)
            result["bridge_acl_file"] = str(registry.broker_files.bridge_acl_file)
        print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
        return 0
    return _run(args, action)


def cmd_regional_broker_config(args) -> int:
    from central import bridge, broker

    def action(registry):
        if args.tls_listen and not args.tls_host:
            print("vaxkiosk: --tls-listen needs --tls-host (the names kiosks use for the regional broker)",
                  file=sys.stderr)
            return 2
        if not (args.listen or args.tls_listen):
            print("vaxkiosk: a regional broker needs a kiosk listener (--listen or --tls-listen)", file=sys.stderr)
            return 2
        files = registry.broker_files
        if not (files.directory / "tls" / "ca.pem").exists():
            print("vaxkiosk: no project CA yet: run broker-config with --bridge-listen on the national broker first "
                  "(the bridge checks the national broker's certificate against it)", file=sys.stderr)
            return 2
        password = broker.new_password()  # a new one on every run: re-running rotates the bridge's credential
        try:
            region = bridge.define_region(files, args.region, args.site, {s["site"] for s in registry.sites()},
                                          password)
        except bridge.RegionError as exc:
            print(f"vaxkiosk: {exc}", file=sys.stderr)
            return 2
        directory = bridge.region_dir(files, region.name)
        listeners = [_listener(s) for s in args.listen]
        if args.tls_listen:
            tls = _tls_files(files.directory, args.tls_host, directory / "tls")
            # The region's own copy of the CA (write_regional_conf): its folder is all the regional machine needs.
            tls["cafile"] = str(directory / "ca.pem")
            listeners += [_listener(s, **tls) for s in args.tls_listen]
        conf = bridge.write_regional_conf(files, region, listeners, args.national, password,
                                          files.directory / "tls" / "ca.pem")
        # The region's kiosk files, and the national broker's bridge login, then its reload.
        reloaded = registry.sync_broker()
        result = {"ok": True, "region": region.name, "sites": list(region.sites), "bridge_user": region.bridge_user,
                  "dir": str(directory), "conf": str(conf), "national_reloaded": reloaded}
        print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
        return 0
    return _run(args, action)
