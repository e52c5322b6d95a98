"""Alert channel `email`: each alert as a plain-text e-mail over SMTP ([alert_email] in central's TOML), Vietnamese
first, English second.

The message is handed to the server in one SMTP transaction; `send` returns when the server accepted it for every
recipient and raises otherwise (refused, unreachable, login failed), and the shared outbox (central.alert_outbox)
tries again later. The Message-ID is made from the notification's id: a copy sent again after a crash has the same.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

from base.config import check_port, check_positive, checked

NAME = "email"


def _check_addresses(value: list) -> str | None:
    if not value or any(not isinstance(a, str) or "@" not in a or any(c in a for c in "\r\n,;") for a in value):
        return "a list of one or more e-mail addresses"
    return None


def _check_address(value: str) -> str | None:
    return None if "@" in value and not any(c in value for c in "\r\n,;") else "one e-mail address"


@dataclass(frozen=True)
class Settings:
    host: str = "localhost"
    port: int = checked(check_port, default=25)
    # "none": plain SMTP (a relay on this machine or the site LAN); "starttls": upgrade before login; "tls": SMTPS.
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: str = ""
    sender: str = checked(_check_address, default="vaxkiosk-central@localhost")
    to: list = checked(_check_addresses, default=())
    timeout_seconds: float = checked(check_positive, default=20.0)


class EmailFailed(Exception):
    pass


def message(alert: dict, settings: Settings) -> EmailMessage:
    msg = EmailMessage()
    place = alert.get("site_name") or alert["site"]
    msg["Subject"] = f"[vaxkiosk] {alert['title_vi']} · {alert['title_en']} — {place} / {alert['kiosk']}"
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{alert['notification_id']}@vaxkiosk-central>"
    msg.set_content(
        f"{alert['title_vi']}\n"
        f"Kiosk: {alert['kiosk']} — điểm tiêm {place} ({alert.get('district', '')}, {alert.get('province_name', '')})\n"
        f"Phát hiện lúc: {alert['first_seen']}\nChi tiết: {alert['detail']}\n\n"
        f"{alert['title_en']}\n"
        f"Kiosk {alert['kiosk']} at site {place}; first seen {alert['first_seen']}; {alert['detail']}\n\n"
        f"Dashboard: {alert['dashboard_path']}\n")
    return msg


class EmailChannel:
    name = NAME

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, alert: dict) -> None:
        s = self.settings
        try:
            if s.security == "tls":
                server = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds,
                                          context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            with server:
                if s.security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if s.username:
                    server.login(s.username, s.password)
                refused = server.send_message(message(alert, s))
        except (smtplib.SMTPException, OSError) as exc:
            raise EmailFailed(f"SMTP {s.host}:{s.port}: {type(exc).__name__}: {exc}") from None
        if refused:  # some recipients refused: the alert has not reached everyone; try all again later
            raise EmailFailed(f"SMTP server refused {len(refused)} recipient(s)")


def build(settings: Settings, ops_store) -> EmailChannel:
    return EmailChannel(settings)
