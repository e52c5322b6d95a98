"""systemd notifications (sd_notify) without a dependency: READY=1, WATCHDOG=1, STATUS=..., STOPPING=1.

systemd passes $NOTIFY_SOCKET (a unix datagram socket; a leading '@' means the abstract namespace) and, with
WatchdogSec=, $WATCHDOG_USEC. The kiosk pings only while every part reports healthy, so a stuck loop gets the
process restarted by systemd instead of a kiosk that looks alive and does nothing.

The key is "alive", not "ok": parts already use "ok" for their device (printer out of paper, camera unplugged,
trust list not loaded yet), and a restart cures none of those. A part sets "alive": false only when its own loop has
stopped making progress, the one thing a restart does cure.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, environ: dict | None = None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the variables is not it.
        mine = not pid or pid == str(os.getpid())
        self.watchdog_seconds = int(usec) / 1_000_000 if usec.isdigit() and int(usec) > 0 and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def ping_interval(self) -> float | None:
        """Ping twice per watchdog period, as sd_watchdog_enabled(3) recommends."""
        return self.watchdog_seconds / 2 if self.watchdog_seconds else None

    def notify(self, *lines: str) -> bool:
        if not self.address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto("\n".join(lines).encode(), self.address)
            except OSError:
                return False  # systemd gone (shutdown) or a stale variable: nothing to tell
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


def thread_alive(thread) -> bool:
    """A part's worker thread is alive until stop(): a thread that died of an uncaught error is a stalled part, and
    only a restart by systemd brings it back (a stopped part reports its thread as None and is not stalled)."""
    return thread is None or thread.is_alive()


def stalled_parts(health: dict[str, dict]) -> list[str]:
    """Parts whose health says `"alive": false`. A part that reports no "alive" key is taken to be running."""
    return [name for name, h in health.items() if isinstance(h, dict) and h.get("alive") is False]
