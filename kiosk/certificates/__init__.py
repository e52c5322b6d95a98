"""Vaccination certificates: a stored dose → the printable view (CertificateView) with its signed `HC1:` QR; a scanned
certificate → the record (staff) or a verdict (citizen). Reprints are print jobs (kiosk.reprints).

The QR holds one dose (the DCC carries exactly one vaccination entry); the paper lists every dose on record here for
the same person. The certificate identifier (UVCI, kiosk.vaccination.make_uvci) is fixed when the dose is recorded,
so every reprint carries the same one; a reprint is signed again (fresh iat/exp).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from base.privacy import mask_id
from base.refusal import Refusal
from base.signing import Signer, local_signer
from kiosk.certificates import dcc, hcert
from kiosk.certificates.trustlist import trust_store
from kiosk.clock import Clock
from kiosk.identity import EARLIEST_TODAY, Identity
from kiosk.store import Store
from kiosk.vaccination import dose_by_uvci, dose_record, doses_of_number, make_uvci
from kiosk.vaccines import VACCINES

# exp - iat. A reprint is signed again (fresh iat/exp) with the same UVCI, so a lost paper never needs a new dose id.
VALIDITY_DAYS = 365
SAMPLE_SITE = "DEV"

# Verification reasons as a citizen reads them (Vietnamese first), keyed by kiosk.certificates.hcert.REASONS.
_DAMAGED = ("Mã chứng nhận bị hỏng, không đọc được.", "The certificate code is damaged and cannot be read.")
VERDICTS: dict[str, tuple[str, str]] = {
    "ok": ("Chứng nhận hợp lệ.", "The certificate is valid."),
    "not_hc1": ("Đây không phải mã chứng nhận tiêm chủng.", "This is not a vaccination certificate code."),
    "bad_base45": _DAMAGED,
    "bad_compression": _DAMAGED,
    "bad_cose": _DAMAGED,
    "bad_payload": ("Nội dung chứng nhận không đúng định dạng.",
                    "The certificate content is not in the expected format."),
    "no_kid": ("Chứng nhận không có mã khóa ký.", "The certificate does not name its signing key."),
    "unknown_kid": ("Chứng nhận được ký bởi khóa không có trong danh sách tin cậy.",
                    "The certificate is signed by a key that is not on the trust list."),
    "unsupported_alg": ("Chứng nhận dùng thuật toán ký không được chấp nhận.",
                        "The certificate uses a signature algorithm that is not accepted."),
    "bad_signature": ("Chữ ký không hợp lệ: chứng nhận đã bị sửa đổi.",
                      "The signature does not match: the certificate has been altered."),
    "revoked": ("Khóa ký của chứng nhận đã bị thu hồi.", "The certificate's signing key has been revoked."),
    "key_usage_mismatch": ("Khóa ký này không được phép ký loại chứng nhận này.",
                           "The signing key is not allowed to sign this type of certificate."),
    "not_yet_valid": ("Chứng nhận chưa có hiệu lực (ngày cấp ở tương lai).",
                      "The certificate is not valid yet (issued in the future)."),
    "expired": ("Chứng nhận đã hết hạn.", "The certificate has expired."),
    "signer_not_valid": ("Chứng thư của khóa ký đã hết hạn.",
                         "The signing key's certificate has expired."),
}

ERRORS = {
    "not_found": ("Không tìm thấy mũi tiêm.", "No vaccination record found."),
    "clock_not_set": ("Đồng hồ của kiosk chưa đúng, chưa thể ký chứng nhận.",
                      "The kiosk clock is not set yet: the certificate cannot be signed."),
}


class CertificateError(Refusal):
    MESSAGES = ERRORS


class RecordNotFound(CertificateError, LookupError):
    """No such dose: the printer worker marks the job unprintable (it catches LookupError)."""

    def __init__(self, detail: str = ""):
        super().__init__("not_found", detail)


def signer_subject(site_id: str, kiosk_id: str = "") -> str:
    return f"vaxkiosk {site_id}/{kiosk_id}" if kiosk_id else f"vaxkiosk {site_id}"


def signing_time(now: dt.datetime | None = None) -> dt.datetime:
    """Now, if the clock can be believed. A Pi that booted without network thinks it is 1970: a certificate signed
    then would be born expired, and a key created then would have a certificate valid only around 1970."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.date() < EARLIEST_TODAY:
        raise CertificateError("clock_not_set", now.isoformat())
    return now


def sign_dose(signer: Signer, full_name: str, dob: dt.date | None, dose: dcc.Dose,
              now: dt.datetime | None = None) -> str:
    """The HC1 text of one dose. exp never outlives the signing certificate (hcert spec 3.3.5): verifiers refuse a
    certificate whose signer has expired, so a later exp would only promise what they will not honour."""
    now = signing_time(now)
    expires = min(now + dt.timedelta(days=VALIDITY_DAYS), signer.certificate.not_valid_after_utc)
    claim_set = hcert.claims(dcc.build(full_name, dob, dose), issued=now, expires=expires)
    return hcert.sign(claim_set, signer)


# -- what a printed certificate shows (kiosk.printing.layouts lays it out) -----------------------------------------
@dataclass(frozen=True)
class DoseLine:
    dose_number: int
    date: dt.date | str
    vaccine: str
    lot: str


@dataclass(frozen=True)
class CertificateView:
    """What a printed certificate shows: certificate_view builds it from the records, sample_certificate_view from
    a sample dose."""

    full_name: str
    dob: dt.date | str | None
    masked_id: str
    site_name: str
    doses: list = field(default_factory=list)  # DoseLine objects or dicts: dose_number, date, vaccine, lot
    qr_payload: str = ""
    copy: int = 0
    uvci: str = ""  # the certificate identifier, printed as text: the same on every reprint


