"""`vaxkiosk sms-test --gammurc FILE NUMBER TEXT`: one text through a modem, the technician's test of a set-up.

Prints one JSON line, `{"sent": true|false, "parts": N, "encoding": "ucs2"|"gsm7", "error": null|"<code>"}`, and
exits 0 only when every part was sent. `--encoding auto` (the default) sends GSM-7 when that carries the text
unchanged and UCS-2 otherwise (drivers.sms_encoding.choose_encoding); `gsm7` writes the text unaccented. The error
codes are the driver's (modem_gone, modem_busy, modem_permission, sim_not_ready, timeout, cms_<N>, bad_gammurc,
modem_error) and this command's (bad_number, too_long); a line on stderr says more. Stop the kiosk first on a
machine where it runs: a modem talks to one program at a time.
"""

from __future__ import annotations

import re
import secrets
import sys

NUMBER = re.compile(r"\+?\d{3,20}")


def add_commands(sub) -> None:
    from base.cli import command

    p = command(sub, "sms-test", "send one SMS through a Gammu configuration (a modem) and print JSON",
                "vaxkiosk sms-test --gammurc /etc/vaxkiosk/gammurc 0912345678 'Thử tin nhắn'",
                description="Send TEXT to NUMBER through the modem the Gammu configuration names, the technician's "
                            "test of a set-up; prints {\"sent\", \"parts\", \"encoding\", \"error\"} and exits 0 "
                            "only when it was sent. Stop the kiosk first: a modem talks to one program at a time.")
    p.add_argument("--gammurc", required=True, help="Gammu configuration file naming the modem")
    p.add_argument("--encoding", choices=["auto", "ucs2", "gsm7"], default="auto",
                   help="auto (default): gsm7 when it keeps the text unchanged, else ucs2; gsm7 writes it unaccented")
    p.add_argument("number", help="the phone number, +84... or as dialled")
    p.add_argument("text", help="the message; long ones are sent in parts (at most the driver's maximum)")
    p.set_defaults(handler=cmd_sms_test)


def cmd_sms_test(args) -> int:
    from drivers.gsm_modem import ModemError, send_text
    from drivers.sms_encoding import MAX_PARTS, MessageTooLong, choose_encoding, encode
    from kiosk.commands import emit

    encoding = choose_encoding(args.text) if args.encoding == "auto" else args.encoding
    number = re.sub(r"[\s.\-()]", "", args.number)

    def answer(sent: bool, parts: int, error: str | None, detail: str = "") -> int:
        emit({"sent": sent, "parts": parts, "encoding": encoding, "error": error})
        if detail:
            print(f"sms-test: {error}: {detail}", file=sys.stderr)
        return 0 if sent else (2 if error in ("bad_number", "too_long") else 1)

    try:
        message = encode(args.text, encoding, reference=secrets.randbelow(256))
    except MessageTooLong as exc:
        return answer(False, exc.parts, "too_long", f"more than {MAX_PARTS} parts")
    if not NUMBER.fullmatch(number):
        return answer(False, message.count, "bad_number", f"{args.number!r} is not a phone number")
    try:
        send_text(args.gammurc, number, message)
    except ModemError as exc:
        return answer(False, message.count, exc.code, f"{exc.detail} ({exc.parts_sent} of {message.count} parts sent)")
    return answer(True, message.count, None)
