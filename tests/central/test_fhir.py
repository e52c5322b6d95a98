"""FHIR R4 out: real kiosks vaccinate, the real sync part delivers through Mosquitto, and central's
/fhir/R4/Immunization pages hold one Immunization per dose /api/sites counts, each resource valid for the
fhir.resources R4B models (R4B keeps R4's Immunization, Patient, Bundle and CapabilityStatement)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from central import fhir
from tests.central.conftest import SITES, run_plan

MODELS = {"Immunization": Immunization, "Patient": Patient}


def fetch(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers["Content-Type"], json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], json.loads(e.read())


def test_metadata_lists_immunization_and_patient(central):
    status, ctype, body = fetch(f"http://127.0.0.1:{central.port}/fhir/R4/metadata")
    assert status == 200 and ctype.startswith("application/fhir+json")
    cs = CapabilityStatement.model_validate(body)
    assert cs.fhirVersion == "4.0.1"
    assert {r.type for r in cs.rest[0].resource} == {"Immunization", "Patient"}


def test_immunizations_of_a_day_page_by_page(central, kiosk_apps):
    apps = run_plan(kiosk_apps, {("GL-01", "gl1-a"): (4, 3), ("HN-01", "hn1-a"): (2, 2)})
    counted = sum(r["vaccinated"] for r in central.get_json("/api/sites"))
    assert counted == 5
    day = central.store.records("vaccinations")[0]["day"]  # the local day central filed them under

    # The kiosks' own dose rows, keyed by record id: what every Immunization must say.
    doses = {}
    for app in apps.values():
        sql = "SELECT v.*, c.id_number FROM vaccinations v JOIN checkins c ON c.id = v.checkin_id"
        for row in app.store.query(sql):
            doses[row["id"]] = row

    url = f"http://127.0.0.1:{central.port}/fhir/R4/Immunization?date={day}&_count=2"
    immunizations, patients, pages = [], {}, 0
    while url:
        status, ctype, body = fetch(url)
        assert status == 200 and ctype.startswith("application/fhir+json")
        bundle = Bundle.model_validate(body)
        assert bundle.type == "searchset" and bundle.total == counted
        pages += 1
        for entry in body["entry"]:
            resource = MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
            assert entry["fullUrl"] == f"urn:uuid:{resource.id}"
            if entry["search"]["mode"] == "match":
                immunizations.append(entry["resource"])
            else:
                patients[entry["fullUrl"]] = entry["resource"]
        assert len([e for e in body["entry"] if e["search"]["mode"] == "match"]) <= 2
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
    assert pages == 3 and len(immunizations) == counted

    sites = {s["id"]: s for s in SITES}
    seen = set()
    for imm in immunizations:
        record_id = next(i["value"] for i in imm["identifier"] if i["system"] == fhir.RECORD_SYSTEM)
        seen.add(record_id)
        dose = doses[record_id]
        assert imm["status"] == "completed" and imm["lotNumber"] == dose["lot"] == "FK1234"
        assert imm["protocolApplied"][0]["doseNumberPositiveInt"] == dose["dose_number"]
        assert {"system": fhir.SNOMED, "code": "1119349007"} in imm["vaccineCode"]["coding"]  # Comirnaty: mRNA
        assert {"system": fhir.EU_PRODUCT, "code": "EU/1/20/1528"} in imm["vaccineCode"]["coding"]
        assert imm["occurrenceDateTime"].startswith(day) and imm["occurrenceDateTime"].endswith("+07:00")
        site = imm["location"]["identifier"]["value"]
        assert site == dose["site_id"] and imm["location"]["display"] == sites[site]["name"]
        assert imm["performer"][0]["actor"] == imm["location"]
        person = patients[imm["patient"]["reference"]]  # every patient referred to is in the bundle
        assert person["identifier"] == [{"system": fhir.CCCD_SYSTEM, "value": dose["id_number"]}]
        assert person["name"][0]["family"] == "Trần" and person["gender"] == "female"
        assert person["birthDate"] == "1995-08-12"
    assert seen == set(doses)  # each dose exactly once across the pages

    # Another day has none of them.
    status, _, body = fetch(f"http://127.0.0.1:{central.port}/fhir/R4/Immunization?date=2001-01-01")
    assert status == 200 and Bundle.model_validate(body).total == 0 and not body.get("entry")


def test_bad_searches_answer_an_operation_outcome(central):
    base = f"http://127.0.0.1:{central.port}/fhir/R4/Immunization"
    for query in ("", "?date=2026-13-01", "?date=01/12/2026", "?date=2026-12-01&_count=0",
                  "?date=2026-12-01&_count=5000", "?date=2026-12-01&_count=-1", "?date=2026-12-01&name=x",
                  "?date=2026-12-01&_cursor=%27%20OR%201%3D1", "?date=2026-12-01&date=2026-12-02"):
        status, ctype, body = fetch(base + query)
        assert status == 400 and ctype.startswith("application/fhir+json"), query
        assert OperationOutcome.model_validate(body).issue[0].severity == "error", query


def test_a_hostile_kiosks_odd_dose_does_not_break_the_export(central, kiosk_apps):
    """The protocol checks only that `person` and `vaccine` are objects: a stolen kiosk can send odd contents that
    the ingest stores. The day's export still answers, valid, with that dose's patient unidentified."""
    import copy

    from base.protocol import validate
    from central.store import Inbound

    run_plan(kiosk_apps, {("GL-01", "gl1-a"): (1, 1)})
    real = central.store.records("vaccinations")[0]
    odd = copy.deepcopy(real["payload"])
    odd.update(record_id="f" * 32, dose_number=0, person={"id_number": 64195, "full_name": ["x"], "dob": "hôm qua"},
               vaccine={"vp": 1119349007, "mp": None})
    validate("record", odd, "vaccinations")  # the ingest would take it
    central.store.apply([Inbound("GL-01", "gl1-a", "records", odd, "vaccinations")])
    status, _, body = fetch(f"http://127.0.0.1:{central.port}/fhir/R4/Immunization?date={real['day']}")
    assert status == 200 and Bundle.model_validate(body).total == 2
    patients = [e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Patient"]
    for p in patients:
        Patient.model_validate(p)
    # The odd one's "ID number" is not a 12-digit CCCD: its Patient carries no identifier, no name, no birth date.
    odd_patient = next(p for p in patients if "identifier" not in p)
    assert set(odd_patient) == {"resourceType", "id", "gender"} and len(patients) == 2