# -- from the store ------------------------------------------------------------------------------------------
def _record(store: Store, vaccination_id: str) -> dict:
    row = dose_record(store, vaccination_id)
    if row is None:
        raise RecordNotFound(vaccination_id)
    return row


def _dose_line(row: dict) -> DoseLine:
    vaccine = VACCINES.get(row["vaccine"])
    return DoseLine(row["dose_number"], dt.date.fromisoformat(row["day"]),
                    vaccine.name if vaccine else row["vaccine"], row["lot"])


def certificate_view(store: Store, vaccination_id: str, copy: int = 0,
                     now: dt.datetime | None = None) -> CertificateView:
    """The printable certificate of one stored dose, signed now with this kiosk's key (the data dir's); `copy`: the
    print job's copy number (0 = the original, n = the n-th reprint).

    The dose date is the local day of the check-in (the injection follows it on the same visit).
    """
    row = _record(store, vaccination_id)
    now = signing_time(now)  # before the first key is made with a wrong clock
    signer = local_signer(store.path.parent, signer_subject(row["site_id"], row["kiosk_id"]), now)
    dob = dt.date.fromisoformat(row["dob"]) if row["dob"] else None
    dose = dcc.Dose(VACCINES[row["vaccine"]], row["dose_number"], dt.date.fromisoformat(row["day"]), row["uvci"])
    history = doses_of_number(store, row["id_number"], until_wall=row["administered_wall"])
    return CertificateView(
        full_name=row["full_name"] or "",
        dob=dob or "",  # the layout prints a blank for an unknown date
        masked_id=mask_id(row["id_number"]),
        site_name=row["site_name"] or row["site_id"],
        doses=[_dose_line(r) for r in history],
        qr_payload=sign_dose(signer, row["full_name"] or "", dob, dose, now),
        copy=copy,
        uvci=row["uvci"],
    )


def sample_certificate_view(identity: Identity, data_dir: str | os.PathLike, now: dt.datetime | None = None,
                            site_name: str = "Điểm tiêm mẫu (sample site)") -> CertificateView:
    """A certificate for a sample dose (nothing stored), signed with the data dir's key, created on first use."""
    now = signing_time(now)
    signer = local_signer(Path(data_dir), signer_subject(SAMPLE_SITE, "development"), now)
    today = now.astimezone(Clock().tz).date()  # the sample's dose day is the signing day, whatever clock signs
    uvci = make_uvci(SAMPLE_SITE, uuid.uuid4().hex)
    dose = dcc.Dose(VACCINES["comirnaty"], 1, today, uvci)
    return CertificateView(
        full_name=identity.full_name or "",
        dob=identity.dob or "",
        masked_id=mask_id(identity.id_number),
        site_name=site_name,
        doses=[DoseLine(1, today, dose.vaccine.name, "SAMPLE-001")],
        qr_payload=sign_dose(signer, identity.full_name or "", identity.dob, dose, now),
        copy=0,
        uvci=uvci,
    )


def lookup_certificate(store: Store, text: str) -> dict | None:
    """A scanned certificate → this kiosk's record of that dose, for a staff reprint; None if it is not ours.

    The signature is not needed to find the record (the reprint is made from the store, not from the QR), but the
    QR's date of birth must match the record, so a UVCI copied into another person's code finds nothing.
    The ID number is returned masked only.
    """
    try:
        decoded = hcert.decode(text)
    except hcert.HcertError:
        return None
    entries = dcc.doses(decoded.dcc)
    uvci = entries[0].get("ci") if entries else None
    if not isinstance(uvci, str):
        return None
    row = dose_by_uvci(store, uvci)
    if row is None or (row["dob"] or "") != decoded.dcc.get("dob"):
        return None
    row["masked_id"] = mask_id(row.pop("id_number"))
    return row


def citizen_verdict(verification: hcert.Verification) -> dict:
    """What the citizen screen shows after a certificate scan: valid or not, why, in Vietnamese and English."""
    vi, en = VERDICTS[verification.reason]
    verdict = {"valid": verification.valid, "reason": verification.reason, "message_vi": vi, "message_en": en,
               "name": None, "dob": None, "doses": []}
    if verification.valid:  # the content of a code that failed verification is not shown as if it were true
        summary = verification.to_json()
        verdict |= {"name": summary["name"], "dob": summary["dob"],
                    "doses": [{"dose_number": d.get("dn"), "series": d.get("sd"), "date": d.get("dt")}
                              for d in summary["doses"]]}
    return verdict


def read_qr_image(path: str | os.PathLike) -> str | None:
    """The text of the first QR code in an image file (raw bytes as UTF-8, no charset guessing), or None."""
    from PIL import Image

    from drivers.escpos_render import decode_qr

    with Image.open(path) as image:
        found = decode_qr(image)
    return found[0] if found else None


def verify_scanned(text: str, data_dir: str | os.PathLike, at: dt.datetime | None = None) -> dict:
    """A certificate scanned at the kiosk (KioskCode kind "certificate") → the citizen verdict, offline: trusts
    this kiosk's key and the cached trust list."""
    return citizen_verdict(hcert.verify(text, trust_store(data_dir), at))


def scanned_verdict(text: str, data_dir, at) -> dict:
    """What a `scan` event says of a certificate held to the kiosk: valid or not and why. The name and birth date
    stay out of the event; the doses' numbers and dates are enough to recognise it."""
    verdict = verify_scanned(text, data_dir, at)
    return {k: verdict[k] for k in ("valid", "reason", "message_vi", "message_en", "doses")}
