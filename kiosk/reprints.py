"""Reprint a citizen's ticket or certificate by what staff (or the citizen screen) know: the check-in and the kind.

The printing rules live in `kiosk.printing.jobs.request_reprint` (a new print_jobs row with the next copy number and
its audit entry, one commit); this module only finds the original job and refuses what cannot be reprinted.
"""

from __future__ import annotations

from base.refusal import Refusal
from kiosk.checkin import CheckinRefused
from kiosk.clock import Clock
from kiosk.printing import jobs
from kiosk.store import Store

KINDS = ("ticket", "certificate")


class ReprintRefused(Refusal):
    MESSAGES = {
        "reason_required": ("Cần ghi lý do in lại.", "A reason for the reprint is required."),
        "no_certificate": ("Chưa có giấy chứng nhận để in lại.", "There is no certificate to reprint yet."),
        "bad_kind": ("Loại bản in không hợp lệ.", "Unknown kind of printout."),
    }



def reprint(store: Store, clock: Clock, kind: str, checkin_id: str, actor: str, reason: str) -> dict:
    if kind not in KINDS:
        raise ReprintRefused("bad_kind")
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ReprintRefused("reason_required")
    original = jobs.original(store, kind, checkin_id)
    if original is None:
        # Every check-in has its ticket job; a certificate job exists once the observation has ended.
        raise ReprintRefused("no_certificate") if kind == "certificate" else CheckinRefused("not_found", checkin_id)
    job = jobs.request_reprint(store, original["id"], actor, reason, clock.stamp())
    return {"print_job": job["id"], "kind": kind, "copy": job["copy"]}
