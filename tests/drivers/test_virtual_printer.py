"""The virtual network printer as the kiosk's driver sees it: status answers, strict parsing, receipts on disk."""

import pytest

from drivers.printer import Printer
from kiosk.certificates import CertificateView, DoseLine
from kiosk.config import PrinterSection
from kiosk.printing import layouts
from kiosk.printing.receipt import ReceiptBuilder, to_escpos
from tests.support.virtual_printer import VirtualPrinterProcess, wait_until


@pytest.fixture
def small_printer(tmp_path):
    vp = VirtualPrinterProcess(tmp_path / "vp", profile="POS-5890").start()
    yield vp, Printer(PrinterSection(enabled=True, backend="network", port=vp.port, profile="POS-5890",
                                     paper_mm=58, timeout=3))
    vp.stop()


def test_status_follows_the_control_file(small_printer):
    vp, printer = small_printer
    assert printer.status().state == "ok"
    for word in ("paper_near_end", "paper_out", "cover_open"):
        vp.set_state(word)
        wait_until(lambda: printer.status().state == word, what=word)
    vp.set_state("offline")
    wait_until(lambda: printer.status().state == "unknown", what="a switched-off printer does not answer")


def test_receipts_without_a_cutter_end_with_the_connection_and_qr_is_decoded(small_printer):
    vp, printer = small_printer
    for text in ("Một", "Hai"):
        builder = ReceiptBuilder("POS-5890", 58)
        builder.text(text, 24)
        builder.qr(f"VXK1:APPT:{text}")
        printer.send(to_escpos(builder.finish()))
    receipts = wait_until(lambda: len(vp.receipts()) == 2 and vp.receipts(), what="two receipts")
    assert [r["qr"] for r in receipts] == [["VXK1:APPT:Một"], ["VXK1:APPT:Hai"]]
    assert all(r["width"] == 384 for r in receipts) and vp.errors() == ""


def test_unsupported_commands_are_logged_errors_not_receipts(small_printer):
    vp, printer = small_printer
    # Bytes made for an 80 mm Epson (native QR, 512-dot raster) sent to a 58 mm printer without them.
    view = CertificateView("Trần Thị Hồng Nhung", "1995-08-12", "0641•••••234", "Trạm Y tế",
                                   [DoseLine(1, "2026-11-25", "Comirnaty", "FK1234")], "HC1:TEST", 0)
    printer.send(to_escpos(layouts.certificate(view, "TM-T88V", 80)))
    wait_until(lambda: "unsupported ESC/POS for POS-5890" in vp.errors(), what="error logged")
    assert vp.receipts() == []
