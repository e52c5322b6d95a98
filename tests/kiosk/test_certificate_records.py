"""A dose from check-in to a verified certificate: the record and its outbox entry, the certificate print job, the
certificate printed through the printing path (ESC/POS bytes rendered back to an image by the strict renderer, the
QR decoded from it), reprints, and scanning a certificate."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from base.refusal import Refusal
from base.signing import ensure_signing_key, kid_of, local_certificate, signing_dir
from drivers.escpos_render import decode_qr, render_bytes
from kiosk import audit
from kiosk.certificates import (CertificateError, DoseLine, RecordNotFound, certificate_view, citizen_verdict, hcert,
                                lookup_certificate, sample_certificate_view, sign_dose)
from kiosk.certificates.trustlist import trust_store
from kiosk.checkin import CheckinService
from kiosk.identity import KioskCode, parse
from kiosk.printing import layouts
from kiosk.printing.receipt import to_escpos
from kiosk.printing.render import render_job
from kiosk.reprints import reprint
from kiosk.vaccination import Injection, VaccinationService
from tests.conftest import SAMPLE_QR
from tests.support.clock import SteppedClock
from tests.support.dcc_issuer import ExternalIssuer

pytestmark = pytest.mark.dates

START = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Vietnam


@pytest.fixture
def site(store, kiosk_config):
    clock = SteppedClock(START)
    return (CheckinService(store, kiosk_config.kiosk, clock), VaccinationService(store, kiosk_config.kiosk, clock),
            clock)


def vaccinate(site, dose_number=1, vaccine="comirnaty", lot=" fk1234 "):
    checkins, vaccinations, clock = site
    checkin_id = checkins.check_in(parse(SAMPLE_QR), "camera").checkin["id"]
    checkins.transition(checkin_id, "called", "staff:an", desk="1")
    vaccinations.screen(checkin_id, "eligible", "doctor:binh")
    vac = vaccinations.record_injection(checkin_id, Injection(vaccine, lot, dose_number, "Y tá Lan"), "nurse:lan")
    clock.at += dt.timedelta(minutes=31)
    vaccinations.finish(checkin_id, "nurse:lan")
    return vac


def print_and_scan(view, profile="TM-T88V", paper=80) -> str:
    """The certificate layout → ESC/POS bytes → the paper as the strict renderer draws it → the QR read off it."""
    [paper_out] = render_bytes(to_escpos(layouts.certificate(view, profile, paper)), profile)
    [text] = decode_qr(paper_out.image)
    return text


def test_a_dose_is_recorded_with_its_outbox_entry_and_certificate_job(site, store):
    vac = vaccinate(site)
    assert vac["site_name"] == "Trạm Y tế Phường Yên Đỗ" and vac["lot"] == "FK1234"
    outbox = store.query("SELECT * FROM outbox WHERE stream='vaccinations'")
    assert len(outbox) == 1 and outbox[0]["record_id"] == vac["id"]
    assert json.loads(outbox[0]["payload"])["uvci"] == vac["uvci"]
    jobs = store.query("SELECT * FROM print_jobs WHERE kind='certificate'")
    assert [(j["subject_id"], j["copy"], j["state"]) for j in jobs] == [(vac["id"], 0, "pending")]


def test_the_certificate_view_of_a_dose(site, store):
    vac = vaccinate(site)
    view = certificate_view(store, vac["id"], now=START)
    assert (view.full_name, view.dob, view.masked_id, view.copy) == (
        "Trần Thị Hồng Nhung", dt.date(1995, 8, 12), "0641•••••234", 0)
    assert view.site_name == "Trạm Y tế Phường Yên Đỗ"
    assert view.doses == [DoseLine(1, dt.date(2026, 11, 25), "Comirnaty (Pfizer-BioNTech)", "FK1234")]
    with pytest.raises(RecordNotFound):
        certificate_view(store, "no-such-dose")


@pytest.mark.parametrize("profile, paper", [("TM-T88V", 80), ("POS-5890", 58)])
def test_issue_print_scan_verify_gives_the_same_fields(site, store, kiosk_config, profile, paper):
    """The certificate job the dose queued, printed by the worker's own render function (TM-T88V: native QR),
    or laid out for a 58 mm printer without native QR (raster QR)."""
    import dataclasses

    vac = vaccinate(site)
    config = dataclasses.replace(kiosk_config, printer=dataclasses.replace(kiosk_config.printer, profile=profile,
                                                                           paper_mm=paper))
    job = store.query_one("SELECT * FROM print_jobs WHERE kind='certificate' AND subject_id=?", (vac["id"],))
    _checkins, _vaccinations, clock = site
    [paper_out] = render_bytes(render_job(store, job, config, clock), profile)
    [scanned] = decode_qr(paper_out.image)
    result = hcert.verify(scanned, trust_store(kiosk_config.data_dir), clock.now())
    assert (result.valid, result.reason) == (True, "ok")
    out = result.to_json()
    assert (out["name"], out["dob"]) == ("Trần Thị Hồng Nhung", "1995-08-12")
    [entry] = out["doses"]
    assert (entry["dn"], entry["sd"], entry["dt"], entry["ci"], entry["mp"]) == (
        1, 2, "2026-11-25", vac["uvci"], "EU/1/20/1528")
    assert "064195001234" not in json.dumps(out)


def test_the_first_certificate_creates_the_kiosk_key_once(site, store, kiosk_config):
    vac = vaccinate(site)
    assert local_certificate(kiosk_config.data_dir) is None
    certificate_view(store, vac["id"], now=START)
    cert = local_certificate(kiosk_config.data_dir)
    assert cert is not None
    assert os.stat(signing_dir(kiosk_config.data_dir) / "dsc-key.pem").st_mode & 0o777 == 0o600
    _key, again = ensure_signing_key(kiosk_config.data_dir, "ignored: the key exists")
    assert kid_of(again) == kid_of(cert)


def test_the_paper_lists_earlier_doses_and_the_qr_holds_this_one(site, store, kiosk_config, tmp_path):
    first = vaccinate(site)
    site[2].at += dt.timedelta(days=60)
    second = vaccinate(site, dose_number=2)
    assert first["uvci"] != second["uvci"]
    view = certificate_view(store, second["id"], now=site[2].at)
    assert [(d.dose_number, d.date) for d in view.doses] == [(1, dt.date(2026, 11, 25)),
                                                                  (2, dt.date(2027, 1, 24))]
    result = hcert.verify(print_and_scan(view, "POS-5890", 58), trust_store(kiosk_config.data_dir), site[2].at)
    assert result.valid and [(d["dn"], d["ci"]) for d in result.to_json()["doses"]] == [(2, second["uvci"])]


def test_reprints_keep_the_uvci_count_copies_and_are_audited(site, store, kiosk_config):
    vac = vaccinate(site)
    clock = site[2]
    first = reprint(store, clock, "certificate", vac["checkin_id"], "staff:an", "giấy bị ướt / paper got wet")
    second = reprint(store, clock, "certificate", vac["checkin_id"], "staff:an", "lost")
    assert (first["copy"], second["copy"]) == (1, 2)
    job = store.query_one("SELECT * FROM print_jobs WHERE id=?", (second["print_job"],))
    assert (job["kind"], job["subject_id"], job["state"]) == ("certificate", vac["id"], "pending")
    view = certificate_view(store, vac["id"], copy=job["copy"], now=START)
    assert view.copy == 2 and view.uvci == vac["uvci"]  # printed as text on every copy
    result = hcert.verify(print_and_scan(view), trust_store(kiosk_config.data_dir), START)
    assert result.valid and result.to_json()["doses"][0]["ci"] == vac["uvci"]
    entries = [e for e in audit.entries(store, vac["checkin_id"]) if e["action"] == "print.reprint"]
    assert [(e["actor"], e["reason"], json.loads(e["detail"])["copy"]) for e in reversed(entries)] == [
        ("staff:an", "giấy bị ướt / paper got wet", 1), ("staff:an", "lost", 2)]
    assert [json.loads(e["detail"])["reprint_job"] for e in reversed(entries)] == [first["print_job"],
                                                                                   second["print_job"]]


def test_a_reprint_needs_a_reason_and_a_certificate(site, store):
    vac = vaccinate(site)
    not_vaccinated = site[0].check_in(parse("001090004321||Ai Đó|01011990|Nam|Hà Nội|03062021"), "camera")
    with pytest.raises(Refusal) as exc:
        reprint(store, site[2], "certificate", vac["checkin_id"], "staff:an", "  ")
    assert exc.value.code == "reason_required"
    with pytest.raises(Refusal) as exc:
        reprint(store, site[2], "certificate", not_vaccinated.checkin["id"], "staff:an", "lost")
    assert exc.value.code == "no_certificate"
    assert store.query_one("SELECT count(*) AS n FROM print_jobs WHERE copy > 0")["n"] == 0


def test_staff_scan_a_certificate_to_find_the_record(site, store):
    vac = vaccinate(site)
    text = print_and_scan(certificate_view(store, vac["id"], now=START))
    assert isinstance(parse(text), KioskCode) and parse(text).kind == "certificate"
    record = lookup_certificate(store, text)
    assert (record["id"], record["uvci"], record["masked_id"]) == (vac["id"], vac["uvci"], "0641•••••234")
    assert "id_number" not in record
    assert lookup_certificate(store, "HC1:garbage") is None
    foreign = ExternalIssuer(now=START)
    assert lookup_certificate(store, foreign.issue(START)) is None
    # Our UVCI copied into another person's certificate finds nothing.
    copied = foreign.dcc(uvci=vac["uvci"])
    assert lookup_certificate(store, foreign.issue(START, dcc=copied)) is None


def test_citizen_scan_shows_a_bilingual_verdict(site, store, kiosk_config):
    vac = vaccinate(site)
    text = certificate_view(store, vac["id"], now=START).qr_payload
    trust = trust_store(kiosk_config.data_dir)
    ok = citizen_verdict(hcert.verify(text, trust, START))
    assert ok["valid"] and ok["message_vi"] == "Chứng nhận hợp lệ." and ok["name"] == "Trần Thị Hồng Nhung"
    assert ok["doses"] == [{"dose_number": 1, "series": 2, "date": "2026-11-25"}]
    trust.revoke(kid_of(local_certificate(kiosk_config.data_dir)))
    bad = citizen_verdict(hcert.verify(text, trust, START))
    assert (bad["valid"], bad["reason"], bad["name"]) == (False, "revoked", None)
    assert bad["message_vi"] == "Khóa ký của chứng nhận đã bị thu hồi."
    assert bad["message_en"] == "The certificate's signing key has been revoked."


def test_every_reason_has_a_citizen_message():
    from kiosk.certificates import VERDICTS

    assert set(VERDICTS) == set(hcert.REASONS)


def test_no_certificate_is_signed_with_a_clock_from_1970(site, store, tmp_path):
    from base.signing import local_signer
    from kiosk.certificates import dcc
    from kiosk.vaccines import VACCINES

    signer = local_signer(tmp_path / "k", "t", START)
    dose = dcc.Dose(VACCINES["comirnaty"], 1, dt.date(2026, 11, 25), "URN:UVCI:01:VN:VXK/X/1#A")
    with pytest.raises(CertificateError) as exc:
        sign_dose(signer, "A B", None, dose, now=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    assert exc.value.code == "clock_not_set"


def test_sample_certificate_on_a_development_machine(tmp_path):
    view = sample_certificate_view(parse(SAMPLE_QR), tmp_path / "dev", now=START)
    assert view.masked_id == "0641•••••234" and view.copy == 0
    assert hcert.decode(view.qr_payload).dcc["v"][0]["ci"].startswith("URN:UVCI:01:VN:VXK/DEV/")
    assert hcert.verify(view.qr_payload, trust_store(tmp_path / "dev"), START).valid
    assert hcert.verify(view.qr_payload, trust_store(tmp_path / "elsewhere"), START).reason == "unknown_kid"


def test_a_certificate_scanned_at_the_kiosk_is_checked_offline(site, store, kiosk_config):
    from kiosk.certificates import verify_scanned

    vac = vaccinate(site)
    text = certificate_view(store, vac["id"], now=START).qr_payload
    verdict = verify_scanned(text, kiosk_config.data_dir, START)
    assert verdict["valid"] and verdict["doses"][0]["dose_number"] == 1
    assert verify_scanned(text[:-3], kiosk_config.data_dir, START)["valid"] is False


def test_with_a_1970_clock_no_key_is_made_either(site, store, kiosk_config):
    vac = vaccinate(site)
    with pytest.raises(CertificateError):
        certificate_view(store, vac["id"], now=dt.datetime(1970, 1, 1, 0, 5, tzinfo=dt.timezone.utc))
    assert local_certificate(kiosk_config.data_dir) is None


def test_many_first_users_at_once_share_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        certs = list(pool.map(lambda _: ensure_signing_key(tmp_path / "new", "race")[1], range(16)))
    assert len({kid_of(c) for c in certs}) == 1
    assert kid_of(local_certificate(tmp_path / "new")) == kid_of(certs[0])
