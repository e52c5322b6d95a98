"""Printing subcommands: print-sample, escpos-render, virtual-printer, print-jobs, reprint."""

from __future__ import annotations

import sys

from kiosk.commands import add_config_arg, emit, load_config_or_exit, parse_time

DEFAULT_PROFILE = "TM-T88V"


def add_commands(sub) -> None:
    from base.cli import command

    p = command(sub, "print-sample", "write the exact ESC/POS bytes the kiosk would print for a scanned ID",
                "vaxkiosk print-sample --kind ticket --payload \"$(cat card.txt)\" --out ticket.bin")
    p.add_argument("--kind", required=True, choices=["ticket", "certificate"], help="which printout")
    p.add_argument("--payload", required=True, help="the ID card QR text")
    p.add_argument("--profile", help=f"python-escpos printer profile (default: from --config, else {DEFAULT_PROFILE})")
    p.add_argument("--paper", type=int, choices=[58, 80], help="paper width in mm (default: from the profile)")
    p.add_argument("--data-dir", help="where the certificate module keeps its keys (default: from --config, "
                                      "else $VAXKIOSK_DATA or ~/.local/share/vaxkiosk, so verify-cert trusts it)")
    p.add_argument("--out", required=True, help="file to write the bytes to")
    p.add_argument("--at", metavar="TIME", type=parse_time,
                   help="the time the sample is printed and its certificate signed, ISO 8601 (default: now)")
    add_config_arg(p)
    p.set_defaults(handler=cmd_print_sample)

    p = command(sub, "escpos-render", "render ESC/POS bytes to a PNG and print the decoded QR payloads",
                "vaxkiosk escpos-render ticket.bin --out ticket.png")
    p.add_argument("file", help="a file of ESC/POS bytes (print-sample writes one)")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help=f"python-escpos printer profile (default {DEFAULT_PROFILE})")
    p.add_argument("--out", required=True, help="PNG to write (receipts one under another)")
    p.set_defaults(handler=cmd_escpos_render)

    p = command(sub, "virtual-printer", "a network ESC/POS printer on 127.0.0.1 that writes PNG + JSON",
                "vaxkiosk virtual-printer --port 9100 --out /tmp/receipts")
    p.add_argument("--port", type=int, default=9100, help="TCP port on 127.0.0.1 (default 9100)")
    p.add_argument("--out", required=True, help="folder for receipts, errors.log and the 'control' file")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help=f"python-escpos printer profile (default {DEFAULT_PROFILE})")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="how much the log says (default INFO)")
    p.set_defaults(handler=cmd_virtual_printer)

    p = command(sub, "print-jobs", "list print jobs (newest first) as JSON lines",
                "vaxkiosk print-jobs --config /etc/vaxkiosk/kiosk.toml --limit 10")
    add_config_arg(p)
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.set_defaults(handler=cmd_print_jobs)

    p = command(sub, "reprint", "queue another copy of a print job (marked BẢN IN LẠI; audited)",
                "vaxkiosk reprint 42 --actor 'Lê Thị Mai' --reason 'ticket lost'")
    add_config_arg(p)
    p.add_argument("job_id", type=int, metavar="JOB_ID", help="the job's id, as print-jobs lists it")
    p.add_argument("--actor", required=True, help="staff member asking for it")
    p.add_argument("--reason", required=True, help="why, for the audit log")
    p.set_defaults(handler=cmd_reprint)


def default_paper(profile: str) -> int:
    from drivers.printer import load_profile

    mm = load_profile(profile).profile_data.get("media", {}).get("width", {}).get("mm")
    return 58 if isinstance(mm, (int, float)) and mm < 60 else 80


def _profile_error(exc) -> int:
    emit({"ok": False, "error": {"code": "unknown_profile", "message_en": str(exc)}})
    return 2


