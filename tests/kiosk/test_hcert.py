"""The HC1 codec: our certificates round-trip, every way a code can be wrong has its reason, and codes made by an
independent issuer (PS256, kid unprotected, CWT tag 61, ES256 on P-384, DSCs limited by extended key usage) verify
as the EU verifiers do. Every verification takes an explicit clock. The member states' own cases are in
test_dcc_conformance.py."""

from __future__ import annotations

import datetime as dt
import zlib

import base45
import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtensionOID
from hypothesis import given, settings
from hypothesis import strategies as st

from base.signing import Signer, kid_of, local_signer, self_signed_certificate
from kiosk.certificates import dcc, hcert, sign_dose
from kiosk.vaccines import VACCINES
from tests.support.dcc_issuer import (EKU_CLIENT_AUTH, EKU_RECOVERY, EKU_TEST, EKU_VACCINATION, EKU_VACCINATION_ALT,
                                      ES256, ES384, PS256, ExternalIssuer)

pytestmark = pytest.mark.dates

NOW = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.timezone.utc)
NAME, DOB = "Trần Thị Hồng Nhung", dt.date(1995, 8, 12)
UVCI = "URN:UVCI:01:VN:VXK/GL-01/0123456789ABCDEF#K"


@pytest.fixture
def signer(tmp_path):
    return local_signer(tmp_path / "site", "vaxkiosk GL-01/k1", NOW)


def issue(signer, issued=NOW, days=365, uvci=UVCI) -> str:
    dose = dcc.Dose(VACCINES["comirnaty"], 2, dt.date(2026, 11, 25), uvci)
    claims = hcert.claims(dcc.build(NAME, DOB, dose), issued, issued + dt.timedelta(days=days))
    return hcert.sign(claims, signer)


def trusting(*certs) -> hcert.TrustStore:
    trust = hcert.TrustStore()
    for c in certs:
        trust.add(c)
    return trust


def test_round_trip_gives_back_every_field(signer):
    result = hcert.verify(issue(signer), trusting(signer.certificate), NOW)
    assert (result.valid, result.reason) == (True, "ok")
    out = result.to_json()
    assert out["name"] == NAME and out["dob"] == "1995-08-12"
    assert out["issued"] == NOW.isoformat() and out["issuer"] == "VN"
    assert out["doses"] == [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                             "dn": 2, "sd": 2, "dt": "2026-11-25", "co": "VN",
                             "is": "Ministry of Health of Viet Nam", "ci": UVCI}]


def test_independent_decode_step_by_step(signer):
    """Base45 → zlib → CBOR → COSE_Sign1, signature checked with `cryptography` alone (not pycose, not hcert)."""
    text = issue(signer)
    assert text.startswith("HC1:")
    cose = zlib.decompress(base45.b45decode(text[4:]))
    tag = cbor2.loads(cose)
    assert tag.tag == 18
    protected_bytes, unprotected, payload, signature = tag.value
    protected = cbor2.loads(protected_bytes)
    assert protected[1] == -7 and protected[4] == kid_of(signer.certificate) and unprotected == {}
    to_be_signed = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    signer.certificate.public_key().verify(der, to_be_signed, ec.ECDSA(hashes.SHA256()))  # raises if wrong
    claims = cbor2.loads(payload)
    assert claims[1] == "VN" and claims[6] == int(NOW.timestamp())
    assert claims[4] == int((NOW + dt.timedelta(days=365)).timestamp())
    dcc_json = claims[-260][1]
    assert dcc_json["nam"] == {"fn": "Trần", "fnt": "TRAN", "gn": "Thị Hồng Nhung", "gnt": "THI<HONG<NHUNG"}
    assert dcc_json["v"][0]["ci"] == UVCI
    assert "064195001234" not in repr(claims)  # no ID number


def _repack(text: str, change) -> str:
    tag = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    parts = list(tag.value)
    change(parts)
    return "HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts)))).decode()


def test_tampered_payload_is_a_bad_signature(signer):
    def older(parts):
        claims = cbor2.loads(parts[2])
        claims[-260][1]["dob"] = "1950-01-01"
        parts[2] = cbor2.dumps(claims)

    result = hcert.verify(_repack(issue(signer), older), trusting(signer.certificate), NOW)
    assert (result.valid, result.reason) == (False, "bad_signature")


def test_a_key_that_is_not_trusted_is_unknown(signer, tmp_path):
    other = local_signer(tmp_path / "other", "someone else", NOW)
    result = hcert.verify(issue(other), trusting(signer.certificate), NOW)
    assert (result.valid, result.reason) == (False, "unknown_kid")


