"""A citizen looks up the outcome of their correction by the reference on their slip, at any kiosk.

A request filed at this kiosk is answered from its own store (central's outcome arrives by the correction_outcome
command); any other is asked of central (GET /api/v1/corrections/<reference> at the origin of [certificates]
trust_list_url, over the same pinned connection as the trust list: kiosk.central_https).

Designed for a stranger at the screen who guesses references: a reference whose check digit is wrong is refused
before anything is looked up (and is not counted: it is a typing mistake); this screen looks up at most
LOOKUPS_PER_WINDOW references per window (central has its own limit per address); the answer names no person and
no dose: the kind, the day filed, the state, and the decision's reason only when it is one of the fixed REASONS.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from base.corrections import KIND_WORDS, REASONS, STATE_WORDS, read_reference, reason_code, show_reference
from base.refusal import Refusal
from base.throttle import Throttle
from kiosk.corrections import by_reference

LOOKUPS_PER_WINDOW, WINDOW_S = 10, 600.0
TIMEOUT_S = 8.0
MAX_ANSWER_BYTES = 16384

ERRORS = {
    "bad_reference": ("Mã tra cứu không đúng. Vui lòng kiểm tra lại 12 chữ số trên phiếu.",
                      "This reference is not valid. Please check the 12 digits on your slip."),
    "lookups_paused": ("Tra cứu quá nhiều lần. Vui lòng thử lại sau 10 phút hoặc hỏi nhân viên.",
                       "Too many look-ups. Please try again in 10 minutes or ask a staff member."),
    "reference_unknown": ("Không tìm thấy phản ánh với mã này.", "No correction has this reference."),
    "lookup_unavailable": ("Chưa kết nối được trung tâm. Vui lòng thử lại sau hoặc hỏi tại nơi đã gửi phản ánh.",
                           "Central cannot be reached now. Please try later or ask where you filed it."),
}


class LookupRefused(Refusal):
    MESSAGES = ERRORS


class CorrectionLookup:
    def __init__(self, store, certificates, throttle: Throttle | None = None, clock=time.time):
        self.store = store
        self.certificates = certificates  # kiosk.config.CertificatesSection: where central is, how it is trusted
        self.throttle = throttle or Throttle(LOOKUPS_PER_WINDOW, WINDOW_S)
        self.clock = clock

    def outcome(self, text: str) -> dict:
        reference = read_reference(text)
        if reference is None:
            raise LookupRefused("bad_reference")
        if not self.throttle.attempt("screen", self.clock()):
            raise LookupRefused("lookups_paused")
        row = by_reference(self.store, reference)
        if row is not None:
            found = {"kind": row["kind"], "filed_day": row["filed_wall"][:10],
                     "state": row["outcome_state"] or "received", "reason_code": reason_code(row["outcome_reason"])}
        else:
            found = self._ask_central(reference)
        return view(reference, found)

    def _ask_central(self, reference: str) -> dict:
        base = self.certificates.trust_list_url
        if not base:
            raise LookupRefused("lookup_unavailable")
        parts = urlsplit(base)
        url = f"{parts.scheme}://{parts.netloc}/api/v1/corrections/{reference}"
        try:
            status, body = self._get(url)
        except OSError:
            raise LookupRefused("lookup_unavailable") from None
        if status == 404:
            raise LookupRefused("reference_unknown")
        if status == 429:
            raise LookupRefused("lookups_paused")
        if status != 200:
            raise LookupRefused("lookup_unavailable")
        try:
            return json.loads(body)["outcome"]
        except (ValueError, KeyError, TypeError):
            raise LookupRefused("lookup_unavailable") from None

    def _get(self, url: str) -> tuple[int, bytes]:
        c = self.certificates
        if c.central_pin and url.startswith("https:"):  # the key the kiosk enrolled with (kiosk.central_https)
            from kiosk.central_https import TrustRule, request

            return request(url, TrustRule(c.central_pin, c.ca_file), timeout=TIMEOUT_S, max_bytes=MAX_ANSWER_BYTES)
        context = ssl.create_default_context(cafile=c.ca_file or None) if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=context) as answer:
                return answer.status, answer.read(MAX_ANSWER_BYTES)
        except urllib.error.HTTPError as exc:
            return exc.code, b""


def view(reference: str, found: dict) -> dict:
    """What the screen shows: words only, nothing about the person or the dose."""
    state = found.get("state") if found.get("state") in STATE_WORDS else "received"
    kind = KIND_WORDS.get(found.get("kind"), ("", ""))
    reason = REASONS.get(found.get("reason_code") or "", ("", ""))
    day = str(found.get("filed_day") or "")[:10]
    return {"reference": show_reference(reference), "state": state, "state_vi": STATE_WORDS[state][0],
            "state_en": STATE_WORDS[state][1], "kind_vi": kind[0], "kind_en": kind[1],
            "filed_day": "/".join(reversed(day.split("-"))) if day else "", "reason_vi": reason[0],
            "reason_en": reason[1]}
