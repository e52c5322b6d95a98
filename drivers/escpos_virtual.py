"""A network ESC/POS printer for tests and the demo: `vaxkiosk virtual-printer --port P --out DIR`.

It listens on 127.0.0.1 like a printer on port 9100, interprets each connection's bytes strictly for its profile
(drivers.escpos_render), answers `DLE EOT` status queries, and writes every receipt (split at cuts, or at the end of
a connection for printers without a cutter) as `receipt-NNNN.png` plus `receipt-NNNN.json` (QR payloads decoded
from the picture, the QR payloads as sent, the printer-font text runs). Errors go to `errors.log` and the log.

Faults are set through the control file `DIR/control`, one word: `online` (default), `paper_near_end`,
`paper_out`, `cover_open`, `offline`, or `roll:N` (a roll with paper for N more receipts: the next one after that
runs out of paper half-way). It is re-read every 0.1 s and acted on when it changes. Like a real printer, it keeps
what it receives while out of paper or with the cover open and prints it when the fault is cleared (write `online`:
new paper, cover closed); `offline` is a printer switched off: connections are closed unanswered and whatever was
waiting in its buffer is lost. Like a printer on port 9100 it serves one connection at a time, in order.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

from drivers import escpos_status
from drivers.escpos_render import EscposError, EscposRenderer, PrintedReceipt, decode_qr

log = logging.getLogger("vaxkiosk.virtual-printer")

STATES = ("online", "paper_near_end", "paper_out", "cover_open", "offline")
PRINTING_STATES = ("online", "paper_near_end")


class VirtualPrinter:
    def __init__(self, port: int, out_dir: str | os.PathLike, profile: str = "TM-T88V", host: str = "127.0.0.1"):
        self.host, self.port, self.profile = host, port, profile
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.control = self.out / "control"
        self.state = "online"
        self.roll_left: int | None = None  # receipts of paper left on the roll; None: plenty
        self._word = "online"
        self.held: list[PrintedReceipt] = []
        self.printed = len(list(self.out.glob("receipt-*.json")))
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: socket.socket | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self._server = socket.create_server((self.host, self.port), reuse_port=False)
        self.port = self._server.getsockname()[1]
        self._server.settimeout(0.2)
        threading.Thread(target=self._watch_control, name="vp-control", daemon=True).start()
        log.info("virtual printer %s listening on %s:%s, writing to %s", self.profile, self.host, self.port, self.out)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if self.state == "offline":
                conn.close()  # switched off: nobody answers
                continue
            self._serve(conn)  # one at a time, like the printer's single interface
        self._server.close()

    def stop(self) -> None:
        self._stop.set()

    # -- faults ---------------------------------------------------------------------------------------------------
    def _watch_control(self) -> None:
        while not self._stop.is_set():
            try:
                word = self.control.read_text().strip() or "online"
            except FileNotFoundError:
                word = "online"
            except OSError:
                word = self.state
            if word != self._word:
                self._word = word
                self._control(word)
            time.sleep(0.1)

    def _control(self, word: str) -> None:
        if word.startswith("roll:") and word[5:].isdigit():
            with self._lock:
                self.roll_left = int(word[5:])
            self._set_state("online")
        elif word in STATES:
            with self._lock:
                self.roll_left = None
            self._set_state(word)
        else:
            self._error(f"control file says {word!r}; expected one of {', '.join(STATES)} or roll:N")

    def _set_state(self, state: str) -> None:
        with self._lock:
            if state == self.state:
                return
            log.info("virtual printer: %s → %s", self.state, state)
            self.state = state
            if state == "offline" and self.held:
                self._error(f"switched off with {len(self.held)} receipt(s) in the buffer: lost")
                self.held.clear()
            self._flush()

    def _answer(self, n: int) -> bytes:
        paper = {"paper_out": "out", "paper_near_end": "near_end"}.get(self.state, "ok")
        return escpos_status.encode(n, online=self.state in PRINTING_STATES, paper=paper,
                                    cover_open=self.state == "cover_open")

    # -- one connection -------------------------------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)

        def status(n: int) -> None:
            conn.sendall(self._answer(n))

        renderer = EscposRenderer(self.profile, on_receipt=self._received, on_status=status)
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    renderer.feed(data)
                renderer.finish()
            except EscposError as exc:
                self._error(f"unsupported ESC/POS for {self.profile}: {exc}; rest of the connection ignored")
            except OSError as exc:
                log.info("connection ended: %s", exc)
                try:
                    renderer.finish()
                except EscposError as incomplete:
                    self._error(f"connection broken mid-job: {incomplete}")

    def _received(self, receipt: PrintedReceipt) -> None:
        with self._lock:
            self.held.append(receipt)
            if self.roll_left is not None and self.state in PRINTING_STATES:
                if self.roll_left == 0:
                    log.info("virtual printer: the roll ran out in the middle of a receipt")
                    self.state = "paper_out"
                else:
                    self.roll_left -= 1
            self._flush()

    def _flush(self) -> None:
        if self.state not in PRINTING_STATES:
            return
        while self.held:
            self._write(self.held.pop(0))

    def _write(self, receipt: PrintedReceipt) -> None:
        self.printed += 1
        stem = self.out / f"receipt-{self.printed:04d}"
        receipt.image.save(f"{stem}.png")
        meta = {"seq": self.printed, "profile": self.profile, "width": receipt.image.width,
                "height": receipt.image.height, "qr": decode_qr(receipt.image), "qr_commands": receipt.qr_commands,
                "text": receipt.text_runs, "printed_wall": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp = Path(f"{stem}.json.tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(f"{stem}.json")  # the JSON appears last and whole: a reader never sees half a receipt

    def _error(self, message: str) -> None:
        self.errors += 1
        log.error("%s", message)
        with open(self.out / "errors.log", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
