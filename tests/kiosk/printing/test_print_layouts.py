"""Layouts → ESC/POS bytes → rendered back by the strict interpreter: what a citizen would hold in their hand."""

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops

from drivers.escpos_render import EscposError, decode_qr, render_bytes
from drivers.printer import printable_width
from kiosk.certificates import CertificateView, DoseLine
from kiosk.printing import layouts
from kiosk.printing.receipt import QrCode, ReceiptBuilder, to_escpos

GOLDEN = Path(__file__).parent / "golden"
# Every tone mark (ngang, huyền, sắc, hỏi, ngã, nặng) on plain and modified vowels, capitals included, and Đ.
TONE_MARK_NAME = "Đỗ Thị Ngọc Ánh Hoàng Bảo Quỳnh Lữ Ưởng Ấn Ờ Ệ Ặ Ỹ"
PROFILES = [("POS-5890", 58), ("TM-T88V", 80), ("TM-T20II", 80)]
# An HC1 payload's alphabet and a realistic length (the signed one comes from kiosk.certificates).
HC1_LIKE = "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOP-I.BIM9I.AAI$K2B5NWUSH8L-ON+UI36R/1$:4UP9W0UE7V8$NX-6*2B6+4"


def ticket_view(copy=0, name="Trần Thị Hồng Nhung", number=42):
    return layouts.TicketView(site_name="Trạm Y tế Phường Yên Đỗ", number=number,
                              checked_in=dt.datetime(2026, 11, 25, 14, 5), full_name=name,
                              masked_id="0641•••••234", people_ahead=3, wait_minutes=12, copy=copy)


def certificate_view(copy=0, payload=HC1_LIKE * 3):
    return CertificateView(
        full_name="Trần Thị Hồng Nhung", dob=dt.date(1995, 8, 12), masked_id="0641•••••234",
        site_name="Trạm Y tế Phường Yên Đỗ",
        doses=[DoseLine(1, dt.date(2026, 6, 1), "Comirnaty", "FK1234"),
               DoseLine(2, "2026-11-25", "Comirnaty", "FL0007")],
        qr_payload=payload, copy=copy)


def printed(receipt):
    data = to_escpos(receipt)
    receipts = render_bytes(data, receipt.profile)  # strict: raises on anything the profile cannot print
    assert len(receipts) == 1
    return data, receipts[0]


@pytest.mark.parametrize("profile,paper", PROFILES)
def test_ticket_prints_strictly_within_the_printable_width(profile, paper):
    receipt = layouts.ticket(ticket_view(), profile, paper)
    data, out = printed(receipt)
    width = printable_width(profile, paper)
    assert out.image.width == width
    assert b"\x1dv0" in data  # Vietnamese text goes as GS v 0 raster
    assert all(segment.image.width <= width for segment in receipt.segments if hasattr(segment, "image"))
    # The big number in the printer's own font, as the screens show it and the display calls it ("Mời số 42"):
    # a padded "042" is not what the room hears.
    assert [run["text"] for run in out.text_runs] == ["42"]
    assert "Trần Thị Hồng Nhung" in receipt.lines and "Số định danh / ID: 0641•••••234" in receipt.lines
    assert any("12 phút" in line for line in receipt.lines)
    assert "Trần".encode("utf-8") not in data and "Nhung".encode("ascii") not in data  # names only as pixels


@pytest.mark.parametrize("profile,paper", PROFILES)
def test_certificate_qr_decodes_to_the_exact_payload(profile, paper):
    view = certificate_view()
    receipt = layouts.certificate(view, profile, paper)
    data, out = printed(receipt)
    assert decode_qr(out.image) == [view.qr_payload]
    native = any(isinstance(s, QrCode) for s in receipt.segments)
    assert native == (profile != "POS-5890")  # native QR only where the profile has it
    assert (b"\x1d(k" in data) == native
    assert out.image.width <= printable_width(profile, paper)
    assert "Mũi 2 · Dose 2: 25/11/2026" in receipt.lines


def test_dose_lines_may_be_dicts_and_a_missing_birth_date_prints_a_dash():
    view = CertificateView("Trần Thị Hồng Nhung", None, "0641•••••234", "Trạm Y tế",
                                   [{"dose_number": 3, "date": dt.date(2026, 11, 25), "vaccine": "Spikevax",
                                     "lot": "S-77"}], HC1_LIKE, 0)
    receipt = layouts.certificate(view, "TM-T88V", 80)
    assert "Mũi 3 · Dose 3: 25/11/2026" in receipt.lines and "Spikevax · Lô / Lot S-77" in receipt.lines
    assert "Ngày sinh / Date of birth: —" in receipt.lines


