"""Another country's DCC issuer, built from general-purpose libraries only (cbor2, cryptography, zlib, base45).

It makes certificates the way other issuers do (PS256 keys, kid in the unprotected header, the CWT tag 61 around
COSE_Sign1, ES256 on a P-384 key, DSCs limited by extended key usage) without the project's encoder, so the
verifier is tested against an independent producer. Its DSC is made at the caller's clock (`now`), never at this
machine's: a test's certificates stay valid whatever day it runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ES256, PS256, ES384 = -7, -37, -35


# DSC extended key usage OIDs (hcert spec A.4) and the other spelling many member states use.
EKU_TEST, EKU_VACCINATION, EKU_RECOVERY = (f"1.3.6.1.4.1.1847.2021.1.{n}" for n in (1, 2, 3))
EKU_VACCINATION_ALT = "1.3.6.1.4.1.0.1847.2021.1.2"
EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


class ExternalIssuer:
    def __init__(self, alg: int = PS256, country: str = "DE", *, now: dt.datetime, valid_days: int = 3 * 365,
                 curve: ec.EllipticCurve | None = None, rsa_bits: int = 2048, key_usage: list[str] | None = None,
                 extensions: list[x509.ExtensionType] = ()):
        """A DSC valid from 30 days before `now` for `valid_days` after it; `key_usage` OIDs go in its extended
        key usage extension, `extensions` are added as they are (raw ones included)."""
        self.alg = alg
        if alg == PS256:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        else:
            self.key = ec.generate_private_key(curve or (ec.SECP384R1() if alg == ES384 else ec.SECP256R1()))
        name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"DSC test {country}")])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=30))
                   .not_valid_after(now + dt.timedelta(days=valid_days)))
        if key_usage:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in key_usage]), critical=False)
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        self.certificate = builder.sign(self.key, hashes.SHA256())
        self.kid = hashlib.sha256(self.certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]
        self.country = country

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def dcc(self, uvci: str = "URN:UVCI:01:DE:TEST/0001#X") -> dict:
        return {"ver": "1.3.0", "nam": {"fn": "Müller", "fnt": "MUELLER", "gn": "Anna", "gnt": "ANNA"},
                "dob": "1980-02-29",
                "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                       "dn": 2, "sd": 2, "dt": "2021-06-01", "co": self.country, "is": "Test issuer", "ci": uvci}]}

    def test_dcc(self) -> dict:
        """A negative PCR test result: the DCC's "t" entry."""
        return {"ver": "1.3.0", "nam": {"fn": "Müller", "fnt": "MUELLER", "gn": "Anna", "gnt": "ANNA"},
                "dob": "1980-02-29",
                "t": [{"tg": "840539006", "tt": "LP6464-4", "sc": "2021-06-01T10:00:00Z", "tr": "260415000",
                       "tc": "Testzentrum", "co": self.country, "is": "Test issuer",
                       "ci": "URN:UVCI:01:DE:TEST/0002#Y"}]}

    def issue(self, issued: dt.datetime, days: int = 365, kid_in: str = "protected", cwt_tag: bool = False,
              dcc: dict | None = None) -> str:
        claims = {1: self.country, 6: int(issued.timestamp()),
                  4: int((issued + dt.timedelta(days=days)).timestamp()), -260: {1: dcc or self.dcc()}}
        protected = {1: self.alg}
        unprotected = {}
        (protected if kid_in == "protected" else unprotected)[4] = self.kid
        protected_bytes = cbor2.dumps(protected)
        payload = cbor2.dumps(claims)
        to_sign = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
        if self.alg == PS256:
            signature = self.key.sign(to_sign, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        else:
            curve_hash = hashes.SHA384() if self.alg == ES384 else hashes.SHA256()  # ES256 on any curve
            size = (self.key.curve.key_size + 7) // 8
            r, s = decode_dss_signature(self.key.sign(to_sign, ec.ECDSA(curve_hash)))
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        message = cbor2.CBORTag(18, [protected_bytes, unprotected, payload, signature])
        if cwt_tag:
            message = cbor2.CBORTag(61, message)
        return "HC1:" + base45.b45encode(zlib.compress(cbor2.dumps(message))).decode("ascii")
