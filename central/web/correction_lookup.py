"""GET /api/v1/corrections/<reference>: the outcome of a citizen's correction by the reference on their slip, for
any kiosk's citizen screen (kiosk.web.citizen asks here when the request was filed at another kiosk).

Designed for a stranger who guesses references: the answer names no person and no dose (kind, day filed, state,
the decision's reason only when it is one of the Ministry's fixed reasons); a malformed reference (the check digit
catches typing mistakes) is answered 400 before any look-up; each address may look up LOOKUPS_PER_WINDOW references
per window (429 after that), so at 10^11 possible references guessing finds nobody's. No login: kiosks carry none
for this; the answer is worth nothing without the reference.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from base.corrections import read_reference
from base.throttle import Throttle
from central import corrections

bp = Blueprint("correction_lookup", __name__)

LOOKUPS_PER_WINDOW, WINDOW_S = 30, 600.0


def _refusal(code: str, vi: str, en: str, status: int):
    return jsonify({"ok": False, "error": {"code": code, "message_vi": vi, "message_en": en}}), status


@bp.get("/api/v1/corrections/<reference>")
def correction_outcome(reference: str):
    ops = current_app.extensions["ops"]
    digits = read_reference(reference[:40])
    if digits is None:
        return _refusal("bad_reference", "Mã tra cứu không đúng. Vui lòng kiểm tra lại.",
                        "This reference is not valid. Please check it.", 400)
    throttle = current_app.extensions.setdefault("correction_lookups", Throttle(LOOKUPS_PER_WINDOW, WINDOW_S))
    if not throttle.attempt(request.remote_addr or "", time.time()):
        return _refusal("lookups_paused", "Tra cứu quá nhiều lần. Vui lòng thử lại sau.",
                        "Too many look-ups. Please try again later.", 429)
    found = corrections.outcome_by_reference(ops.store, ops.ops_store, digits)
    if found is None:
        return _refusal("reference_unknown", "Không tìm thấy phản ánh với mã này.",
                        "No correction has this reference.", 404)
    return jsonify({"ok": True, "outcome": found})