def test_a_reprint_says_so_with_its_count():
    assert not any("BẢN IN LẠI" in line for line in layouts.ticket(ticket_view(), "TM-T88V", 80).lines)
    assert "BẢN IN LẠI lần 2 · REPRINT #2" in layouts.ticket(ticket_view(copy=2), "TM-T88V", 80).lines
    cert = layouts.certificate(certificate_view(copy=0), "POS-5890", 58, copy=1)
    assert "BẢN IN LẠI lần 1 · REPRINT #1" in cert.lines


def name_line(name: str) -> Image.Image:
    builder = ReceiptBuilder("POS-5890", 58)
    builder.text(name, 26, bold=True)
    _, out = printed(builder.finish())
    return out.image


def test_tone_mark_name_matches_the_golden_rendering():
    image = name_line(TONE_MARK_NAME)
    golden = Image.open(GOLDEN / "tone_marks_384.png").convert("1")
    assert image.size == golden.size
    assert ImageChops.difference(image.convert("L"), golden.convert("L")).getbbox() is None


def test_decomposed_input_prints_the_same_as_composed():
    # A name typed on a keyboard that sends combining marks (NFD) must print exactly like the card's NFC text.
    assert ImageChops.difference(name_line(unicodedata.normalize("NFD", TONE_MARK_NAME)).convert("L"),
                                 name_line(TONE_MARK_NAME).convert("L")).getbbox() is None


@pytest.mark.parametrize("marked,plain", [("ễ", "e"), ("ặ", "a"), ("ờ", "o"), ("ủ", "u"), ("ỹ", "y"), ("Đ", "D")])
def test_every_mark_is_drawn(marked, plain):
    assert ImageChops.difference(name_line(marked).convert("L"), name_line(plain).convert("L")).getbbox()


def test_long_unbroken_text_wraps_instead_of_running_off_the_paper():
    view = ticket_view(name="Nguyễn" * 30)
    receipt = layouts.ticket(view, "POS-5890", 58)
    printed(receipt)
    assert "Nguyễn" * 30 in "".join(receipt.lines)  # every letter kept, over several lines
    assert sum(line.startswith("Nguy") or line.startswith("ễn") for line in receipt.lines) > 3


def test_the_strict_interpreter_refuses_what_the_profile_cannot_print():
    native = to_escpos(layouts.certificate(certificate_view(), "TM-T88V", 80))
    with pytest.raises(EscposError, match="qrCode|wide"):
        render_bytes(native, "POS-5890")  # no native QR and 512 > 384 dots
    with pytest.raises(EscposError, match="neither ASCII"):
        render_bytes("\x1b@Nguyễn\n".encode("utf-8"), "TM-T88V")  # Vietnamese as printer text
    with pytest.raises(EscposError, match="cut"):
        render_bytes(b"\x1b@\x1dV\x01", "POS-5890")  # no cutter
    with pytest.raises(EscposError, match="ends inside"):
        render_bytes(b"\x1b@\x1dv0\x00\x30\x00", "TM-T88V")


def test_zxing_reads_the_printed_ticket_picture_back_without_a_qr():
    # Tickets carry no QR code: nothing a scanner at the desk could confuse with an ID card.
    _, out = printed(layouts.ticket(ticket_view(), "TM-T88V", 80))
    assert zxingcpp.read_barcodes(out.image.convert("L")) == []


def test_a_reprinted_ticket_says_where_its_holder_is_instead_of_you_are_next():
    from dataclasses import replace

    next_up = layouts.ticket(replace(ticket_view(), people_ahead=0), "TM-T88V", 80)
    assert "Bạn là người tiếp theo." in next_up.lines
    for state, line in [("done", "Bạn đã tiêm xong hôm nay."), ("called", "Số của bạn đã được gọi.")]:
        reprinted = layouts.ticket(replace(ticket_view(copy=1), people_ahead=0, state=state), "TM-T88V", 80)
        text = " ".join(reprinted.lines)
        assert line in text
        assert "tiếp theo" not in text and "Dự kiến chờ" not in text and "ngồi chờ" not in text
