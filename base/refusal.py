"""Refusals a person can act on: a stable code plus a message in Vietnamese and English.

Every boundary that says "no" (check-in, staff forms, corrections, reprints, certificates, enrolment, the registry)
raises a subclass; screens, the CLI and the HTTP APIs show `message_vi` first and put `to_json()` on the wire.
A subclass lists its codes in MESSAGES; a refusal relayed from elsewhere (central's answer to an enrolment) may
bring its own messages instead.
"""

from __future__ import annotations


class Refusal(Exception):
    MESSAGES: dict[str, tuple[str, str]] = {}

    def __init__(self, code: str, detail: str = "", message_vi: str = "", message_en: str = ""):
        if code in self.MESSAGES:
            message_vi, message_en = self.MESSAGES[code]
        elif not (message_vi and message_en):
            raise KeyError(f"{type(self).__name__}: no message for code {code!r}")
        self.code, self.message_vi, self.message_en, self.detail = code, message_vi, message_en, detail
        super().__init__(f"{code}: {message_en}" + (f" ({detail})" if detail else ""))

    def to_json(self) -> dict:
        return {"ok": False, "error": {"code": self.code, "message_vi": self.message_vi, "message_en": self.message_en}}