def cmd_print_sample(args) -> int:
    import datetime as dt

    from base.privacy import mask_id
    from drivers.printer import ProfileError
    from kiosk.identity import Identity, parse
    from kiosk.printing import layouts
    from kiosk.printing.receipt import to_escpos

    config = load_config_or_exit(args.config) if args.config else None
    profile = args.profile or (config.printer.profile if config else DEFAULT_PROFILE)
    try:
        paper = args.paper or (config.printer.paper_mm if config and not args.profile else default_paper(profile))
    except ProfileError as exc:
        return _profile_error(exc)
    identity = parse(args.payload)
    if not isinstance(identity, Identity):
        emit(identity.to_json() if not identity.ok else {"ok": False, "error": {"code": "not_an_id_card"}})
        return 1
    site = (config.kiosk.site_name if config else "") or "Điểm tiêm chủng mẫu"
    now = args.at or dt.datetime.now(dt.timezone.utc)
    if args.kind == "ticket":
        now = now.astimezone(dt.timezone(dt.timedelta(hours=config.kiosk.utc_offset_hours if config else 7)))
        view = layouts.TicketView(site_name=site, number=1, checked_in=now, full_name=identity.full_name or "",
                                  masked_id=mask_id(identity.id_number), people_ahead=0, wait_minutes=0)
        receipt = layouts.ticket(view, profile, paper)
        qr = None
    else:
        from kiosk.certificates import CertificateError, sample_certificate_view
        from kiosk.config import command_data_dir

        data_dir = args.data_dir or str(command_data_dir(args.config))
        try:
            view = sample_certificate_view(identity, data_dir, now)
        except CertificateError as exc:  # a time before 2026: it would be born expired
            emit(exc.to_json())
            return 1
        receipt = layouts.certificate(view, profile, paper)
        qr = view.qr_payload
    data = to_escpos(receipt)
    with open(args.out, "wb") as f:
        f.write(data)
    emit({"ok": True, "kind": args.kind, "profile": profile, "paper_mm": paper, "width": receipt.width,
          "bytes": len(data), "out": args.out, "qr": [qr] if qr else []})
    return 0


def cmd_escpos_render(args) -> int:
    from PIL import Image

    from drivers.escpos_render import EscposError, decode_qr, render_bytes
    from drivers.printer import ProfileError

    with open(args.file, "rb") as f:
        data = f.read()
    try:
        receipts = render_bytes(data, args.profile)
    except ProfileError as exc:
        return _profile_error(exc)
    except EscposError as exc:
        emit({"ok": False, "profile": args.profile, "error": {"code": "unsupported_escpos", "offset": exc.offset,
                                                               "message_en": exc.message}})
        return 1
    gap = 24
    width = max((r.image.width for r in receipts), default=1)
    height = sum(r.image.height for r in receipts) + gap * max(0, len(receipts) - 1)
    sheet = Image.new("1", (width, max(1, height)), 1)
    y = 0
    for r in receipts:
        sheet.paste(r.image, (0, y))
        y += r.image.height + gap
    sheet.save(args.out)
    emit({"ok": True, "profile": args.profile, "receipts": len(receipts), "width": width, "height": height,
          "qr": [q for r in receipts for q in decode_qr(r.image)],
          "qr_commands": [q for r in receipts for q in r.qr_commands],
          "text": [run for r in receipts for run in r.text_runs], "out": args.out})
    return 0


def cmd_virtual_printer(args) -> int:
    import logging
    import signal

    from drivers.escpos_virtual import VirtualPrinter
    from drivers.printer import ProfileError, load_profile

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        load_profile(args.profile)
    except ProfileError as exc:
        print(f"vaxkiosk: {exc}", file=sys.stderr)
        return 2
    printer = VirtualPrinter(args.port, args.out, args.profile)
    signal.signal(signal.SIGTERM, lambda *_: printer.stop())
    printer.serve_forever()
    return 0


def cmd_print_jobs(args) -> int:
    from kiosk.printing import jobs
    from kiosk.store import Store

    store = Store(load_config_or_exit(args.config).db_path)
    try:
        for row in jobs.newest(store, args.limit):
            emit(row)
    finally:
        store.close()
    return 0


def cmd_reprint(args) -> int:
    from kiosk.clock import Clock
    from kiosk.printing.jobs import JobNotFound, request_reprint
    from kiosk.store import Store

    config = load_config_or_exit(args.config)
    store = Store(config.db_path)
    try:
        job = request_reprint(store, args.job_id, f"staff:{args.actor}", args.reason,
                              Clock(config.kiosk.utc_offset_hours).stamp())
    except JobNotFound:
        emit({"ok": False, "error": {"code": "job_not_found", "message_vi": "Không tìm thấy lệnh in.",
                                     "message_en": "Print job not found."}})
        return 1
    finally:
        store.close()
    emit({"ok": True, "job": job})
    return 0
