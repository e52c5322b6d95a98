"""The receipts the kiosk prints, for any profile and paper width: the queue ticket, the vaccination certificate and
the citizen's slip for a correction request (its reference, to look the outcome up at any kiosk).

Inputs are plain data objects; this module reads nothing from the store. Texts are Vietnamese first, then English.
A reprint says so in a black banner (`BẢN IN LẠI`) with its count, so a second copy is never taken for the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.printing.receipt import Receipt, ReceiptBuilder

if TYPE_CHECKING:
    from kiosk.certificates import CertificateView

NEXT_STEP = ("Vui lòng ngồi chờ và theo dõi màn hình gọi số. Mang theo thẻ CCCD khi được gọi.",
             "Please take a seat and watch the screen for your number. Bring your ID card when called.")
# A ticket reprinted after its number was called says where its holder is, not "you are next".
STATE_LINES = {
    "called": ("Số của bạn đã được gọi. Mời đến bàn được gọi trên màn hình.",
               "Your number has been called. Please go to the desk shown on the screen."),
    "screened": ("Bạn đã được khám sàng lọc. Mời đến bàn tiêm.", "You have been screened. Please go to the desk."),
    "vaccinated": ("Bạn đã được tiêm. Mời ngồi theo dõi 30 phút.", "You are vaccinated. Please wait 30 minutes."),
    "observing": ("Bạn đã được tiêm. Mời ngồi theo dõi 30 phút.", "You are vaccinated. Please wait 30 minutes."),
    "done": ("Bạn đã tiêm xong hôm nay.", "Your vaccination today is complete."),
    "deferred": ("Hôm nay bạn được hoãn tiêm. Vui lòng hỏi nhân viên.", "Your vaccination is postponed. Please ask staff."),
    "left": ("Số này đã được huỷ. Vui lòng hỏi nhân viên.", "This number was cancelled. Please ask a staff member."),
}


@dataclass(frozen=True)
class TicketView:
    site_name: str
    number: int
    checked_in: dt.datetime  # local time
    full_name: str
    masked_id: str
    people_ahead: int
    wait_minutes: int
    copy: int = 0
    state: str = "waiting"  # kiosk.checkin.STATES: the queue lines are printed only while it waits


def _sizes(width: int) -> tuple[int, int, int]:
    """(small, body, title) font sizes in pixels: readable on 58 mm, not sparse on 80 mm."""
    body = max(18, width // 22)
    return max(15, body * 4 // 5), body, body * 13 // 10


def _field(item, name: str):
    """A dose line's field, whether the certificate module hands over objects or dicts."""
    return item[name] if isinstance(item, Mapping) else getattr(item, name)


