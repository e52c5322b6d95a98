"""One SMS through Gammu, three ways, against the virtual modem on a pty (drivers/virtual_modem.py).

Usage: python bench/sms.py [--runs 3]

- `gammu sendsms` (Debian's command line, the way gammu-smsd-less scripts send): a process per message, which sets
  the modem up every time;
- python-gammu with a new connection per message (`vaxkiosk sms-test`);
- python-gammu with the connection kept (the kiosk's SMS part): set-up once, then each send.
The virtual modem answers at once, so the figures are Gammu's own cost; a real network adds its answer time (seconds)
to each send whichever way is used. Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.gsm_modem import GammuModem, write_gammurc  # noqa: E402
from drivers.sms_encoding import encode  # noqa: E402
from drivers.virtual_modem import VirtualModem  # noqa: E402

NUMBER = "+84912345678"
TEXT = "Moi so 12 den ban 3 ngay bay gio."


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        device = Path(tmp) / "modem"
        gammurc = write_gammurc(Path(tmp) / "gammurc", device)
        message = encode(TEXT, "gsm7")
        with VirtualModem(device) as modem:
            cli = [timed(lambda: subprocess.run(["gammu", "-c", str(gammurc), "sendsms", "TEXT", NUMBER, "-text",
                                                 TEXT], check=True, capture_output=True))
                   for _ in range(args.runs)]

            def fresh() -> None:
                one = GammuModem(gammurc)
                one.send(NUMBER, message)
                one.close()

            per_message = [timed(fresh) for _ in range(args.runs)]
            kept = GammuModem(gammurc)
            setup = timed(kept.connect)
            sends = [timed(lambda: kept.send(NUMBER, message)) for _ in range(args.runs * 3)]
            kept.close()
            taken = len(modem.received)
        expected = args.runs * 2 + args.runs * 3
        if taken != expected:
            print(f"the modem took {taken} messages, {expected} expected", file=sys.stderr)
            return 1
    print(f"gammu sendsms (process per message): median {statistics.median(cli):.2f} s per message")
    print(f"python-gammu, new connection per message: median {statistics.median(per_message):.2f} s per message")
    print(f"python-gammu, connection kept: set-up {setup:.2f} s, then median {statistics.median(sends):.2f} s "
          f"per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
