"""HC1 codec: DCC claims → CWT → COSE_Sign1 → zlib → Base45 → `HC1:`, and back, with signature and time checks.

Maintained libraries do the encoding (cbor2, pycose, base45, cryptography, asn1crypto); this module only puts them
in the order the EU DCC specification (hcert, v1.3) gives and turns every way a code can be wrong into a stable
reason. Verification follows the specification and what the EU verifiers do, as the member states' conformance data
(dgc-testdata, tests/kiosk/test_dcc_conformance.py) checks it: the key is found by kid (protected header first,
then unprotected), ES256 and PS256 are accepted, the signer's extended key usage limits the certificate types it
signs, exp and iat are checked against the given clock, the signer certificate must not have expired at that
clock, and both the plain COSE_Sign1 tag (18) and the CWT-wrapped form (tag 61 around tag 18) are read.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import zlib
from dataclasses import dataclass, field

import base45
import cbor2
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pycose.algorithms import Es256, Ps256
from pycose.headers import KID, Algorithm
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

from base.signing import Signer, kid_of

PREFIX = "HC1:"
ISSUER_COUNTRY = "VN"
# CWT claim keys (RFC 8392) and the DCC's own claim.
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
HCERT_DCC_V1 = 1
# COSE header labels and algorithms (RFC 9052/9053, RFC 8230).
HEADER_ALG, HEADER_KID = 1, 4
ALGORITHMS = {-7: "ES256", -37: "PS256"}
TAG_COSE_SIGN1, TAG_CWT = 18, 61
# A payload that inflates beyond this is not a certificate (and would be a zip bomb on a kiosk).
MAX_INFLATED_BYTES = 64 * 1024
# A kiosk clock and a verifier's clock may disagree a little: an iat slightly ahead of the verifier is accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)
# ES256 is ECDSA with SHA-256. The specification names P-256; EU verifiers (SHA256withECDSA in Java) take the
# DSC's own curve, and member states' DSCs use P-384 too (dgc-testdata ES 401-403). Weaker keys are refused.
MIN_EC_BITS, MIN_RSA_BITS = 256, 2048
PSS_SALT_BYTES = 32  # RFC 8230: the salt is as long as the hash
# Extended key usage OIDs that limit what a DSC may sign (hcert spec A.4), by DCC entry: test, vaccination,
# recovery. Member states' DSCs also carry the "1.3.6.1.4.1.0.1847" spelling, which EU verifiers accept alike.
KEY_USAGE_OIDS = {
    "t": {"1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"},
    "v": {"1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"},
    "r": {"1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"},
}

REASONS = (
    "ok", "not_hc1", "bad_base45", "bad_compression", "bad_cose", "bad_payload", "no_kid", "unknown_kid",
    "unsupported_alg", "bad_signature", "revoked", "key_usage_mismatch", "not_yet_valid", "expired",
    "signer_not_valid",
)


class HcertError(Exception):
    def __init__(self, reason: str, detail: str = ""):
        assert reason in REASONS, reason
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


# -- issuing -------------------------------------------------------------------------------------------------
def claims(dcc: dict, issued: dt.datetime, expires: dt.datetime) -> dict:
    return {CLAIM_ISS: ISSUER_COUNTRY, CLAIM_IAT: int(issued.timestamp()), CLAIM_EXP: int(expires.timestamp()),
            CLAIM_HCERT: {HCERT_DCC_V1: dcc}}


def sign(claim_set: dict, signer: Signer) -> str:
    """The `HC1:` text of a claim set signed by `signer` (ES256 for an EC key, PS256 for an RSA key)."""
    alg = Ps256 if isinstance(signer.key, rsa.RSAPrivateKey) else Es256
    message = Sign1Message(phdr={Algorithm: alg, KID: signer.kid}, payload=cbor2.dumps(claim_set))
    pem = signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    message.key = CoseKey.from_pem_private_key(pem.decode())
    cose = message.encode(tag=True)
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


# -- reading -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decoded:
    protected_bytes: bytes
    protected: dict
    unprotected: dict
    payload: bytes
    signature: bytes
    claims: dict

    @property
    def kid(self) -> bytes | None:
        return self.protected.get(HEADER_KID) or self.unprotected.get(HEADER_KID)

    @property
    def alg(self) -> int | None:
        return self.protected.get(HEADER_ALG, self.unprotected.get(HEADER_ALG))

    @property
    def dcc(self) -> dict:
        return self.claims[CLAIM_HCERT][HCERT_DCC_V1]

    @property
    def issued(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.claims[CLAIM_IAT], dt.timezone.utc)

    @property
    def expires(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.claims[CLAIM_EXP], dt.timezone.utc)


def decode(text: str) -> Decoded:
    """Unpack an `HC1:` text without checking the signature; raises HcertError with the step that failed."""
    text = (text or "").strip()
    if not text.startswith(PREFIX):
        raise HcertError("not_hc1")
    try:
        packed = base45.b45decode(text[len(PREFIX):])
    except (ValueError, KeyError, TypeError) as exc:
        raise HcertError("bad_base45", str(exc)) from None
    cose = _inflate(packed)
    try:
        obj = cbor2.loads(cose)
    except Exception as exc:  # noqa: BLE001 - cbor2 raises several types for malformed input
        raise HcertError("bad_cose", str(exc)) from None
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_CWT:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_COSE_SIGN1:
        obj = obj.value
    if not (isinstance(obj, list) and len(obj) == 4 and isinstance(obj[0], bytes) and isinstance(obj[1], dict)
            and isinstance(obj[2], bytes) and isinstance(obj[3], bytes)):
        raise HcertError("bad_cose", "not a COSE_Sign1 structure")
    protected_bytes, unprotected, payload, signature = obj
    try:
        protected = cbor2.loads(protected_bytes) if protected_bytes else {}
        claim_set = cbor2.loads(payload)
    except Exception as exc:  # noqa: BLE001
        raise HcertError("bad_payload", str(exc)) from None
    if not isinstance(protected, dict):
        raise HcertError("bad_cose", "protected header is not a map")
    decoded = Decoded(protected_bytes, protected, unprotected, payload, signature, claim_set)
    _check_claims(decoded)
    return decoded


def _inflate(packed: bytes) -> bytes:
    # The specification compresses with zlib; an uncompressed COSE message (no zlib header) is read as it is.
    if not packed or packed[0] != 0x78:
        return packed
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise HcertError("bad_compression", str(exc)) from None
    if inflater.unconsumed_tail:
        raise HcertError("bad_compression", f"inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        # A cut-off code can still inflate to the whole message; the missing checksum says it is damaged.
        raise HcertError("bad_compression", "the zlib stream is incomplete")
    return data


def _check_claims(decoded: Decoded) -> None:
    c = decoded.claims
    if not isinstance(c, dict) or not isinstance(c.get(CLAIM_HCERT), dict):
        raise HcertError("bad_payload", "no hcert claim")
    if not isinstance(c[CLAIM_HCERT].get(HCERT_DCC_V1), dict):
        raise HcertError("bad_payload", "no DCC in the hcert claim")
    for claim in (CLAIM_IAT, CLAIM_EXP):
        if not isinstance(c.get(claim), (int, float)) or isinstance(c.get(claim), bool):
            raise HcertError("bad_payload", f"claim {claim} missing or not a number")
        # A time no clock can hold (2**70, NaN) would make every later use of it raise, also for a stranger's code.
        if not (math.isfinite(c[claim]) and _representable(c[claim])):
            raise HcertError("bad_payload", f"claim {claim} is not a usable time")


def _representable(timestamp: int | float) -> bool:
    try:
        dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return False
    return True


# -- trust and verification ----------------------------------------------------------------------------------
@dataclass
class TrustStore:
    """Signing certificates by kid, and the kids that are revoked (they stay known, so the reason is precise)."""

    certificates: dict[bytes, x509.Certificate] = field(default_factory=dict)
    revoked: set[bytes] = field(default_factory=set)

    def add(self, certificate: x509.Certificate) -> bytes:
        kid = kid_of(certificate)
        self.certificates[kid] = certificate
        return kid

    def revoke(self, kid: bytes) -> None:
        self.revoked.add(kid)


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str
    decoded: Decoded | None = None

    @property
    def kid(self) -> bytes | None:
        return self.decoded.kid if self.decoded else None

    def to_json(self) -> dict:
        from kiosk.certificates import dcc as dcc_json

        d = self.decoded
        payload = d.dcc if d else {}
        return {
            "valid": self.valid,
            "reason": self.reason,
            "name": dcc_json.display_name(payload) if d else None,
            "dob": payload.get("dob") if d else None,
            "doses": dcc_json.doses(payload) if d else [],
            "kid": base64.b64encode(d.kid).decode("ascii") if d and isinstance(d.kid, bytes) else None,
            "issued": d.issued.isoformat() if d else None,
            "expires": d.expires.isoformat() if d else None,
            "issuer": d.claims.get(CLAIM_ISS) if d else None,
        }


def verify(text: str, trust: TrustStore, at: dt.datetime | None = None) -> Verification:
    """Never raises for any input text: every failure is a Verification with its reason."""
    at = at or dt.datetime.now(dt.timezone.utc)
    try:
        decoded = decode(text)
    except HcertError as exc:
        return Verification(False, exc.reason)
    return Verification(*_check(decoded, trust, at), decoded)


def _check(d: Decoded, trust: TrustStore, at: dt.datetime) -> tuple[bool, str]:
    kid = d.kid
    if not isinstance(kid, bytes) or not kid:
        return False, "no_kid"
    cert = trust.certificates.get(kid)
    if cert is None:
        return False, "revoked" if kid in trust.revoked else "unknown_kid"
    if d.alg not in ALGORITHMS or not _strong_enough(cert.public_key()):
        return False, "unsupported_alg"
    if not _signature_ok(d, cert):
        return False, "bad_signature"
    if kid in trust.revoked:
        return False, "revoked"
    failure = key_usage_failure(d, cert) or clock_failure(d, cert, at)
    return (False, failure) if failure else (True, "ok")


def key_usage_failure(d: Decoded, cert: x509.Certificate) -> str | None:
    """"key_usage_mismatch" when the signer's extended key usage names DCC types and this certificate's is not one
    of them. A DSC with no DCC type OID (no extension, or only other OIDs) signs any type (hcert spec A.4)."""
    allowed = signable_types(cert)
    if allowed is not None and not set(d.dcc).intersection(KEY_USAGE_OIDS) <= allowed:
        return "key_usage_mismatch"
    return None


def clock_failure(d: Decoded, cert: x509.Certificate, at: dt.datetime) -> str | None:
    """The checks against the validation clock, as the EU verifiers make them."""
    if d.issued > at + CLOCK_SKEW:
        return "not_yet_valid"
    # "after which a Verifier MUST reject the Payload as expired" (hcert spec 3.3.5): valid at exp itself; the
    # conformance data has valid cases with the clock exactly at exp (DK, IE, ES 1501-1503).
    if at > d.expires:
        return "expired"
    # The EU reference verifier refuses a signer certificate expired at the clock; it does not compare iat with the
    # signer's validity (dgc-testdata BG 4 is valid with an iat before it), the specification asks that of issuers.
    if at > cert.not_valid_after_utc:
        return "signer_not_valid"
    return None


@functools.lru_cache(maxsize=256)
def signable_types(cert: x509.Certificate) -> frozenset[str] | None:
    """The DCC entry types ("v", "t", "r") the certificate's extended key usage allows, or None if it does not
    limit them. Read with asn1crypto: `cryptography` refuses DSCs that encode a DER default value (Finland's
    BasicConstraints cA=FALSE), which EU verifiers accept. An extension that cannot be read allows nothing."""
    try:
        usage = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)).extended_key_usage_value
        oids = {purpose.dotted for purpose in usage} if usage is not None else set()
    except Exception:  # noqa: BLE001 - asn1crypto raises several types for malformed DER; all mean "unreadable"
        return frozenset()
    allowed = frozenset(t for t, type_oids in KEY_USAGE_OIDS.items() if oids & type_oids)
    return allowed or None


def _strong_enough(public) -> bool:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.curve.key_size >= MIN_EC_BITS
    if isinstance(public, rsa.RSAPublicKey):
        return public.key_size >= MIN_RSA_BITS
    return False


def _signature_ok(d: Decoded, cert: x509.Certificate) -> bool:
    """The COSE_Sign1 signature (RFC 9052 Sig_structure) checked with `cryptography` directly: the protected header
    as it was received, no external data. A key of the other family than the header's algorithm is not valid."""
    public = cert.public_key()
    signed = cbor2.dumps(["Signature1", d.protected_bytes, b"", d.payload])
    try:
        if ALGORITHMS[d.alg] == "ES256":
            if not isinstance(public, ec.EllipticCurvePublicKey):
                return False
            size = (public.curve.key_size + 7) // 8  # r || s, each as long as the curve order
            if len(d.signature) != 2 * size:
                return False
            r, s = int.from_bytes(d.signature[:size], "big"), int.from_bytes(d.signature[size:], "big")
            public.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        else:
            if not isinstance(public, rsa.RSAPublicKey):
                return False
            public.verify(d.signature, signed, padding.PSS(padding.MGF1(hashes.SHA256()), PSS_SALT_BYTES),
                          hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
