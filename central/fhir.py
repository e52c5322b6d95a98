"""HL7 FHIR R4 out (read-only): the aggregator's vaccination records as Immunization resources, each with its Patient,
for national registries, DHIS2 and OpenMRS (docs/central.md, "FHIR R4").

Built from the records central stores (stream `vaccinations`, docs/protocol.md), so a search for a day returns
exactly the vaccinations `/api/sites` counts that day. Pure functions over the store; central.web.fhir serves them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"

# Identifier systems. The Ministry has not published a FHIR system for the CCCD (căn cước công dân) number, so
# vaxkiosk names its own; a registry maps it to theirs (documented in docs/central.md).
CCCD_SYSTEM = "urn:vaxkiosk:sid:cccd"
SITE_SYSTEM = "urn:vaxkiosk:sid:site"
RECORD_SYSTEM = "urn:vaxkiosk:sid:record"
UVCI_SYSTEM = "urn:vaxkiosk:sid:uvci"
# Code systems of the EU DCC value sets the kiosk records (docs/certificates.md, kiosk/vaccines.py).
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
EU_PRODUCT = "https://ec.europa.eu/health/documents/community-register/html/"
OTHER_PRODUCT = "http://ec.europa.eu/temp/vaccineproductname"
TARGET_DISEASE_NAMES = {"840539006": "COVID-19"}

# Resource ids are stable name-based UUIDs: the same record or person gives the same id on every request, and the
# id is not the ID number itself.
_NAMESPACE = uuid.UUID("5b0d3f7e-3c1a-4c57-9a59-6f1c8a2d7e10")

DEFAULT_COUNT, MAX_COUNT = 100, 1000
SEARCH_PARAMS = {"date", "_count", "_cursor"}
_DAY = re.compile(r"(?:eq)?(\d{4}-\d{2}-\d{2})")
_CURSOR = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CCCD = re.compile(r"\d{12}")


class BadSearch(ValueError):
    """A search the server does not answer: the message goes into an OperationOutcome (400)."""


def capability_statement(now: float) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        "publisher": "vaxkiosk central",
        "kind": "instance",
        "software": {"name": "vaxkiosk central"},
        "implementation": {"description": "Vaccinations recorded at vaxkiosk sites, read-only"},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Open on a loopback-only listener; elsewhere Authorization: Bearer <api token>.",
            "resource": [
                {"type": "Immunization",
                 "interaction": [{"code": "search-type"}],
                 "searchInclude": ["Immunization:patient"],
                 "searchParam": [
                     {"name": "date", "type": "date",
                      "documentation": "Required: one local (site) calendar day, YYYY-MM-DD."},
                     {"name": "_count", "type": "number",
                      "documentation": f"Page size, 1–{MAX_COUNT} (default {DEFAULT_COUNT}); follow the next link."},
                 ]},
                {"type": "Patient",
                 "documentation": f"Included in Immunization searches; identifier system {CCCD_SYSTEM} is the CCCD."},
            ],
        }],
    }


def parse_search(args: dict[str, str]) -> tuple[str, int, str]:
    """Query arguments → (day, count, cursor), or BadSearch."""
    unknown = sorted(set(args) - SEARCH_PARAMS)
    if unknown:
        raise BadSearch(f"unsupported search parameter(s): {', '.join(unknown)}")
    m = _DAY.fullmatch(args.get("date", ""))
    if not m:
        raise BadSearch("date is required, one day as YYYY-MM-DD")
    try:
        dt.date.fromisoformat(m.group(1))
    except ValueError:
        raise BadSearch("date is not a calendar day") from None
    raw_count = args.get("_count", str(DEFAULT_COUNT))
    if not raw_count.isdigit() or not 1 <= int(raw_count) <= MAX_COUNT:
        raise BadSearch(f"_count must be a whole number from 1 to {MAX_COUNT}")
    cursor = args.get("_cursor", "")
    if cursor and not _CURSOR.fullmatch(cursor):
        raise BadSearch("_cursor is not one this server gave")
    return m.group(1), int(raw_count), cursor


def search_bundle(store, sites: dict, day: str, count: int, cursor: str, url_for_page) -> dict:
    """The searchset Bundle of one page: Immunizations (mode match) then their Patients (mode include).

    `url_for_page(cursor)` gives the absolute URL of the page starting after `cursor` ("" = the first)."""
    rows = store.records_after("vaccinations", day, cursor, count + 1)
    page, more = rows[:count], len(rows) > count
    entries, patients = [], {}
    for row in page:
        person = _person(row)
        imm = immunization(row, sites.get(row["site"]), store.tz, person)
        entries.append(_entry(imm, "match"))
        patients.setdefault(imm["patient"]["reference"], patient(person))
    entries += [_entry(p, "include") for p in patients.values()]
    links = [{"relation": "self", "url": url_for_page(cursor)}]
    if more:
        links.append({"relation": "next", "url": url_for_page(page[-1]["record_id"])})
    return {"resourceType": "Bundle", "type": "searchset",
            "total": store.record_count("vaccinations", day=day), "link": links, "entry": entries}


def _person(row: dict) -> dict:
    """The record's person as strings. The protocol checks only that `person` is an object: a record from a broken
    (or hostile) kiosk must not end the whole export, so missing parts stay empty."""
    person = row["payload"].get("person")
    person = person if isinstance(person, dict) else {}
    out = {k: person.get(k) if isinstance(person.get(k), str) else "" for k in ("id_number", "full_name", "dob", "sex")}
    if not _CCCD.fullmatch(out["id_number"]):
        out["id_number"] = ""  # not a 12-digit CCCD: not given out as one
    out["key"] = out["id_number"] or f"record:{row['record_id']}"  # one Patient per ID number
    return out


def immunization(row: dict, site, tz: dt.tzinfo, person: dict | None = None) -> dict:
    p = row["payload"]
    person = person or _person(row)
    raw = p.get("vaccine") if isinstance(p.get("vaccine"), dict) else {}
    vaccine = {k: str(v).strip() for k, v in raw.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
    at = dt.datetime.fromisoformat(row["at_wall"]).astimezone(tz)
    place = _site_reference(row["site"], site)
    tg = vaccine.get("tg", "840539006")
    out = {
        "resourceType": "Immunization",
        "id": _id("record", row["record_id"]),
        "identifier": [{"system": RECORD_SYSTEM, "value": row["record_id"]},
                       {"system": UVCI_SYSTEM, "value": str(p["uvci"])}],
        "status": "completed",
        "vaccineCode": vaccine_code(vaccine),
        "patient": {"reference": f"urn:uuid:{_id('cccd', person['key'])}"},
        "occurrenceDateTime": at.isoformat(timespec="seconds"),
        "primarySource": True,
        "location": place,
        "lotNumber": p["lot"],
        "performer": [{"actor": place}],
        "protocolApplied": [{
            "targetDisease": [{"coding": [{"system": SNOMED, "code": tg,
                                           "display": TARGET_DISEASE_NAMES.get(tg, tg)}]}],
            # A dose number below 1 (only a broken kiosk sends one) is passed on as text, not as a positive int.
            **({"doseNumberPositiveInt": p["dose_number"]} if p["dose_number"] >= 1
               else {"doseNumberString": str(p["dose_number"])}),
        }],
    }
    if vaccine.get("ma"):
        out["manufacturer"] = {"display": vaccine["ma"]}
    return out


def vaccine_code(vaccine: dict) -> dict:
    """The DCC's vaccine type (vp: SNOMED CT for mRNA, ATC J07BX03 for the others) and product (mp)."""
    vp, mp = vaccine.get("vp", ""), vaccine.get("mp", "")
    codings = [{"system": SNOMED if vp.isdigit() else ATC, "code": vp}] if vp else []
    if mp:
        codings.append({"system": EU_PRODUCT if mp.startswith("EU/") else OTHER_PRODUCT, "code": mp})
    return {"coding": codings, **({"text": vaccine["code"]} if vaccine.get("code") else {})}


def patient(person: dict) -> dict:
    out = {"resourceType": "Patient", "id": _id("cccd", person.get("key") or person["id_number"]),
           "gender": person.get("sex") if person.get("sex") in ("male", "female") else "unknown"}
    if person["id_number"]:
        out["identifier"] = [{"system": CCCD_SYSTEM, "value": person["id_number"]}]
    words = person.get("full_name", "").split()
    if words:  # Vietnamese order: the family name first
        out["name"] = [{"text": " ".join(words), "family": words[0], **({"given": words[1:]} if words[1:] else {})}]
    if _ISO_DAY.fullmatch(person.get("dob") or ""):
        out["birthDate"] = person["dob"]
    return out


def operation_outcome(message: str, code: str = "invalid") -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}]}


def _entry(resource: dict, mode: str) -> dict:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource, "search": {"mode": mode}}


def _site_reference(site_id: str, site) -> dict:
    ref = {"identifier": {"system": SITE_SYSTEM, "value": site_id}}
    if site is not None and site.name:
        ref["display"] = site.name
    return ref


def _id(kind: str, value: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{value}"))
