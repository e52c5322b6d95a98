"""DLE EOT status: the bytes both ways, and a printer that does not answer reads as unknown, never as OK."""

import socket
import threading

import pytest

from drivers import escpos_status as st
from drivers.printer import Printer, PrinterError, printable_width
from kiosk.config import PrinterSection


@pytest.mark.parametrize("online,paper,cover,state", [
    (True, "ok", False, "ok"),
    (True, "near_end", False, "paper_near_end"),
    (False, "out", False, "paper_out"),
    (False, "ok", True, "cover_open"),
    (False, "ok", False, "offline"),
])
def test_encode_decode_round_trip(online, paper, cover, state):
    answers = [st.encode(n, online=online, paper=paper, cover_open=cover)[0]
               for n in (st.PRINTER, st.OFFLINE_CAUSE, st.ROLL_PAPER)]
    status = st.decode(*answers)
    assert status.known and status.state == state
    assert status.can_print == (state in ("ok", "paper_near_end"))


def test_bytes_without_the_fixed_bits_are_unknown():
    assert st.decode(0x00, 0x12, 0x12).state == "unknown"
    assert st.decode(0x12, 0xFF, 0x12).state == "unknown"


def test_printable_width_follows_the_profile():
    assert printable_width("POS-5890", 58) == 384
    assert printable_width("TM-T88V", 80) == 512  # the Epson prints 512 dots on 80 mm paper
    assert printable_width("TM-T20II", 80) == 576
    assert printable_width("default", 58) == 384  # width unknown in the profile: the paper's


@pytest.fixture
def silent_printer():
    """Something listening on the printer port that takes bytes and never answers (a wrong device, a CUPS box)."""
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.1)
                while not stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    received.extend(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def test_no_answer_is_unknown_not_ok(silent_printer):
    port, received = silent_printer
    printer = Printer(PrinterSection(enabled=True, backend="network", port=port, timeout=0.3))
    status = printer.status()
    assert status.known is False and status.state == "unknown" and not status.can_print
    assert received.startswith(b"\x10\x04\x01")  # it did ask


def test_nobody_listening_is_unknown_and_send_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        printer = Printer(PrinterSection(enabled=True, backend="network", port=port, timeout=0.5))
        assert printer.status().state == "unknown"
        with pytest.raises(PrinterError):
            printer.send(b"\x1b@")


def test_file_and_memory_backends_cannot_report_status(tmp_path):
    out = tmp_path / "lp0"
    printer = Printer(PrinterSection(enabled=True, backend="file", device=str(out)))
    assert printer.status().state == "unknown"
    printer.send(b"\x1b@hello\n")
    assert out.read_bytes() == b"\x1b@hello\n"
    memory = Printer(PrinterSection(enabled=True, backend="memory"))
    memory.send(b"\x1b@")
    assert memory.memory_output == b"\x1b@" and memory.status().state == "unknown"
