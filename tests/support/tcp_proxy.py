"""A TCP proxy between a kiosk and its broker whose link a test can cut and restore, as a separate process.

Usage: python -m tests.support.tcp_proxy LISTEN_PORT TARGET_PORT CONTROL_FILE
CONTROL_FILE holds `up` or `cut` (re-read every 0.05 s). A cut looks like a real silent link (a dead 3G modem, an
unplugged switch upstream): nothing is forwarded any more and nothing is closed, so only keep-alives can tell; new
connections wait unanswered. When the link comes back, connections that neither end gave up on carry on.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path


class Link:
    def __init__(self, control: Path):
        self.control = control
        self.up = True
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                self.up = self.control.read_text().strip() != "cut"
            except OSError:
                self.up = True
            time.sleep(0.05)

    def wait_up(self) -> None:
        while not self.up:
            time.sleep(0.05)


def pump(src: socket.socket, dst: socket.socket, link: Link) -> None:
    src.settimeout(0.1)
    try:
        while True:
            link.wait_up()  # while cut, bytes stay in the kernel's buffers and the sender's window fills
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            link.wait_up()
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def serve(listen_port: int, target_port: int, control: Path) -> None:
    link = Link(control)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(16)
    print("ready", flush=True)
    while True:
        link.wait_up()  # a cut link accepts nobody: the kernel's backlog holds new connections unanswered
        client, _ = server.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=2)
        except OSError:
            client.close()  # broker down: the connection is refused, as the broker itself would
            continue
        upstream.settimeout(None)
        threading.Thread(target=pump, args=(client, upstream, link), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, link), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
