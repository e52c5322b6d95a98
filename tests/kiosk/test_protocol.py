"""base/protocol.py against docs/protocol.md, and validation of hostile input on both ends."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base import protocol
from base.protocol import ProtocolError
from central.protocol import ack_message, cmd_message, decode_inbound, subscriptions

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEADING = re.compile(r"^### (message|record stream|object) `(\w+)`")
ROW = re.compile(r"^\| `(\w+)` \| ([\w\[\]]+) \| (yes|no) \| *(\d*) *\|")


def documented_tables() -> dict[tuple[str, str], dict[str, tuple[str, bool, int | None]]]:
    tables, current = {}, None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := HEADING.match(line):
            current = tables.setdefault((m[1], m[2]), {})
        elif line.startswith("## "):
            current = None
        elif current is not None and (m := ROW.match(line)):
            current[m[1]] = (m[2], m[3] == "yes", int(m[4]) if m[4] else None)
    return tables


def as_table(fields: dict) -> dict:
    return {name: (f.type, f.required, f.max_len if f.type in ("str", "list[str]") else None)
            for name, f in fields.items()}


def test_docs_and_code_describe_the_same_payloads():
    code = {("message", k): as_table(v) for k, v in protocol.MESSAGES.items()}
    code |= {("record stream", k): as_table(v) for k, v in protocol.RECORD_FIELDS.items()}
    code[("object", "stamp")] = as_table(protocol.STAMP)
    assert documented_tables() == code


def test_docs_list_every_topic_with_its_qos_and_retain_flag():
    text = DOC.read_text(encoding="utf-8")
    for leaf, (qos, retained) in protocol.TOPICS.items():
        suffix = "records/<stream>" if leaf == "records" else leaf
        row = re.search(rf"^\| `vaxkiosk/v1/<site>/<kiosk>/{re.escape(suffix)}` \| [^|]+ \| (\d) \| (yes|no) \|",
                        text, re.M)
        assert row, leaf
        assert (int(row[1]), row[2] == "yes") == (qos, retained), leaf
    for topic_filter, _qos in subscriptions("<group>"):
        assert f"`{topic_filter}`" in text, topic_filter


def stamp(**kw):
    return {"wall": "2026-11-25T03:00:00.000+00:00", "mono": 1234.5, "boot_id": "b-1", "clock_synced": True, **kw}


def checkin(**kw):
    return {"schema": 1, "type": "checkin", "record_id": "abc123", "site": "GL-01", "kiosk": "k1", "day": "2026-11-25",
            "ticket": 7, "scan_kind": "cccd_qr", "source": "camera", "at": stamp(), **kw}


TOPIC = "vaxkiosk/v1/GL-01/k1/records/checkins"


def test_a_valid_record_round_trips():
    where, payload = decode_inbound(TOPIC, protocol.encode("record", checkin(), "checkins"))
    assert (where.site, where.kiosk, where.stream) == ("GL-01", "k1", "checkins")
    assert payload["ticket"] == 7


@pytest.mark.parametrize("topic, raw, reason", [
    (TOPIC, b"{not json", "bad_json"),
    (TOPIC, b"[1,2]", "not_an_object"),
    (TOPIC, b'{"schema":1,"x":NaN}', "bad_json"),
    (TOPIC, json.dumps(checkin(schema=2)).encode(), "bad_schema"),
    (TOPIC, json.dumps(checkin(ticket="7")).encode(), "bad_type"),
    (TOPIC, json.dumps(checkin(ticket=True)).encode(), "bad_type"),
    (TOPIC, json.dumps({**checkin(), "ticket": None}).encode(), "missing_field"),
    (TOPIC, json.dumps(checkin(record_id="a/b")).encode(), "bad_value"),
    (TOPIC, json.dumps(checkin(type="vaccination")).encode(), "bad_value"),
    (TOPIC, json.dumps(checkin(kiosk="k2")).encode(), "kiosk_mismatch"),
    (TOPIC, json.dumps(checkin(site="HN-01")).encode(), "kiosk_mismatch"),
    (TOPIC, json.dumps(checkin(at=stamp(wall="yesterday"))).encode(), "bad_time"),
    (TOPIC, json.dumps(checkin(at=stamp(wall="2026-11-25T03:00:00"))).encode(), "bad_time"),
    (TOPIC, json.dumps(checkin(at=stamp(mono=-1))).encode(), "bad_time"),
    (TOPIC, json.dumps(checkin(at=stamp(wall="9999-12-31T23:59:59+00:00"))).encode(), "bad_time"),
    (TOPIC, json.dumps(checkin(pad="x" * 20000)).encode(), "too_large"),
    (TOPIC, json.dumps(checkin(scan_kind="x" * 17)).encode(), "too_long"),
    ("vaxkiosk/v1/GL-01/k1/records/secrets", json.dumps(checkin()).encode(), "bad_topic"),
    ("vaxkiosk/v1/GL-01/k1/ack", b'{"schema":1,"record_ids":["a"]}', "bad_topic"),
    ("vaxkiosk/v1/GL 01/k1/health", b"{}", "bad_topic"),
    ("other/GL-01/k1/health", b"{}", "bad_topic"),
    ("vaxkiosk/v1/GL-01/k1/health/extra", b"{}", "bad_topic"),
    (TOPIC, b"[" * 100000 + b"]" * 100000, "too_large"),
    (TOPIC, b"\xff\xfe", "bad_json"),
])
def test_malformed_messages_are_refused_with_a_stable_reason(topic, raw, reason):
    with pytest.raises(ProtocolError) as caught:
        decode_inbound(topic, raw)
    assert caught.value.reason == reason


def test_central_builds_messages_the_kiosk_accepts():
    topic, raw, qos = ack_message("GL-01", "k1", ["a", "b"])
    assert (topic, qos) == ("vaxkiosk/v1/GL-01/k1/ack", 1)
    assert protocol.decode("ack", raw)["record_ids"] == ["a", "b"]
    topic, raw, qos = cmd_message("GL-01", "k1", "health_report")
    assert topic.endswith("/k1/cmd") and protocol.decode("cmd", raw)["command"] == "health_report"
    with pytest.raises(ProtocolError):
        cmd_message("GL-01", "k1", "format_disk")
    with pytest.raises(ProtocolError):
        ack_message("GL-01", "k1", [f"id{i}" for i in range(501)])


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["status", "health", "queue", "records/checkins", "records/print_events", "ack"]),
       st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                 st.dictionaries(st.sampled_from(list(checkin())), json_values).map(
                     lambda d: json.dumps({**checkin(), **d}).encode())))
def test_any_input_is_either_accepted_or_refused_with_protocol_error(leaf, raw):
    try:
        decode_inbound(f"vaxkiosk/v1/GL-01/k1/{leaf}", raw)
    except ProtocolError as exc:
        assert exc.reason


def test_every_record_the_kiosk_enqueues_passes_the_protocol(tmp_path):
    """The producers (check-in, vaccination, print job) and the protocol must not drift apart: their real outbox rows
    are validated as central would."""
    from kiosk.checkin import CheckinService, place_of
    from kiosk.config import from_dict
    from kiosk.corrections import Corrections
    from kiosk.identity import parse
    from kiosk.printing import jobs
    from kiosk.store import Store
    from kiosk.vaccination import Injection, VaccinationService
    from tests.conftest import SAMPLE_QR

    cfg = from_dict({"kiosk": {"site_id": "GL-01", "kiosk_id": "k1", "data_dir": str(tmp_path), "min_free_mb": 1}})
    store = Store(cfg.db_path)
    try:
        checkins, vaccinations = CheckinService(store, cfg.kiosk), VaccinationService(store, cfg.kiosk)
        c = checkins.check_in(parse(SAMPLE_QR), "camera").checkin
        checkins.call_next("1", "staff:lan")
        vaccinations.record_screening(c["id"], "eligible", "staff:lan")
        dose = vaccinations.record_injection(c["id"], Injection("comirnaty", "FK1234", 1, "Lê Thị Mai"), "staff:lan")
        ticket_job = store.query_one("SELECT id FROM print_jobs WHERE kind = 'ticket'")["id"]
        jobs.mark_done(store, ticket_job, checkins.clock.stamp(), place_of(store, c["id"]))
        today = checkins.clock.now().astimezone(checkins.clock.tz).date().isoformat()
        Corrections(store, cfg.kiosk).file("064195001234", "missing_dose", "Mũi 2 không có trong sổ",
                                           claim={"day": today, "dose_number": 2, "place": "Trạm Y tế Ia Kha"})
        Corrections(store, cfg.kiosk).file("064195001234", "wrong_dose", "Sai số lô", dose["id"])
        rows = store.query("SELECT stream, payload FROM outbox ORDER BY seq")
    finally:
        store.close()
    assert [r["stream"] for r in rows] == ["checkins", "vaccinations", "print_events", "corrections", "corrections"]
    wrong = json.loads(rows[4]["payload"])  # a wrong dose carries the dose as recorded
    assert {k: wrong[k] for k in wrong if k.startswith("about_")} == {
        "about_dose_number": 1, "about_vaccine": "comirnaty", "about_lot": "FK1234", "about_day": c["day"],
        "about_site": "GL-01"}
    assert json.loads(rows[2]["payload"])["kind"] == "ticket"
    dose = json.loads(rows[1]["payload"])  # when and where the citizen was called, for central's wait and throughput
    assert dose["desk"] == "1" and set(dose["called"]) == {"wall", "mono", "boot_id", "clock_synced"}
    for row in rows:
        where, payload = decode_inbound(protocol.topic("GL-01", "k1", "records", row["stream"]),
                                        row["payload"].encode("utf-8"))
        assert payload["type"] == protocol.RECORD_TYPE[where.stream]