def test_a_kid_pointing_at_another_key_is_a_bad_signature(signer, tmp_path):
    other = local_signer(tmp_path / "other", "forger", NOW)
    forged = Signer(other.key, signer.certificate)  # claims the trusted kid, signs with its own key
    result = hcert.verify(issue(forged), trusting(signer.certificate), NOW)
    assert result.reason == "bad_signature"


def test_revoked_key(signer):
    trust = trusting(signer.certificate)
    trust.revoke(kid_of(signer.certificate))
    assert hcert.verify(issue(signer), trust, NOW).reason == "revoked"
    # Revoked and unknown to this verifier (only the kid was published): still "revoked".
    only_kid = hcert.TrustStore(revoked={kid_of(signer.certificate)})
    assert hcert.verify(issue(signer), only_kid, NOW).reason == "revoked"


def test_expiry_and_issued_at_against_the_clock(signer):
    text = issue(signer, days=30)
    trust = trusting(signer.certificate)
    exp = NOW + dt.timedelta(days=30)
    assert hcert.verify(text, trust, NOW + dt.timedelta(days=29)).valid
    # Rejected *after* exp (hcert spec 3.3.5, and the member states' cases with the clock exactly at exp).
    assert hcert.verify(text, trust, exp).valid
    assert hcert.verify(text, trust, exp + dt.timedelta(seconds=1)).reason == "expired"
    assert hcert.verify(text, trust, NOW - dt.timedelta(hours=1)).reason == "not_yet_valid"
    assert hcert.verify(text, trust, NOW - dt.timedelta(minutes=2)).valid  # small clock skew is tolerated


def test_a_validation_clock_with_a_time_zone_offset():
    from kiosk.commands import parse_time

    at = parse_time("2026-11-25T16:30:00+07:00")  # the same instant as NOW, as a clock in Vietnam writes it
    assert at == NOW and parse_time("2026-11-25T16:30:00+0700") == NOW and parse_time("2026-11-25T09:30") == NOW
    issuer = ExternalIssuer(ES256, now=NOW)
    text = issuer.issue(NOW - dt.timedelta(days=1), days=1)  # exp is exactly NOW
    assert hcert.verify(text, trusting(issuer.certificate), at).valid
    assert hcert.verify(text, trusting(issuer.certificate),
                        parse_time("2026-11-25T16:30:01+07:00")).reason == "expired"


def test_a_signer_certificate_expired_at_the_clock(signer):
    """As the EU reference verifier: the DSC must not have expired at the validation clock."""
    end = signer.certificate.not_valid_after_utc
    text = issue(signer, issued=end - dt.timedelta(days=10), days=30)
    trust = trusting(signer.certificate)
    assert hcert.verify(text, trust, end).valid
    assert hcert.verify(text, trust, end + dt.timedelta(seconds=1)).reason == "signer_not_valid"
    late = end + dt.timedelta(days=1)
    assert hcert.verify(issue(signer, issued=late), trust, late).reason == "signer_not_valid"


def test_an_iat_before_the_signer_certificate_is_not_refused(signer):
    """dgc-testdata BG 4: the specification asks issuers not to predate the DSC, EU verifiers do not check it."""
    before = signer.certificate.not_valid_before_utc - dt.timedelta(days=20)
    assert hcert.verify(issue(signer, issued=before), trusting(signer.certificate), NOW).valid


def test_our_certificates_never_outlive_their_signer(tmp_path):
    """exp ≤ the DSC's end (hcert spec 3.3.5): a dose signed in the key's last months still verifies to its exp."""
    key = ec.generate_private_key(ec.SECP256R1())
    short = Signer(key, self_signed_certificate(key, "vaxkiosk GL-01/k9", NOW, days=30))
    dose = dcc.Dose(VACCINES["comirnaty"], 1, dt.date(2026, 11, 25), UVCI)
    text = sign_dose(short, NAME, DOB, dose, now=NOW)
    decoded = hcert.decode(text)
    assert decoded.expires == short.certificate.not_valid_after_utc.replace(microsecond=0)
    trust = trusting(short.certificate)
    assert hcert.verify(text, trust, decoded.expires).valid
    assert hcert.verify(text, trust, decoded.expires + dt.timedelta(seconds=1)).reason == "expired"
    long_lived = local_signer(tmp_path / "k", "vaxkiosk GL-01/k1", NOW)  # a 5-year key: the full 365 days
    assert hcert.decode(sign_dose(long_lived, NAME, DOB, dose, now=NOW)).expires == NOW + dt.timedelta(days=365)


