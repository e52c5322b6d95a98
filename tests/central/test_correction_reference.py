"""Corrections central can act on: what a request is about reaches central's page in words, and the citizen's
reference looks the outcome up from any kiosk (central's GET /api/v1/corrections/<reference>) — with nothing
personal in the answer, and a stranger guessing references stopped by the check digit and the rate limits."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from base.corrections import new_reference, show_reference
from central.web.correction_lookup import LOOKUPS_PER_WINDOW
from kiosk.config import CertificatesSection
from tests.central.conftest import check_in, outbox_empty, vaccinate, wait_for
from tests.central.test_web import Browser, file_correction


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_central_shows_what_a_correction_is_about_and_any_kiosk_finds_its_outcome(central, kiosk_apps, tmp_path):
    from kiosk.correction_lookup import CorrectionLookup, LookupRefused
    from kiosk.store import Store

    app = kiosk_apps("GL-01", "gl-ref")
    cid = check_in(app, 1)
    vaccinate(app, cid)
    dose = app.store.query_one("SELECT id FROM vaccinations")["id"]
    missing = file_correction(app, cid, "missing_dose", "Mũi 2 tiêm ở bệnh viện", row=True)
    wrong = file_correction(app, cid, "wrong_dose", "Sai số lô", dose=dose, row=True)
    wait_for(lambda: outbox_empty(app), 15, what="corrections delivered")
    wait_for(lambda: central.store.record_count("corrections") == 2, 10, what="stored")

    b = Browser(central.port)
    b.login()
    page = b.get("/corrections")[2]
    assert "Người dân cho biết: đã tiêm mũi 2 spikevax ngày" in page
    assert "Bệnh viện &lt;b&gt;Pleiku&lt;/b&gt;" in page and "<b>Pleiku</b>" not in page  # the citizen's text, escaped
    assert "Ghi nhận: mũi 1 comirnaty, lô FK1234" in page and "Trạm Y tế Phường Yên Đỗ (GL-01)" in page
    assert show_reference(missing["reference"]) in page
    csrf = b.csrf("/corrections")
    b.post(f"/corrections/{missing['id']}", {"csrf": csrf, "state": "rejected", "reason_code": "blurred_photo",
                                              "reason": ""})
    b.post(f"/corrections/{wrong['id']}", {"csrf": csrf, "state": "deferred", "reason_code": "other",
                                            "reason": "Gọi chị Trần Thị Thử 0912345678"})

    # Another kiosk (another site even) asks central: words only, nothing about the person or the dose.
    elsewhere = Store(tmp_path / "other-kiosk.db")
    try:
        lookup = CorrectionLookup(elsewhere, CertificatesSection(
            trust_list_url=f"http://127.0.0.1:{central.port}/api/v1/trustlist"))
        got = lookup.outcome(show_reference(missing["reference"]))
        assert got["state"] == "rejected" and got["reason_vi"] == "Ảnh chụp không rõ"
        assert got["kind_en"] == "Missing dose" and got["reference"] == show_reference(missing["reference"])
        deferred = lookup.outcome(wrong["reference"])
        assert deferred["state"] == "deferred" and deferred["reason_vi"] == ""  # staff's free text is not shown
        text = json.dumps([got, deferred], ensure_ascii=False)
        for secret in (missing["id_number"], "Thử", "FK1234", "Pleiku", "0912345678", "spikevax"):
            assert secret not in text
        try:
            lookup.outcome(new_reference())
            raise AssertionError("an unknown reference was answered")
        except LookupRefused as exc:
            assert exc.code == "reference_unknown"
    finally:
        elsewhere.close()
    # The kiosk that filed them answers from its own store once the outcome has come back to it.
    wait_for(lambda: app.store.query_one("SELECT outcome_state FROM corrections WHERE id = ?",
                                         (missing["id"],))["outcome_state"] == "rejected", 15, what="outcome back")
    local = CorrectionLookup(app.store, CertificatesSection()).outcome(missing["reference"])
    assert local["state"] == "rejected" and local["reason_en"] == "The photo is blurred"


def test_a_stranger_guessing_references_is_stopped(central):
    # A mistyped reference (wrong check digit) is refused before any look-up.
    good = new_reference()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert get(central.port, f"/api/v1/corrections/{bad}")[1]["error"]["code"] == "bad_reference"
    assert get(central.port, "/api/v1/corrections/%27%20OR%201%3D1%20--")[0] == 400
    # Valid-looking guesses: LOOKUPS_PER_WINDOW answered "unknown", then the address is paused.
    statuses = [get(central.port, f"/api/v1/corrections/{new_reference()}")[0] for _ in range(LOOKUPS_PER_WINDOW + 5)]
    assert statuses == [404] * LOOKUPS_PER_WINDOW + [429] * 5


def test_a_kiosk_screen_pauses_a_guesser(tmp_path):
    from base.throttle import Throttle
    from kiosk.correction_lookup import LOOKUPS_PER_WINDOW as SCREEN_LOOKUPS
    from kiosk.correction_lookup import CorrectionLookup, LookupRefused
    from kiosk.store import Store

    store = Store(tmp_path / "kiosk.db")
    now = [1000.0]
    lookup = CorrectionLookup(store, CertificatesSection(), Throttle(SCREEN_LOOKUPS, 600.0), clock=lambda: now[0])
    codes = []
    for _ in range(SCREEN_LOOKUPS + 2):
        try:
            lookup.outcome(new_reference())
        except LookupRefused as exc:
            codes.append(exc.code)
    # No central configured here: "unavailable" while allowed, then paused; the window passing lets it try again.
    assert codes == ["lookup_unavailable"] * SCREEN_LOOKUPS + ["lookups_paused"] * 2
    now[0] += 601
    try:
        lookup.outcome(new_reference())
    except LookupRefused as exc:
        assert exc.code == "lookup_unavailable"
    store.close()
