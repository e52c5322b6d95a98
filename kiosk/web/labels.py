"""Words for the staff desk and technician page: the machine values the store keeps (queue states, sex, printer
states, ISO dates, UTC wall times, health fields) as Vietnamese first, English second, in the site's local time.

Templates reach these as Jinja filters (registered by `install`); the store keeps its codes unchanged.
"""

from __future__ import annotations

import datetime as dt

from base.web.words import day, label, local_time, value, vi

STATES = {
    "waiting": ("Đang chờ", "Waiting"),
    "called": ("Đã gọi", "Called"),
    "screened": ("Đã khám sàng lọc", "Screened"),
    "vaccinated": ("Đã tiêm", "Vaccinated"),
    "observing": ("Đang theo dõi sau tiêm", "Observing"),
    "done": ("Hoàn tất", "Done"),
    "deferred": ("Hoãn tiêm", "Postponed"),
    "left": ("Đã rời đi", "Left"),
}
SEXES = {"male": ("Nam", "Male"), "female": ("Nữ", "Female")}
# drivers.escpos_status.PrinterStatus.state, and what staff should do about it.
PRINTER_STATES = {
    "ok": ("Máy in sẵn sàng", "Printer ready"),
    "paper_near_end": ("Máy in sắp hết giấy – chuẩn bị cuộn mới", "Paper nearly out – have a new roll ready"),
    "paper_out": ("Máy in hết giấy – lắp cuộn giấy mới", "Printer out of paper – load a new roll"),
    "cover_open": ("Nắp máy in đang mở – đóng nắp lại", "Printer cover open – close it"),
    "offline": ("Máy in mất kết nối – kiểm tra cáp và nguồn", "Printer offline – check its cable and power"),
    "unknown": ("Máy in không trả lời – kiểm tra cáp và nguồn", "Printer not answering – check its cable and power"),
    "not_running": ("Phần in của kiosk không chạy – gọi kỹ thuật viên", "The printing part is not running – call a technician"),
}
PRINT_KINDS = {"ticket": ("Phiếu", "Ticket"), "certificate": ("Giấy chứng nhận", "Certificate"),
               "test": ("Trang in thử", "Test page")}
PRINT_JOB_STATES = {"pending": ("Chờ in", "Pending"), "printing": ("Đang in", "Printing"),
                    "done": ("Đã in", "Printed"), "failed": ("Lỗi in", "Failed")}
ROLES = {"staff": ("Nhân viên", "Staff"), "technician": ("Kỹ thuật viên", "Technician")}
CORRECTION_KINDS = {"missing_dose": ("Thiếu mũi tiêm", "Missing dose"), "wrong_dose": ("Sai mũi tiêm", "Wrong dose")}
# Health fields of the parts (base.health, kiosk.scanner, kiosk.sync.part, ...) on the technician page.
FIELDS = {
    "ok": ("Hoạt động tốt", "OK"), "alive": ("Đang chạy", "Running"), "state": ("Trạng thái", "State"),
    "status": ("Chi tiết máy in", "Printer detail"), "error": ("Lỗi", "Error"),
    "last_error": ("Lỗi gần nhất", "Last error"), "device": ("Thiết bị", "Device"), "port": ("Cổng", "Port"),
    "jobs": ("Lệnh in", "Print jobs"), "interrupted_jobs": ("Lệnh in bị ngắt", "Interrupted jobs"),
    "connected": ("Đã kết nối", "Connected"), "inflight": ("Đang gửi", "In flight"),
    "published": ("Đã gửi", "Published"), "resent": ("Gửi lại", "Resent"), "acked": ("Đã xác nhận", "Acknowledged"),
    "connects": ("Số lần kết nối", "Connects"), "health_sent": ("Báo cáo tình trạng đã gửi", "Health reports sent"),
    "queue_sent": ("Báo cáo hàng chờ đã gửi", "Queue reports sent"),
    "refused_by_broker": ("Bị máy chủ MQTT từ chối", "Refused by the broker"),
    "bad_messages": ("Tin nhắn lỗi", "Bad messages"), "source": ("Nguồn", "Source"),
    "capturing": ("Đang ghi hình", "Capturing"), "ended": ("Đã dừng", "Ended"),
    "fps": ("Khung hình/giây", "Frames per second"), "frames": ("Số khung hình", "Frames"),
    "opens": ("Số lần mở", "Opens"), "last_frame_age_s": ("Khung hình cuối cách đây", "Last frame age"),
    "unread_newest": ("Có khung hình chưa đọc", "Newest frame unread"), "scans": ("Lượt quét", "Scans"),
    "last_scan_error": ("Lỗi quét gần nhất", "Last scan error"),
    "decode_ms_p50": ("Thời gian giải mã (trung vị)", "Decode time (median)"),
    "frame_to_commit_ms_p50": ("Từ khung hình đến lưu (trung vị)", "Frame to commit (median)"),
    "frame_to_commit_ms_max": ("Từ khung hình đến lưu (lâu nhất)", "Frame to commit (longest)"),
    "purged": ("Đã xoá", "Purged"), "detail": ("Chi tiết", "Detail"),
}


def health_lines(health: dict, tz: dt.tzinfo) -> list[tuple[str, str]]:
    """A part's health (what /api/health and central get) as (field, value) lines in words, for people."""
    lines = []
    for key, v in health.items():
        if key == "ok":
            continue  # shown in its own column
        if key == "state" and v in PRINTER_STATES:
            text = label(PRINTER_STATES, v)
        elif key == "status" and isinstance(v, dict):
            text = v.get("detail") or "—"
        elif key == "jobs" and isinstance(v, dict):
            text = ", ".join(f"{vi(PRINT_JOB_STATES, state)} {n}" for state, n in v.items()) or "—"
        elif key.endswith("_wall") or (key.endswith("_at") and isinstance(v, (int, float))):
            text = local_time(v, tz)
        elif v is not None and (key.endswith("_s") or key.endswith("_ms") or "_ms_" in key):
            text = f"{v} giây · s" if key.endswith("_s") else f"{v} ms"
        else:
            text = value(v)
        lines.append((label(FIELDS, key) if key in FIELDS else key.replace("_", " "), text))
    return lines


def install(app, tz_of) -> None:
    """Register the filters; `tz_of()` is the site's time zone (read per request: the kiosk's clock has it)."""
    app.jinja_env.filters.update(
        state=lambda v: label(STATES, v), state_vi=lambda v: vi(STATES, v), sex=lambda v: label(SEXES, v),
        printer_state=lambda v: label(PRINTER_STATES, v), print_kind=lambda v: label(PRINT_KINDS, v),
        job_state=lambda v: label(PRINT_JOB_STATES, v), role=lambda v: label(ROLES, v),
        correction_kind=lambda v: label(CORRECTION_KINDS, v), field=lambda v: label(FIELDS, v),
        day=day, value=value,
        local=lambda wall, with_date=True: local_time(wall, tz_of(), with_date),
        health_lines=lambda health: health_lines(health, tz_of()),
    )
