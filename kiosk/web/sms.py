"""The SMS opt-in on the citizen screen (POST /checkin/sms) and what the screens need to know of the SMS part.

The endpoint is the kiosk's own screen's only (loopback, JSON): a device on the site LAN cannot register numbers.
The rules (format, consent, one day, a cap per number) are kiosk.sms.optin's.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from base.privacy import mask_phone
from kiosk import checkin
from kiosk.sms import optin
from kiosk.sms.numbers import SmsRefused
from kiosk.sms.outbox import Outbox
from kiosk.web.api import json_object
from kiosk.web.guard import error_json, kiosk, loopback_json

bp = Blueprint("sms", __name__)

STATUS = {"sms_off": 409, "not_found": 404, "optin_closed": 409, "phone_limit": 429}


@bp.app_context_processor
def inject():
    return {"sms_offer": kiosk().part("sms") is not None}


@bp.post("/checkin/sms")
@loopback_json
def opt_in():
    app = kiosk()
    body = json_object()
    try:
        if app.part("sms") is None:
            raise SmsRefused("sms_off")
        shown = optin.opt_in(app.store, app.clock, str(body.get("checkin_id", "")), str(body.get("phone", "")),
                             body.get("agree") is True)
    except SmsRefused as exc:
        return error_json(exc, STATUS.get(exc.code, 422))
    return jsonify({"ok": True, **shown})


# -- the technician page ---------------------------------------------------------------------------------------
STATE_LABELS = {
    "pending": ("Đang chờ gửi", "Waiting to be sent"),
    "sending": ("Đang gửi", "Being sent"),
    "sent": ("Đã gửi", "Sent"),
    "uncertain": ("Có thể đã gửi (kiosk dừng khi đang gửi; không gửi lại)",
                  "May have been sent (the kiosk stopped while sending; not sent again)"),
    "failed": ("Không gửi được (mạng từ chối số này)", "Not sent (the network refuses this number)"),
    "expired": ("Bỏ qua (không còn đúng lúc)", "Dropped (no longer true)"),
}
KIND_LABELS = {"soon": ("Sắp đến lượt", "Turn near"), "called": ("Mời đến bàn", "Called to a desk"),
               "dose": ("Mũi tiêm", "Dose")}
ERROR_LABELS = {
    "modem_gone": ("Không thấy modem (bị rút ra hoặc đổi cổng)", "Modem not found (unplugged or on another port)"),
    "modem_busy": ("Modem đang bị chương trình khác giữ (ModemManager?)",
                   "Another program holds the modem (ModemManager?)"),
    "modem_permission": ("Không có quyền mở modem (nhóm dialout)", "No permission to open the modem (dialout group)"),
    "sim_not_ready": ("SIM chưa sẵn sàng (không có SIM hoặc cần mã PIN)", "SIM not ready (no SIM, or a PIN is needed)"),
    "timeout": ("Modem không trả lời", "The modem did not answer"),
    "bad_gammurc": ("Tệp cấu hình Gammu không đọc được", "The Gammu configuration cannot be read"),
    "bad_text": ("Nội dung tin nhắn không hợp lệ", "The text cannot be written"),
}


def error_label(code: str | None) -> tuple[str, str] | None:
    if not code:
        return None
    if code.startswith("cms_") and code[4:].isdigit():
        from drivers.gsm_modem import CMS_MEANINGS, SUBSCRIPTION_CODES

        cms = int(code[4:])
        hint = (" – thường do SIM hết tiền hoặc bị chặn", " – usually a SIM without credit, or barred") \
            if cms in SUBSCRIPTION_CODES else ("", "")
        meaning = CMS_MEANINGS.get(cms, "")
        return (f"Mạng từ chối (+CMS ERROR {cms}: {meaning}){hint[0]}",
                f"Refused by the network (+CMS ERROR {cms}: {meaning}){hint[1]}")
    return ERROR_LABELS.get(code, (code, code))


def tech_view(app) -> dict | None:
    """Today's texts with masked numbers, and the part's health; None when the kiosk has no SMS part."""
    part = app.part("sms")
    if part is None:
        return None
    rows = Outbox(app.store).of_day(app.clock.today().isoformat())
    tickets = {r["checkin_id"]: checkin.get(app.store, r["checkin_id"]) for r in rows}
    numbers = {r["checkin_id"]: optin.number_for(app.store.db, r["checkin_id"]) for r in rows}
    shown = [{"id": r["id"], "created_wall": r["created_wall"], "kind": KIND_LABELS[r["kind"]],
              "ticket": (tickets[r["checkin_id"]] or {}).get("number"),
              "state": r["state"], "state_label": STATE_LABELS[r["state"]],
              "phone": mask_phone(numbers[r["checkin_id"]]),
              "parts": f"{r['parts_sent']}/{r['parts_total']}" if r["parts_total"] else "", "attempts": r["attempts"],
              "error": error_label(r["last_error"]) if r["state"] not in ("sent", "expired") else None}
             for r in rows]
    health = part.health()
    return {"health": health, "rows": shown, "modem_error": error_label(health["last_error"])}
