"""The dashboard's words for the codes it shows (fleet states, printer and paper, correction states and kinds):
Vietnamese first, English second (base.web.words). The API keeps the codes."""

from __future__ import annotations

from base.web.words import day, label, local_time

FLEET_STATES = {"online": ("Trực tuyến", "Online"), "lost": ("Mất kết nối", "Lost"), "offline": ("Tắt", "Offline"),
                "never_seen": ("Chưa từng kết nối", "Never seen")}
PRINTER = {"ok": ("Sẵn sàng", "Ready"), "offline": ("Mất kết nối", "Offline"), "unknown": ("Không trả lời", "No answer")}
PAPER = {"ok": ("Đủ giấy", "OK"), "near_end": ("Sắp hết", "Low"), "low": ("Sắp hết", "Low"), "out": ("Hết giấy", "Out")}
CORRECTION_STATES = {"received": ("Chờ xử lý", "Waiting"), "approved": ("Đã duyệt", "Approved"),
                     "deferred": ("Tạm hoãn", "Deferred"), "rejected": ("Từ chối", "Rejected")}
CORRECTION_FIELDS = {"kind": ("Loại", "Kind"), "reason": ("Lý do", "Reason"), "filed_at": ("Gửi lúc", "Filed"),
                     "id_number": ("Số định danh", "ID number"), "full_name": ("Họ tên", "Name"),
                     "dob": ("Ngày sinh", "Birth date")}
CORRECTION_KINDS = {"missing_dose": ("Thiếu mũi tiêm", "Missing dose"), "wrong_dose": ("Sai mũi tiêm", "Wrong dose")}


def summary_value(key: str, v, tz) -> str:
    if key == "kind":
        return label(CORRECTION_KINDS, v)
    if key == "dob":
        return day(v)
    if key == "filed_at":
        return local_time(v, tz)
    return str(v)


def install(app, tz) -> None:
    """`tz`: the sites' local time zone."""
    app.jinja_env.filters.update(
        fleet_state=lambda v: label(FLEET_STATES, v), printer=lambda v: label(PRINTER, v) if v else "?",
        paper=lambda v: label(PAPER, v) if v else "?", correction_state=lambda v: label(CORRECTION_STATES, v),
        summary_key=lambda k: label(CORRECTION_FIELDS, k), summary_value=lambda k, v: summary_value(k, v, tz), day=day,
        local=lambda wall: local_time(wall, tz),
    )
