"""The words of each text, Vietnamese, with per-site templates from `[sms]` (text_soon, text_called, text_dose,
text_next_dose; "" = the default below).

Texts are Vietnamese only: a citizen pays nothing, but the site pays per part, and a second language doubles the
parts (a UCS-2 part holds 70 characters, 67 in a long text). A site with many foreign visitors writes its own
templates. The defaults fit one part (queue texts) and three UCS-2 or two GSM-7 parts (the dose: its certificate
identifier alone is 45 characters); {site} is there for a site that wants its name in them.
"""

from __future__ import annotations

import datetime as dt
import string

from drivers.sms_encoding import MessageTooLong, encode

MAX_PARTS = 6

DEFAULTS = {
    "soon": "Số {ticket}: còn {ahead} người nữa là đến lượt bạn. Mời quay lại khu vực chờ.",
    "called": "Mời số {ticket} đến bàn {desk} ngay bây giờ.",
    "dose": ("Bạn đã tiêm mũi {dose} {vaccine} ngày {date}. Mã chứng nhận: {uvci}.{next_dose} "
             "Kiểm tra mũi tiêm trên ứng dụng Sổ sức khỏe điện tử."),
    "next_dose": " Mũi tiếp theo từ ngày {next_date}.",
}
PLACEHOLDERS = {
    "soon": ("site", "ticket", "ahead"),
    "called": ("site", "ticket", "desk"),
    "dose": ("site", "dose", "vaccine", "date", "uvci", "next_dose"),
    "next_dose": ("next_date",),
}
# Values as long as real ones get, to check a template's length when the configuration is read.
SAMPLE = {"site": "Trạm Y tế Phường Yên Đỗ, TP Pleiku", "ticket": 128, "ahead": 3, "desk": "12", "dose": 3,
          "vaccine": "Comirnaty", "date": "28/02/2026",
          "uvci": "URN:UVCI:01:VN:VXK/GL-PLEIKU-01/0123456789ABCDEF#Z", "next_dose": DEFAULTS["next_dose"],
          "next_date": "21/03/2026"}


def template_problem(kind: str, template: str) -> str | None:
    """Why a site's template cannot be used (for kiosk.config), or None."""
    if template == "":
        return None
    allowed = PLACEHOLDERS[kind]
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"a text with {{placeholders}} ({exc}; write {{{{ and }}}} for a brace)"
    for name, spec, conv in fields:
        if name not in allowed or spec or conv:
            return f"a text whose placeholders are among {', '.join('{' + a + '}' for a in allowed)}"
    sample = SAMPLE if kind != "dose" else {**SAMPLE, "next_dose": SAMPLE["next_dose"].format(**SAMPLE)}
    try:
        encode(template.format(**sample), "ucs2", max_parts=MAX_PARTS)
    except MessageTooLong as exc:
        return f"a text of at most {MAX_PARTS} SMS parts with real values ({exc})"
    return None


def render(kind: str, params: dict, site: str, templates: dict[str, str]) -> str:
    """The text of one outbox row (templates: the site's, by kind; "" or missing = the default)."""
    def template(name: str) -> str:
        return templates.get(name) or DEFAULTS[name]

    values = {"site": site, **params}
    if kind == "dose":
        values["date"] = _day(params["date"])
        values["next_dose"] = (template("next_dose").format(next_date=_day(params["next_date"]))
                               if params.get("next_date") else "")
    return template(kind).format(**{name: values[name] for name in PLACEHOLDERS[kind]})


def _day(iso: str) -> str:
    """dd/mm/yyyy, as Vietnamese papers write a date."""
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")
