"""HC1 codec: DCC claims → CWT → COSE_Sign1 → zlib → Base45 → `HC1:`, and back, with signature and time checks.

Maintained libraries do the encoding (cbor2, pycose, base45, cryptography); this module only puts them in the
order the EU DCC specification (hcert, v1.3) gives and turns every way a code can be wrong into a stable reason.
Verification follows the specification: the key is found by kid (protected header first, then unprotected),
ES256 and PS256 are accepted, exp and iat are checked against the given clock, and both the plain COSE_Sign1
tag (18) and the CWT-wrapped form (tag 61 around tag 18) are read.
"""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from dataclasses import dataclass, field

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pycose.algorithms import Es256, Ps256
from pycose.headers import KID, Algorithm
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

from kiosk.certificates.signing import Signer, kid_of

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

REASONS = (
    "ok", "not_hc1", "bad_base45", "bad_compression", "bad_cose", "bad_payload", "no_kid", "unknown_kid",
    "unsupported_alg", "bad_signature", "revoked", "not_yet_valid", "expired", "signer_not_valid",
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
    if d.alg not in ALGORITHMS:
        return False, "unsupported_alg"
    if not _signature_ok(d, cert):
        return False, "bad_signature"
    if kid in trust.revoked:
        return False, "revoked"
    if d.issued > at + CLOCK_SKEW:
        return False, "not_yet_valid"
    if d.expires <= at:
        return False, "expired"
    if not cert.not_valid_before_utc <= d.issued <= cert.not_valid_after_utc:
        return False, "signer_not_valid"
    return True, "ok"


def _signature_ok(d: Decoded, cert: x509.Certificate) -> bool:
    public = cert.public_key()
    expected = ec.EllipticCurvePublicKey if ALGORITHMS[d.alg] == "ES256" else rsa.RSAPublicKey
    if not isinstance(public, expected):
        return False
    try:
        # The unprotected bucket is not signed: leave out what the protected one already says (pycose refuses a
        # label present in both, the specification says the protected one wins).
        unprotected = {k: v for k, v in d.unprotected.items() if k not in d.protected}
        message = Sign1Message.from_cose_obj([d.protected_bytes, unprotected, d.payload, d.signature],
                                             allow_unknown_attributes=True)
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        message.key = CoseKey.from_pem_public_key(pem.decode())
        return bool(message.verify_signature())
    except Exception:  # noqa: BLE001 - pycose raises many types for a malformed signature; all mean "not valid"
        return False