def test_a_time_no_clock_can_hold_is_a_bad_payload_not_a_crash(signer, tmp_path):
    """A stranger's code with exp = 2**70 or NaN: refused with its reason, and its summary can still be shown
    (verify-cert prints it for any decodable code, signed by a key we trust or not)."""
    stranger = local_signer(tmp_path / "stranger", "stranger", NOW)
    for exp in (2 ** 70, float("nan"), float("inf"), -(2 ** 70)):
        dose = dcc.build(NAME, DOB, dcc.Dose(VACCINES["comirnaty"], 1, dt.date(2026, 11, 25), UVCI))
        text = hcert.sign({1: "VN", 6: int(NOW.timestamp()), 4: exp, -260: {1: dose}}, stranger)
        for trust in (trusting(), trusting(stranger.certificate)):
            result = hcert.verify(text, trust, NOW)
            assert (result.valid, result.reason) == (False, "bad_payload")
            assert result.to_json()["reason"] == "bad_payload"


@pytest.mark.parametrize("text, reason", [
    ("", "not_hc1"),
    ("064195001234|230987654|Trần Thị Hồng Nhung|12081995|Nữ|x|03062021", "not_hc1"),
    ("HC1:abc", "bad_base45"),
    ("HC1:" + base45.b45encode(b"\x78\x9c garbage").decode(), "bad_compression"),
    ("HC1:" + base45.b45encode(zlib.compress(b"\xff\xff")).decode(), "bad_cose"),
    ("HC1:" + base45.b45encode(zlib.compress(cbor2.dumps([1, 2, 3]))).decode(), "bad_cose"),
    ("HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"\xa0", b""])))).decode(),
     "bad_payload"),
])
def test_damaged_codes_have_their_reason(text, reason):
    result = hcert.verify(text, hcert.TrustStore(), NOW)
    assert (result.valid, result.reason) == (False, reason)


def test_a_cut_off_code_is_damaged(signer):
    """Without its checksum the zlib stream still inflates to the whole, correctly signed message."""
    packed = base45.b45decode(issue(signer)[4:])
    cut = "HC1:" + base45.b45encode(packed[:-2]).decode()
    assert hcert.verify(cut, trusting(signer.certificate), NOW).reason == "bad_compression"


def test_a_zip_bomb_is_refused():
    bomb = zlib.compress(b"\0" * (hcert.MAX_INFLATED_BYTES * 4))
    assert hcert.verify("HC1:" + base45.b45encode(bomb).decode(), hcert.TrustStore(), NOW).reason == \
        "bad_compression"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_verify_never_raises_on_any_bytes(data):
    for text in ("HC1:" + base45.b45encode(data).decode(), "HC1:" + base45.b45encode(zlib.compress(data)).decode()):
        result = hcert.verify(text, hcert.TrustStore(), NOW)
        assert result.valid is False and result.reason in hcert.REASONS


@pytest.mark.parametrize("kid_in, cwt_tag", [("protected", False), ("unprotected", False), ("protected", True),
                                             ("unprotected", True)])
def test_independent_ps256_issuer(kid_in, cwt_tag):
    issuer = ExternalIssuer(PS256, now=NOW)
    text = issuer.issue(NOW, kid_in=kid_in, cwt_tag=cwt_tag)
    result = hcert.verify(text, trusting(issuer.certificate), NOW)
    assert (result.valid, result.reason) == (True, "ok")
    assert result.kid == issuer.kid and result.to_json()["name"] == "Müller Anna"


def test_independent_es256_issuer_and_an_algorithm_we_do_not_accept():
    es256 = ExternalIssuer(ES256, country="FR", now=NOW)
    assert hcert.verify(es256.issue(NOW, cwt_tag=True), trusting(es256.certificate), NOW).valid
    es384 = ExternalIssuer(ES384, country="IT", now=NOW)
    assert hcert.verify(es384.issue(NOW), trusting(es384.certificate), NOW).reason == "unsupported_alg"


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1(), ec.BrainpoolP256R1()])
def test_es256_on_the_signers_own_curve(curve):
    """ECDSA with SHA-256 on whatever curve the DSC has, as EU verifiers do (dgc-testdata ES 401-403: P-384)."""
    issuer = ExternalIssuer(ES256, country="ES", now=NOW, curve=curve)
    assert hcert.verify(issuer.issue(NOW), trusting(issuer.certificate), NOW).valid


@pytest.mark.parametrize("weak", [dict(alg=ES256, curve=ec.SECP224R1()), dict(alg=ES256, curve=ec.SECP192R1()),
                                  dict(alg=PS256, rsa_bits=1024)])
def test_a_signing_key_weaker_than_the_specification_is_refused(weak):
    issuer = ExternalIssuer(weak.pop("alg"), now=NOW, **weak)
    result = hcert.verify(issuer.issue(NOW), trusting(issuer.certificate), NOW)
    assert (result.valid, result.reason) == (False, "unsupported_alg")


