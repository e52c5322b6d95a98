"""Screening, injection and observation on a real store: the record, its outbox entry and the certificate job."""

import datetime as dt
import json

import pytest

from kiosk.checkin import CheckinService
from kiosk.config import from_dict
from kiosk.identity import parse
from kiosk.store import Store
from kiosk.vaccination import Injection, VaccinationInputError, VaccinationService, luhn_mod_n, make_uvci
from tests.conftest import SAMPLE_QR
from tests.support.clock import SteppedClock

pytestmark = pytest.mark.dates

START = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Vietnam


@pytest.fixture
def site(tmp_path):
    cfg = from_dict({"kiosk": {"site_id": "GL-01", "kiosk_id": "k1", "data_dir": str(tmp_path),
                               "min_free_mb": 1, "observation_minutes": 30}})
    store = Store(cfg.db_path)
    clock = SteppedClock(START)
    yield store, CheckinService(store, cfg.kiosk, clock), VaccinationService(store, cfg.kiosk, clock), clock
    store.close()


def test_full_visit(site):
    store, checkins, vaccinations, clock = site
    c = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    checkins.call_next("1", "staff:lan")
    vaccinations.record_screening(c["id"], "eligible", "staff:lan")
    v = vaccinations.record_injection(c["id"], Injection("comirnaty", " fk 1234 ", 2, "Lê Thị Mai"), "staff:lan")
    assert v["lot"] == "FK1234" and v["product"] == "EU/1/20/1528" and v["dose_number"] == 2
    assert checkins.get(c["id"])["state"] == "observing"
    with pytest.raises(VaccinationInputError) as e:
        vaccinations.finish(c["id"], "staff:lan")
    assert e.value.code == "observation_not_over"
    clock.advance(minutes=29, seconds=59)
    with pytest.raises(VaccinationInputError) as e:
        vaccinations.finish(c["id"], "staff:lan")
    assert e.value.code == "observation_not_over"  # a second short of the 30 minutes
    clock.advance(seconds=1)
    vaccinations.finish(c["id"], "staff:lan")
    assert checkins.get(c["id"])["state"] == "done"
    job = store.query_one("SELECT * FROM print_jobs WHERE kind='certificate'")
    assert job["subject_id"] == v["id"] and job["copy"] == 0
    record = json.loads(store.query_one("SELECT payload FROM outbox WHERE stream='vaccinations'")["payload"])
    assert record["person"] == {"id_number": "064195001234", "full_name": "Trần Thị Hồng Nhung",
                                "dob": "1995-08-12", "sex": "female"}
    assert record["uvci"] == v["uvci"] and record["vaccine"]["ma"] == "ORG-100030215"
    actions = [a["action"] for a in store.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["screening:eligible", "injection", "observation_end"]
    assert [h["id"] for h in vaccinations.history("064195001234")] == [v["id"]]


def test_postponed_needs_a_reason_and_defers(site):
    store, checkins, vaccinations, _clock = site
    c = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    checkins.call_next("1", "staff:lan")
    with pytest.raises(VaccinationInputError) as e:
        vaccinations.record_screening(c["id"], "postponed", "staff:lan")
    assert e.value.code == "reason_required"
    vaccinations.record_screening(c["id"], "postponed", "staff:lan", reason="sốt 38.5°C")
    assert checkins.get(c["id"])["state"] == "deferred"


@pytest.mark.parametrize("injection, code", [
    (Injection("aspirin", "A1", 1, "X"), "unknown_vaccine"),
    (Injection("comirnaty", "", 1, "X"), "bad_lot"),
    (Injection("comirnaty", "A1;DROP", 1, "X"), "bad_lot"),
    (Injection("comirnaty", "A1", 0, "X"), "bad_dose_number"),
    (Injection("comirnaty", "A1", 8, "X"), "bad_dose_number"),
    (Injection("comirnaty", "A1", 1, "  "), "bad_vaccinator"),
])
def test_bad_injection_forms_write_nothing(site, injection, code):
    store, checkins, vaccinations, _clock = site
    c = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    checkins.call_next("1", "staff:lan")
    vaccinations.record_screening(c["id"], "eligible", "staff:lan")
    with pytest.raises(VaccinationInputError) as e:
        vaccinations.record_injection(c["id"], injection, "staff:lan")
    assert e.value.code == code
    assert store.query_one("SELECT count(*) AS n FROM vaccinations")["n"] == 0
    assert checkins.get(c["id"])["state"] == "screened"


def test_injection_before_screening_is_refused(site):
    store, checkins, vaccinations, _clock = site
    c = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
    with pytest.raises(Exception, match="waiting → vaccinated"):
        vaccinations.record_injection(c["id"], Injection("comirnaty", "A1", 1, "X"), "staff:lan")
    assert store.query_one("SELECT count(*) AS n FROM outbox WHERE stream='vaccinations'")["n"] == 0


def test_uvci_check_character():
    uvci = make_uvci("GL-01", "6f26e0a3df2647b791b50e8257e5cea7")
    body, check = uvci.split("#")
    assert body == "URN:UVCI:01:VN:VXK/GL-01/6F26E0A3DF2647B7" and check == luhn_mod_n(body)
    # A single changed character changes the check character (Luhn mod N catches every single substitution).
    assert luhn_mod_n(body.replace("6F26", "6F27")) != check
