"""Serial and USB backends at the physical edge: a pty pair stands in for the serial cable, and there is no USB
printer on this machine, which is exactly the 'unplugged' case."""

import datetime
import os
import select
import threading
import tty

import pytest

from drivers import escpos_status
from drivers.escpos_render import EscposRenderer
from drivers.printer import Printer, PrinterError
from kiosk.config import PrinterSection
from kiosk.printing import layouts
from kiosk.printing.receipt import to_escpos
from tests.support.waiting import wait_for


@pytest.fixture
def serial_printer():
    """A printer on the far side of a pty: the strict interpreter reads the bytes and answers DLE EOT."""
    master, slave = os.openpty()
    tty.setraw(slave)
    state = {"paper": "ok"}
    receipts = []
    received = [0]
    stop = threading.Event()

    def answer(n):
        os.write(master, escpos_status.encode(n, online=state["paper"] != "out", paper=state["paper"],
                                              cover_open=False))

    renderer = EscposRenderer("POS-5890", receipts.append, answer)

    def run():
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                renderer.feed(data)
                received[0] += len(data)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    def finish(expected_bytes):
        wait_for(lambda: received[0] >= expected_bytes, 30, what="all bytes through the pty")
        stop.set()
        thread.join()
        renderer.finish()

    yield os.ttyname(slave), state, receipts, finish
    stop.set()
    thread.join()
    os.close(master)
    os.close(slave)


def test_serial_printer_status_and_job(serial_printer):
    path, state, receipts, finish = serial_printer
    printer = Printer(PrinterSection(enabled=True, backend="serial", device=path, baudrate=115200,
                                     profile="POS-5890", paper_mm=58, timeout=1))
    assert printer.status().state == "ok"
    state["paper"] = "near_end"
    assert printer.status().state == "paper_near_end"
    state["paper"] = "out"
    assert printer.status().state == "paper_out"
    view = layouts.TicketView("Trạm Y tế", 7, datetime.datetime(2026, 11, 25, 9, 0), "Lê Văn Tám",
                              "0791•••••001", 0, 0)
    job = to_escpos(layouts.ticket(view, "POS-5890", 58))
    printer.send(job)
    finish(3 * 3 * 3 + len(job))  # three status reads of three queries, then the job
    # No cutter on this profile: the receipt ends where the job ends.
    assert [run["text"] for r in receipts for run in r.text_runs] == ["7"]


def test_missing_serial_port_is_unknown_and_send_fails(tmp_path):
    printer = Printer(PrinterSection(enabled=True, backend="serial", device=str(tmp_path / "ttyUSB9"), timeout=0.5))
    assert printer.status().state == "unknown"
    with pytest.raises(PrinterError, match="cannot open"):
        printer.send(b"\x1b@")


def test_unplugged_usb_printer_is_unknown_and_send_fails():
    printer = Printer(PrinterSection(enabled=True, backend="usb", usb_vendor=0x0416, usb_product=0x5011,
                                     timeout=0.5))
    status = printer.status()
    assert status.state == "unknown" and "usb 0416:5011" in status.detail
    with pytest.raises(PrinterError):
        printer.send(b"\x1b@")