def test_an_ecdsa_signature_of_the_wrong_length_is_refused_without_a_crash(signer):
    """dgc-testdata BasicDgcTestsList CO24: a longer signature must be invalid, nothing else."""
    for cut in (lambda sig: sig + b"\x00", lambda sig: sig[:-1], lambda sig: b"\x30" + sig[1:70], lambda _: b""):
        def resign(parts, cut=cut):
            parts[3] = cut(parts[3])

        result = hcert.verify(_repack(issue(signer), resign), trusting(signer.certificate), NOW)
        assert (result.valid, result.reason) == (False, "bad_signature")


# -- the DSC's extended key usage (hcert spec A.4) ---------------------------------------------------------
def test_a_vaccination_signed_by_a_test_only_signer_is_refused():
    tests_only = ExternalIssuer(ES256, now=NOW, key_usage=[EKU_TEST])
    trust = trusting(tests_only.certificate)
    result = hcert.verify(tests_only.issue(NOW), trust, NOW)
    assert (result.valid, result.reason) == (False, "key_usage_mismatch")
    assert result.to_json()["name"] == "Müller Anna"  # decoded, so an inspector sees what it claims
    assert hcert.verify(tests_only.issue(NOW, dcc=tests_only.test_dcc()), trust, NOW).valid


@pytest.mark.parametrize("key_usage, valid", [
    ([EKU_VACCINATION], True),
    ([EKU_VACCINATION_ALT], True),  # the "1.3.6.1.4.1.0.1847..." spelling of many member states
    ([EKU_TEST, EKU_RECOVERY], False),
    ([EKU_CLIENT_AUTH], True),  # an extended key usage without DCC OIDs does not limit the types
    ([EKU_CLIENT_AUTH, EKU_RECOVERY], False),
    (None, True),  # no extension: any type
])
def test_the_signers_key_usage_decides_which_types_it_signs(key_usage, valid):
    issuer = ExternalIssuer(PS256, now=NOW, key_usage=key_usage)
    result = hcert.verify(issuer.issue(NOW), trusting(issuer.certificate), NOW)
    assert (result.valid, result.reason) == (valid, "ok" if valid else "key_usage_mismatch")


def test_a_signer_whose_key_usage_cannot_be_read_signs_nothing():
    """A DSC with a garbled extended key usage extension cannot be known to allow vaccinations."""
    garbled = x509.UnrecognizedExtension(ExtensionOID.EXTENDED_KEY_USAGE, b"\x30\x05\x06\x03\x2b")
    issuer = ExternalIssuer(ES256, now=NOW, extensions=[garbled])
    assert hcert.verify(issuer.issue(NOW), trusting(issuer.certificate), NOW).reason == "key_usage_mismatch"


def test_our_own_signing_certificates_sign_vaccinations(signer):
    assert hcert.signable_types(signer.certificate) is None  # no extended key usage: as before


def test_an_es256_header_on_an_rsa_key_is_refused():
    issuer = ExternalIssuer(PS256, now=NOW)
    text = issuer.issue(NOW)

    def claim_es256(parts):
        parts[0] = cbor2.dumps({1: -7, 4: issuer.kid})

    assert hcert.verify(_repack(text, claim_es256), trusting(issuer.certificate), NOW).reason == "bad_signature"


def test_the_protected_kid_wins_over_an_unprotected_one(signer):
    def decoy(parts):
        parts[1] = {4: b"\xde\xad\xbe\xef\x00\x00\x00\x00"}

    result = hcert.verify(_repack(issue(signer), decoy), trusting(signer.certificate), NOW)
    assert result.valid and result.kid == kid_of(signer.certificate)


VIETNAMESE_LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"


@pytest.fixture(scope="module")
def module_signer(tmp_path_factory):
    return local_signer(tmp_path_factory.mktemp("site"), "vaxkiosk GL-01/k1", NOW)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=VIETNAMESE_LETTERS + VIETNAMESE_LETTERS.upper(), min_size=1, max_size=8),
                min_size=1, max_size=5))
def test_any_vietnamese_name_survives_the_round_trip(module_signer, words):
    signer = module_signer
    name = " ".join(w.capitalize() for w in words)
    dose = dcc.Dose(VACCINES["vero-cell"], 1, dt.date(2026, 11, 25), UVCI)
    text = hcert.sign(hcert.claims(dcc.build(name, DOB, dose), NOW, NOW + dt.timedelta(days=1)), signer)
    result = hcert.verify(text, trusting(signer.certificate), NOW)
    assert result.valid and result.to_json()["name"] == name
    nam = result.decoded.dcc["nam"]
    assert nam["fnt"] == dcc.icao_transliterate(words[0].capitalize())
