"""The texts a demo site would have sent: each kiosk's virtual modem appends every PDU it takes to a file (one JSON
line each, drivers.virtual_modem --record); here they are decoded by Gammu's own PDU parser, the parts of a long
text joined by their concatenation header, and shown with the number masked, as everywhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gammu

from base.privacy import mask_phone


@dataclass(frozen=True)
class Text:
    number: str      # masked
    encoding: str    # ucs2 | gsm7
    parts: int
    text: str


def received(record: Path) -> list[Text]:
    """Whole texts in the order their first part reached the modem."""
    if not record.exists():
        return []
    joined: dict[tuple, dict] = {}
    for line in record.read_text(encoding="utf-8").splitlines():
        sms = gammu.DecodePDU(bytes.fromhex(json.loads(line)["pdu"]))
        udh = sms.get("UDH") or {}
        total, part = (udh.get("AllParts") or 1), (udh.get("PartNumber") or 1)
        key = (sms["Number"], udh.get("ID8bit"), total) if total > 1 else (sms["Number"], len(joined))
        entry = joined.setdefault(key, {"number": sms["Number"], "coding": sms["Coding"], "total": total,
                                        "parts": {}})
        entry["parts"][part] = sms["Text"]
    return [Text(mask_phone(e["number"]), "ucs2" if "Unicode" in e["coding"] else "gsm7", e["total"],
                 "".join(e["parts"][i] for i in sorted(e["parts"])))
            for e in joined.values() if len(e["parts"]) == e["total"]]