def _date(value: dt.date | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%d/%m/%Y")


def _reprint_banner(b: ReceiptBuilder, copy: int, size: int) -> None:
    if copy > 0:
        b.gap(4)
        b.text(f"BẢN IN LẠI lần {copy} · REPRINT #{copy}", size, bold=True, align="center", invert=True)
        b.gap(4)


def ticket(view: TicketView, profile: str, paper_mm: int) -> Receipt:
    b = ReceiptBuilder(profile, paper_mm)
    small, body, title = _sizes(b.width)
    b.text(view.site_name or "Điểm tiêm chủng", title, bold=True, align="center")
    _reprint_banner(b, view.copy, body)
    b.rule()
    b.text("SỐ THỨ TỰ · YOUR NUMBER", small, align="center")
    # The number as the screens show and the display calls it ("Mời số 28"): a padded "028" reads as another number.
    b.big_text(str(view.number))
    b.text(view.checked_in.strftime("%H:%M  %d/%m/%Y"), body, align="center")
    b.rule()
    b.text(view.full_name, body, bold=True)
    b.text(f"Số định danh / ID: {view.masked_id}", body)
    b.rule()
    if view.state != "waiting":
        vi, en = STATE_LINES.get(view.state, STATE_LINES["called"])
        b.text(vi, body, bold=True)
        b.text(en, small)
    else:
        _queue_lines(b, view, small, body)
    b.gap(body)
    return b.finish()


def _queue_lines(b: ReceiptBuilder, view: TicketView, small: int, body: int) -> None:
    b.text(NEXT_STEP[0], body)
    b.text(NEXT_STEP[1], small)
    b.gap(body // 2)
    if view.people_ahead:
        b.text(f"Dự kiến chờ khoảng {view.wait_minutes} phút ({view.people_ahead} người trước bạn)", body, bold=True)
        b.text(f"Estimated wait: about {view.wait_minutes} min ({view.people_ahead} ahead of you)", small)
    else:
        b.text("Bạn là người tiếp theo.", body, bold=True)
        b.text("You are next.", small)


def certificate(view: CertificateView, profile: str, paper_mm: int, copy: int | None = None) -> Receipt:
    """`view` is a CertificateView or any object with the same attributes; `copy` overrides view.copy."""
    copy = view.copy if copy is None else copy
    b = ReceiptBuilder(profile, paper_mm)
    small, body, title = _sizes(b.width)
    b.text("GIẤY XÁC NHẬN ĐÃ TIÊM VẮC XIN COVID-19", title, bold=True, align="center")
    b.text("COVID-19 vaccination certificate", small, align="center")
    _reprint_banner(b, copy, body)
    b.rule()
    b.text("Họ và tên / Name", small)
    b.text(view.full_name, body, bold=True)
    b.text(f"Ngày sinh / Date of birth: {_date(view.dob)}", body)
    b.text(f"Số định danh / ID: {view.masked_id}", body)
    b.rule()
    for dose in view.doses:
        number = _field(dose, "dose_number")
        b.text(f"Mũi {number} · Dose {number}: {_date(_field(dose, 'date'))}", body, bold=True)
        b.text(f"{_field(dose, 'vaccine')} · Lô / Lot {_field(dose, 'lot')}", body)
        b.gap(small // 2)
    b.text(f"Nơi tiêm / Site: {view.site_name}", body)
    b.rule()
    if view.qr_payload:
        b.qr(view.qr_payload)
        b.text("Mã QR chứng nhận / Certificate QR", small, align="center")
    if view.uvci:
        b.text(f"Mã chứng nhận / Certificate ID: {view.uvci}", small, align="center")
    b.gap(body)
    return b.finish()


@dataclass(frozen=True)
class CorrectionSlipView:
    site_name: str
    reference: str  # as shown: PA-1234-5678-9012 (base.corrections.show_reference)
    filed: dt.datetime  # local time
    answer_by: dt.datetime  # local time: filed + 48 hours
    masked_id: str
    kind: tuple[str, str]  # (Vietnamese, English)
    about: tuple[str, str]  # what it is about, in words (base.corrections.about_words)


def correction_slip(view: CorrectionSlipView, profile: str, paper_mm: int) -> Receipt:
    b = ReceiptBuilder(profile, paper_mm)
    small, body, title = _sizes(b.width)
    b.text("PHIẾU TIẾP NHẬN PHẢN ÁNH", title, bold=True, align="center")
    b.text("Correction request received", small, align="center")
    b.text(view.site_name or "Điểm tiêm chủng", body, align="center")
    b.rule()
    b.text("MÃ TRA CỨU · REFERENCE", small, align="center")
    b.big_text(view.reference)
    b.text(view.filed.strftime("%H:%M  %d/%m/%Y"), body, align="center")
    b.rule()
    b.text(f"Số định danh / ID: {view.masked_id}", body)
    b.text(f"{view.kind[0]} · {view.kind[1]}", body, bold=True)
    if view.about[0]:
        b.text(view.about[0], body)
        b.text(view.about[1], small)
    b.rule()
    b.text(f"Trung tâm trả lời trước {view.answer_by.strftime('%H:%M %d/%m/%Y')}.", body, bold=True)
    b.text(f"Central answers by {view.answer_by.strftime('%H:%M %d/%m/%Y')}.", small)
    b.text("Xem kết quả tại bất kỳ kiosk nào: chọn \"Tra cứu phản ánh\" và nhập mã trên.", body)
    b.text("See the outcome at any kiosk: choose \"Look up a request\" and type the reference.", small)
    b.gap(body)
    return b.finish()


def test_slip(config) -> bytes:
    """A short slip in the kiosk's own rendering (Vietnamese as raster) with a QR the technician can scan: the
    technician page's test print and `vaxkiosk doctor --test-print`."""
    from kiosk.printing.receipt import ReceiptBuilder, to_escpos

    b = ReceiptBuilder(config.printer.profile, config.printer.paper_mm)
    b.text("Kiểm tra máy in / printer test", 28, bold=True, align="center")
    b.text(f"{config.kiosk.site_id} · {config.kiosk.kiosk_id}", 24, align="center")
    b.qr(f"VXK1:DOCTOR:{config.kiosk.kiosk_id}")
    return to_escpos(b.finish())
