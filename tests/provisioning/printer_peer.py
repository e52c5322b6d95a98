"""A network ESC/POS printer on a loopback port, as the physical edge: it keeps what it receives and answers the
real-time status queries (DLE EOT 1 and 4) the way a TM-T88 does, with its faults: paper out, cover open, or no
answer at all (a printer that is on the network but hung)."""

from __future__ import annotations

import socket
import threading

# DLE EOT n answers: fixed bits 1 and 4 set (0x12); n=1 bit 3 = offline; n=4 bits 5+6 = paper out, 2+3 = near end.
ONLINE, OFFLINE = 0x16, 0x1E
PAPER_OK, PAPER_OUT = 0x12, 0x72


class PrinterPeer:
    def __init__(self):
        self.fault: str | None = None  # None | "paper_out" | "cover_open" | "silent"
        self.received = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, n: int) -> bytes:
        if self.fault == "silent":
            return b""
        if n == 1:
            return bytes([OFFLINE if self.fault == "cover_open" else ONLINE])
        if n == 4:
            return bytes([PAPER_OUT if self.fault == "paper_out" else PAPER_OK])
        return b"\x12"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                pending = b""
                while data := conn.recv(4096):
                    self.received += data
                    pending += data
                    while (i := pending.find(b"\x10\x04")) >= 0 and len(pending) > i + 2:
                        conn.sendall(self._answer(pending[i + 2]))
                        pending = pending[i + 3:]
                    pending = pending[-2:]

    def close(self) -> None:
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the serving thread
        except OSError:
            pass
        self._server.close()
