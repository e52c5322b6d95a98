"""Enrolment as both ends speak it: the set-up QR central prints, the endpoint a kiosk posts its code to, and the
enrolment document central answers with (the same document is the offline bundle's content).

    QR text   VXK1:ENROL:<central-url>|<code>[|sha256:<central's key pin>]     (base.pinning for the pin)
    POST      /api/v1/enrol  {"code": ..., "signing_certificate": "<PEM>" (optional)}
    answer    {"ok": true, "enrolment": <document, schema DOCUMENT_SCHEMA>}

Central makes codes and documents (central.registry, central.enrol_api); the kiosk reads them (kiosk.enrolment).
"""

from __future__ import annotations

from dataclasses import dataclass

from base.pinning import normalise_pin

QR_PREFIX = "VXK1:ENROL:"
ENROL_PATH = "/api/v1/enrol"
DOCUMENT_SCHEMA = 1


@dataclass(frozen=True)
class SetupCode:
    central_url: str
    code: str
    pin: str = ""  # sha256:<hex> of central's public key, when the QR carries it


def format_code(code: str) -> str:
    """A code as people read it aloud and type it: groups of four."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def qr_text(central_url: str, code: str, pin: str = "") -> str:
    """The text of the enrolment QR; `pin`: central's key (base.pinning.spki_pin), which the kiosk then requires."""
    return f"{QR_PREFIX}{central_url.rstrip('/')}|{format_code(code)}" + (f"|{pin}" if pin else "")


def parse_qr_text(text: str) -> SetupCode:
    """The QR text → SetupCode, or ValueError saying what is wrong with it (never the code itself)."""
    text = text.strip().lstrip("\ufeff")
    if not text.startswith(QR_PREFIX):
        raise ValueError("not a set-up code")
    fields = text[len(QR_PREFIX):].split("|")
    if len(fields) not in (2, 3):
        raise ValueError("not a set-up code")
    url, code = fields[0].strip(), fields[1].strip()
    if not url.startswith(("http://", "https://")) or not code:
        raise ValueError("not a set-up code")
    try:
        pin = normalise_pin(fields[2]) if len(fields) == 3 else ""
    except ValueError:
        raise ValueError("bad key fingerprint") from None
    return SetupCode(url, code, pin)


def is_document(document) -> bool:
    """Whether an enrolment document has what a kiosk needs to be one (its id, its site, its broker login)."""
    try:
        return (document["schema"] == DOCUMENT_SCHEMA and isinstance(document["kiosk_id"], str)
                and isinstance(document["site"]["id"], str) and isinstance(document["mqtt"]["password"], str)
                and isinstance(document["mqtt"]["port"], int))
    except (KeyError, TypeError):
        return False
