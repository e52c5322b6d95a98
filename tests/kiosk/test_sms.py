"""The SMS part on a real store, a stepped clock and real Gammu talking to the virtual modem: numbers and opt-ins,
when texts are queued, what reaches the network (decoded independently), faults, and the day-end purge."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from base.privacy import mask_phone
from drivers.gsm_modem import GammuModem, write_gammurc
from drivers.sms_encoding import unaccent
from drivers.virtual_modem import VirtualModem
from kiosk.checkin import CheckinService
from base.config import ConfigError
from kiosk.config import from_dict
from kiosk.identity import parse
from kiosk.sms import messages, optin
from kiosk.sms.numbers import SmsRefused, parse_mobile
from kiosk.sms.part import SmsPart, make_part
from kiosk.store import Store
from kiosk.vaccination import Injection, VaccinationService
from tests.conftest import SAMPLE_QR
from tests.support.burst import payload
from tests.support.clock import SteppedClock
from tests.support.pdu import decode, messages as received_messages

pytestmark = pytest.mark.dates

START = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Vietnam
PHONE = "0912345678"
E164 = "+84912345678"


# -- numbers -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("typed, number", [
    ("0912345678", "+84912345678"), ("091 234 5678", "+84912345678"), ("+84912345678", "+84912345678"),
    ("+84 382 123 456", "+84382123456"), ("0523.456.789", "+84523456789"), ("0701234567", "+84701234567"),
    ("0861234567", "+84861234567"),
])
def test_vietnamese_mobile_numbers(typed, number):
    assert parse_mobile(typed) == number


@pytest.mark.parametrize("typed", ["", "091234567", "09123456789", "0212345678", "0112345678", "84912345678",
                                   "+840912345678", "+8491234567", "+1 202 555 0143", "09l2345678", "٠٩١٢٣٤٥٦٧٨"])
def test_what_is_not_a_vietnamese_mobile_number(typed):
    with pytest.raises(SmsRefused) as refused:
        parse_mobile(typed)
    assert refused.value.code == "bad_phone"
    assert "10 chữ số" in refused.value.message_vi and "03, 05, 07, 08 hoặc 09" in refused.value.message_vi


def test_a_number_is_shown_masked():
    assert mask_phone("+84912345678") == "091••••678"
    assert mask_phone(None) == ""


# -- a site --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """One virtual modem and one kept Gammu connection for the module (Gammu's set-up takes about 5 s)."""
    folder = tmp_path_factory.mktemp("sms-modem")
    with VirtualModem(folder / "ttyUSB-sms") as modem:
        gammurc = write_gammurc(folder / "gammurc", modem.path)
        driver = GammuModem(gammurc)
        yield modem, driver, gammurc
        driver.close()


class Site:
    def __init__(self, tmp_path, line, **sms):
        self.modem, driver, gammurc = line
        self.config = from_dict({
            "kiosk": {"site_id": "GL-01", "kiosk_id": "k1", "site_name": "Trạm Y tế Phường Yên Đỗ",
                      "data_dir": str(tmp_path), "min_free_mb": 1},
            "sms": {"gammurc": str(gammurc), "retry_seconds": 30, **sms}})
        self.store = Store(self.config.db_path)
        self.clock = SteppedClock(START)
        self.checkins = CheckinService(self.store, self.config.kiosk, self.clock)
        self.vaccinations = VaccinationService(self.store, self.config.kiosk, self.clock)
        self.part = SmsPart(self.store, self.config, self.clock, modem=driver)

    def check_in(self, i: int) -> dict:
        return self.checkins.check_in(parse(payload(i)), "camera").checkin

    def opt_in(self, checkin: dict, phone: str = PHONE) -> dict:
        return optin.opt_in(self.store, self.clock, checkin["id"], phone, True)

    def texts(self) -> list[dict]:
        return self.store.query("SELECT m.*, t.number AS ticket FROM sms_outbox m JOIN tickets t "
                                "ON t.checkin_id = m.checkin_id ORDER BY m.id")

    def send_all(self) -> None:
        while self.part.step():
            pass


@pytest.fixture
def site(tmp_path, line):
    modem = line[0]
    modem.refuse(None)
    modem.received.clear()
    s = Site(tmp_path, line)
    yield s
    modem.refuse(None)
    if modem._master is None:
        modem.plug()
    s.store.close()


# -- opt-in --------------------------------------------------------------------------------------------------------
def test_opt_in_needs_consent_today_and_an_open_ticket(site):
    c = site.check_in(0)
    with pytest.raises(SmsRefused) as refused:
        optin.opt_in(site.store, site.clock, c["id"], PHONE, False)
    assert refused.value.code == "consent_required"
    with pytest.raises(SmsRefused) as refused:
        optin.opt_in(site.store, site.clock, "no-such-checkin", PHONE, True)
    assert refused.value.code == "not_found"
    shown = site.opt_in(c)
    assert shown == {"ticket": 1, "phone_masked": "091••••678"}
    site.opt_in(c, "0987654321")  # typed again: the new number replaces the old one
    assert [r["number"] for r in site.store.query("SELECT number FROM sms_optins")] == ["+84987654321"]
    site.checkins.transition(c["id"], "left", "staff:lan")
    with pytest.raises(SmsRefused) as refused:
        site.opt_in(c)
    assert refused.value.code == "optin_closed"
    site.clock.advance(days=1)  # yesterday's check-in is not today's
    with pytest.raises(SmsRefused) as refused:
        site.opt_in(site.checkins.check_in(parse(payload(1)), "camera").checkin | {"id": c["id"]})
    assert refused.value.code == "not_found"


def test_one_number_takes_the_texts_of_a_family_not_of_a_crowd(site):
    family = [site.check_in(i) for i in range(optin.MAX_CHECKINS_PER_NUMBER + 1)]
    for c in family[:-1]:
        site.opt_in(c)
    with pytest.raises(SmsRefused) as refused:
        site.opt_in(family[-1])
    assert refused.value.code == "phone_limit"
    assert site.store.query_one("SELECT count(*) AS n FROM sms_optins")["n"] == optin.MAX_CHECKINS_PER_NUMBER


# -- when texts are queued -----------------------------------------------------------------------------------------
def test_queue_texts_three_before_you_and_come_to_the_desk(site):
    tickets = [site.check_in(i) for i in range(7)]          # numbers 1..7
    for c in (tickets[1], tickets[3], tickets[4], tickets[6]):  # 2, 4, 5, 7 opt in
        site.opt_in(c)
    # At once: 2 has one person before it, 4 has three; 5 and 7 have more
    assert [(t["ticket"], t["kind"], json.loads(t["params"])) for t in site.texts()] == [
        (2, "soon", {"ticket": 2, "ahead": 1}), (4, "soon", {"ticket": 4, "ahead": 3})]
    site.checkins.call_next("3", "staff:lan")                # 1 to desk 3: 5 now has three before it
    site.checkins.call_next("1", "staff:lan")                # 2 to desk 1; 6 would be next but did not opt in
    got = [(t["ticket"], t["kind"], json.loads(t["params"])) for t in site.texts()]
    assert got[2:] == [(5, "soon", {"ticket": 5, "ahead": 3}), (2, "called", {"ticket": 2, "desk": "1"})]
    site.checkins.call_next("2", "staff:lan")                # 3 to desk 2: 7 has three before it (4, 5, 6)
    site.checkins.call_next("2", "staff:lan")                # 4 to desk 2
    kinds = [(t["ticket"], t["kind"]) for t in site.texts()]
    assert kinds[4:] == [(7, "soon"), (4, "called")]
    assert kinds.count((4, "soon")) == 1                      # once per check-in, however the queue moves


def test_no_opt_in_no_text(site):
    c = site.check_in(0)
    site.check_in(1)
    site.checkins.call_next("1", "staff:lan")
    site.vaccinations.record_screening(c["id"], "eligible", "staff:lan")
    site.vaccinations.record_injection(c["id"], Injection("comirnaty", "FK1", 1, "Lê Thị Mai"), "staff:lan")
    assert site.texts() == []


def test_dose_text_with_certificate_next_dose_and_health_book_hint(site):
    first, booster, single = (site.check_in(i) for i in range(3))
    for c, (vaccine, dose) in zip((first, booster, single), [("comirnaty", 1), ("comirnaty", 3), ("janssen", 1)]):
        site.opt_in(c)
        site.checkins.transition(c["id"], "called", "staff:lan", desk="1")
        site.vaccinations.record_screening(c["id"], "eligible", "staff:lan")
        site.vaccinations.record_injection(c["id"], Injection(vaccine, "FK1", dose, "Lê Thị Mai"), "staff:lan")
    doses = [t for t in site.texts() if t["kind"] == "dose"]
    params = [json.loads(t["params"]) for t in doses]
    uvci = site.vaccinations.for_checkin(first["id"])["uvci"]
    assert params[0] == {"dose": 1, "vaccine": "Comirnaty", "date": "2026-11-25", "uvci": uvci,
                         "next_date": "2026-12-16"}
    assert params[1]["next_date"] is None and params[2]["next_date"] is None
    text = messages.render("dose", params[0], "Trạm Y tế Phường Yên Đỗ", {})
    assert text == (f"Bạn đã tiêm mũi 1 Comirnaty ngày 25/11/2026. Mã chứng nhận: {uvci}. Mũi tiếp theo từ ngày "
                    "16/12/2026. Kiểm tra mũi tiêm trên ứng dụng Sổ sức khỏe điện tử.")
    assert "Mũi tiếp theo" not in messages.render("dose", params[1], "X", {})


# -- sending -------------------------------------------------------------------------------------------------------
def test_texts_reach_the_network_as_written_in_ucs2(site):
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("3", "staff:lan")
    site.checkins.transition(c["id"], "screened", "staff:lan")
    site.vaccinations.record_injection(c["id"], Injection("vaxzevria", "AB12", 1, "Lê Thị Mai"), "staff:lan")
    site.send_all()
    sent = received_messages(site.modem.received)
    uvci = site.vaccinations.for_checkin(c["id"])["uvci"]
    assert len(sent) == 1 and (sent[0].number, sent[0].encoding) == (E164, "ucs2")
    assert sent[0].text.startswith("Bạn đã tiêm mũi 1 Vaxzevria ngày 25/11/2026. Mã chứng nhận: URN:UVCI:01:VN:VXK/")
    assert uvci in sent[0].text and "Mũi tiếp theo từ ngày 20/01/2027" in sent[0].text and sent[0].parts == 3
    rows = {t["kind"]: t for t in site.texts()}
    assert rows["called"]["state"] == "expired"  # it was no longer true when the sender got to it
    assert rows["dose"]["state"] == "sent" and rows["dose"]["parts_sent"] == 3
    assert rows["dose"]["refs"] == ",".join(str(p.reference) for p in site.modem.received)
    assert site.part.health()["messages"]["sent"] == 1


def test_gsm7_sites_send_unaccented_text(tmp_path, line):
    site = Site(tmp_path, line, encoding="gsm7")
    line[0].received.clear()
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("12", "staff:lan")
    site.send_all()
    sent = received_messages(site.modem.received)
    assert [(m.encoding, m.text, m.parts) for m in sent] == [("gsm7", "Moi so 1 den ban 12 ngay bay gio.", 1)]
    assert sent[0].text == unaccent(messages.render("called", {"ticket": 1, "desk": "12"}, "", {}))
    site.store.close()


def test_a_refusal_is_shown_the_text_kept_and_sent_later(site):
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("1", "staff:lan")
    site.modem.refuse(21)
    assert site.part.step() is False
    row = site.texts()[0]
    assert (row["state"], row["last_error"], row["attempts"]) == ("pending", "cms_21", 1)
    health = site.part.health()
    assert health["ok"] is False and health["last_error"] == "cms_21" and PHONE[1:] not in json.dumps(health)
    from kiosk.web.sms import error_label

    assert "SIM hết tiền" in error_label("cms_21")[0] and "credit" in error_label("cms_21")[1]
    refused = len(site.modem.refused)
    site.clock.advance(seconds=29)
    assert site.part.step() is False and len(site.modem.refused) == refused  # not before its next try
    site.modem.refuse(None)
    site.clock.advance(seconds=2)
    assert site.part.step() is True
    assert site.texts()[0]["state"] == "sent" and site.part.health()["ok"] is True
    assert received_messages(site.modem.received)[0].text == "Mời số 1 đến bàn 1 ngay bây giờ."


def test_a_refused_number_is_not_tried_again(site):
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("1", "staff:lan")
    site.modem.refuse(1)  # unassigned number
    site.part.step()
    assert site.texts()[0]["state"] == "failed"
    site.modem.refuse(None)
    site.clock.advance(hours=1)
    assert site.part.step() is False and site.modem.received == []


@pytest.mark.slow
def test_modem_gone_keeps_the_text_until_it_is_back(site):
    site.modem.unplug()
    first, second = site.check_in(0), site.check_in(1)
    site.opt_in(second)  # one before it: "soon"
    assert site.part.step() is False
    row = site.texts()[0]
    assert (row["kind"], row["state"], row["last_error"]) == ("soon", "pending", "modem_gone")
    assert site.part.health()["modem"] == "not connected"
    site.modem.plug()
    site.clock.advance(seconds=31)
    assert site.part.step() is True
    assert decode(site.modem.wait_for(1)[0].hex).text.startswith("Số 2: còn 1 người nữa")


# -- privacy ---------------------------------------------------------------------------------------------------------
def test_numbers_and_texts_go_with_their_day_and_never_to_central(site):
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("1", "staff:lan")
    site.vaccinations.record_screening(c["id"], "eligible", "staff:lan")
    site.vaccinations.record_injection(c["id"], Injection("comirnaty", "FK1", 1, "Lê Thị Mai"), "staff:lan")
    site.send_all()
    assert len(site.texts()) == 2
    for entry in site.store.query("SELECT payload FROM outbox"):  # exactly what is published to central
        assert "912345678" not in entry["payload"]
    # 23:59 local: still today
    site.clock.at = dt.datetime(2026, 11, 25, 16, 59, tzinfo=dt.timezone.utc)
    site.part.step()
    assert site.store.query_one("SELECT count(*) AS n FROM sms_optins")["n"] == 1
    # 00:01 local the next day: gone, from the tables and from the file's bytes
    site.clock.at = dt.datetime(2026, 11, 25, 17, 1, tzinfo=dt.timezone.utc)
    site.part.step()
    assert site.store.query("SELECT * FROM sms_optins") == [] and site.store.query("SELECT * FROM sms_outbox") == []
    site.store.close()
    for path in site.config.data_dir.glob("kiosk.db*"):
        data = path.read_bytes()
        assert b"912345678" not in data and "Sổ sức khỏe".encode() not in data, path.name
    assert site.store.query_one("SELECT count(*) AS n FROM checkins")["n"] == 1  # the visit itself stays


def test_a_kiosk_without_sms_offers_nothing_and_purges_what_is_left(tmp_path, line):
    site = Site(tmp_path, line)
    c = site.check_in(0)
    site.opt_in(c)
    site.checkins.call_next("1", "staff:lan")
    assert len(site.texts()) == 1

    class App:  # what make_part reads
        config = from_dict({"kiosk": {"site_id": "GL-01", "kiosk_id": "k1", "data_dir": str(tmp_path),
                                      "min_free_mb": 1}})
        store, clock = site.store, site.clock

    site.clock.advance(days=1)
    assert make_part(App) is None
    assert site.store.query("SELECT * FROM sms_optins") == [] and site.texts() == []
    site.store.close()


# -- configuration ---------------------------------------------------------------------------------------------------
def test_sms_configuration_is_checked_with_clear_messages(tmp_path):
    def load(sms: dict):
        return from_dict({"kiosk": {"site_id": "S", "kiosk_id": "k"}, "sms": sms}, source="kiosk.toml")

    assert load({}).sms.gammurc == ""  # no modem: no SMS part
    with pytest.raises(ConfigError) as missing:
        load({"gammurc": str(tmp_path / "nope")})
    assert "sms.gammurc" in str(missing.value) and "No such file" in str(missing.value)
    wrong = tmp_path / "gammurc"
    wrong.write_text("[gammu]\ndevice = /dev/ttyUSB0\nconnection = bluephonet\n")
    with pytest.raises(ConfigError) as connection:
        load({"gammurc": str(wrong)})
    assert "connection = 'bluephonet'" in str(connection.value)
    with pytest.raises(ConfigError) as placeholder:
        load({"text_called": "Mời số {ticket} đến {room}"})
    assert "sms.text_called" in str(placeholder.value) and "{desk}" in str(placeholder.value)
    with pytest.raises(ConfigError) as long_text:
        load({"text_soon": "Số {ticket}. " + "Xin vui lòng chờ. " * 30})
    assert "at most 6 SMS parts" in str(long_text.value)
    with pytest.raises(ConfigError) as encoding:
        load({"encoding": "utf8"})
    assert "'ucs2', 'gsm7'" in str(encoding.value)
    assert load({"text_called": "Số {ticket}: mời đến bàn {desk}."}).sms.text_called
