"""The verifier against the EU member states' DCC conformance data (dgc-testdata, vendored with its licence in
data/dgc-testdata/ beside this file): every signature verdict (EXPECTEDVERIFY) and expiry verdict
(EXPECTEDEXPIRATIONCHECK) of the 557 cases that carry one, and the key-usage verdicts (EXPECTEDKEYUSAGE) of the
same cases.

Each case is verified the way `vaxkiosk verify-cert --trust DSC --at CLOCK TEXT` does it: its `HC1:` text, its
signer certificate as the only trusted one (found by the kid computed from that certificate, so a case with a
wrong kid stays wrong), its validation clock read by verify-cert's own `--at` parser. hcert.verify stops at the
first failure, in the order signature, revocation, key usage, clock; where it stopped before the check a verdict
is about, the verdict is read from the function verify runs for that check (hcert.key_usage_failure,
hcert.clock_failure).
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk.certificates import hcert
from kiosk.commands import parse_time
from tests.conftest import vaxkiosk_json

DATA = json.loads((Path(__file__).parent / "data" / "dgc-testdata" / "cases.json").read_text(encoding="utf-8"))
CASES = DATA["cases"]
BY_PATH = {case["path"]: case for case in CASES}

# What each verdict means in our reasons. EXPECTEDVERIFY true: the code decodes and its signature verifies with
# the case's certificate. EXPECTEDEXPIRATIONCHECK true: the validation clock is inside what the certificate and its
# signer allow. EXPECTEDKEYUSAGE true: the signer may sign this type of certificate.
SIGNATURE_FAILURES = {"not_hc1", "bad_base45", "bad_compression", "bad_cose", "bad_payload", "no_kid",
                      "unknown_kid", "unsupported_alg", "bad_signature"}
KEY_USAGE_FAILURES = {"key_usage_mismatch"}
CLOCK_FAILURES = {"not_yet_valid", "expired", "signer_not_valid"}
CHECK_ORDER = [SIGNATURE_FAILURES, {"revoked"}, KEY_USAGE_FAILURES, CLOCK_FAILURES]  # as hcert.verify runs them

# Verdicts we knowingly give otherwise, with the reason. The test checks each still differs: an entry whose
# verdict we come to agree with fails, and is then deleted.
KNOWN_DIFFERENCES = {
    ("IS/2DCode/raw/3.json", "EXPECTEDKEYUSAGE"):
        "the DSC's extended key usage holds only the ICAO document-signer OID 2.23.136.1.1.14.2, none of the DCC "
        "type OIDs; hcert spec A.4 and the EU reference verifier (dgca-app-core-android X509.isType) then let it "
        "sign any type, as we do; upstream's own harness counts any EKU as a restriction",
}


@functools.cache
def certificate(ref: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(DATA["certificates"][ref]))


def verify(case: dict) -> tuple[x509.Certificate, hcert.Verification]:
    cert = certificate(case["certificate"])
    trust = hcert.TrustStore()
    trust.add(cert)
    return cert, hcert.verify(case["prefix"], trust, parse_time(case["clock"]))


def with_verdict(verdict: str) -> list:
    return [pytest.param(case, id=case["path"]) for case in CASES if verdict in case["expected"]]


def assert_verdict(case: dict, verdict: str, passed: bool, reason: str | None) -> None:
    expected = case["expected"][verdict]
    if (case["path"], verdict) in KNOWN_DIFFERENCES:
        assert passed != expected, f"now agrees: delete the KNOWN_DIFFERENCES entry of {case['path']}"
    else:
        assert passed == expected, f"{case['description']!r}: {verdict} is {expected}, we say {reason}"


@pytest.mark.parametrize("case", with_verdict("EXPECTEDVERIFY"))
def test_signature_verdict(case):
    _, result = verify(case)
    assert_verdict(case, "EXPECTEDVERIFY", result.reason not in SIGNATURE_FAILURES, result.reason)


def failure_of(case: dict, group: set[str], check) -> str | None:
    """The reason a case fails one group of checks, or None: from verify when it ran them, else from `check`, the
    function verify runs for them (verify stopped earlier, at the signature or revocation)."""
    cert, result = verify(case)
    later = set().union(*CHECK_ORDER[CHECK_ORDER.index(group) + 1:])
    if result.valid or result.reason in later:
        return None
    if result.reason in group or result.decoded is None:
        return result.reason
    return check(result.decoded, cert, parse_time(case["clock"]))


@pytest.mark.parametrize("case", with_verdict("EXPECTEDEXPIRATIONCHECK"))
def test_expiry_verdict(case):
    failure = failure_of(case, CLOCK_FAILURES, lambda decoded, cert, at: hcert.clock_failure(decoded, cert, at))
    assert_verdict(case, "EXPECTEDEXPIRATIONCHECK", failure is None, failure)


@pytest.mark.parametrize("case", with_verdict("EXPECTEDKEYUSAGE"))
def test_key_usage_verdict(case):
    failure = failure_of(case, KEY_USAGE_FAILURES, lambda decoded, cert, _: hcert.key_usage_failure(decoded, cert))
    assert_verdict(case, "EXPECTEDKEYUSAGE", failure is None, failure)


def test_every_reason_belongs_to_one_verdict():
    """A new reason must be placed here, or the verdicts above would silently count it as a pass."""
    assert sorted(["ok"] + [r for group in CHECK_ORDER for r in group]) == sorted(hcert.REASONS)


def test_the_vendored_set_is_what_its_readme_says():
    assert DATA["commit"] == "4a62c8d9a9a57c29b3b83ee6bf2b1e03d4d88e79" and DATA["license"] == "Apache-2.0"
    assert len(CASES) == 557 and len(BY_PATH) == 557
    assert all({"EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK"} & set(case["expected"]) for case in CASES)
    assert {case["certificate"] for case in CASES} == set(DATA["certificates"])  # no certificate kept for nothing
    assert all(path in BY_PATH for path, _ in KNOWN_DIFFERENCES)


# The command line, on the cases the issue named and one per rule: the same verdicts through `--trust` PEM files and
# `--at` as an inspector types it.
COMMAND_CASES = {
    "DK/2DCode/raw/1.json": "ok",  # validation clock exactly at exp
    "ES/2DCode/raw/1501.json": "ok",  # a +02:00 clock, exactly at exp and at the end of the DSC's validity
    "ES/2DCode/raw/401.json": "ok",  # ES256 (ECDSA with SHA-256) by a P-384 key
    "BG/2DCode/raw/4.json": "ok",  # iat before the DSC's validity: the EU verifiers do not check that
    "NL/2DCode/raw/216-NL-test+wrong_key.json": "key_usage_mismatch",  # a test signed by a DSC for other types
    "common/2DCode/raw/CO17.json": "expired",
    "common/2DCode/raw/CO5.json": "bad_signature",
}


@pytest.mark.parametrize("path, reason", COMMAND_CASES.items())
def test_verify_cert_command_gives_the_same_verdicts(tmp_path, path, reason):
    case = BY_PATH[path]
    pem = tmp_path / "dsc.pem"
    pem.write_bytes(certificate(case["certificate"]).public_bytes(serialization.Encoding.PEM))
    env = {"VAXKIOSK_DATA": str(tmp_path / "data"), "VAXKIOSK_CONFIG": "", "HOME": str(tmp_path / "home")}
    rc, out = vaxkiosk_json("verify-cert", "--trust", str(pem), "--at", case["clock"], case["prefix"], env=env)
    assert (rc, out["reason"]) == (0 if reason == "ok" else 1, reason)
    assert out["reason"] == verify(case)[1].reason
