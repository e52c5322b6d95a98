"""Alert channel `webhook`: each alert POSTed as JSON to one URL ([alert_webhook] in central's TOML).

Any 2xx answer means taken; anything else (another status, a refused connection, a timeout) raises, and the shared
outbox (central.alert_outbox) tries again later. The header `Idempotency-Key` carries the notification's id: the
same notification sent again after a crash carries the same key.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from base.config import check_positive, checked

NAME = "webhook"


def _check_url(value: str) -> str | None:
    parts = urllib.parse.urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.hostname else "an http:// or https:// URL"


@dataclass(frozen=True)
class Settings:
    url: str = checked(_check_url)
    # Sent as "Authorization: Bearer <token>" when set (the receiver's way to know the POST is central's).
    bearer_token: str = ""
    timeout_seconds: float = checked(check_positive, default=10.0)


class WebhookFailed(Exception):
    pass


class WebhookChannel:
    name = NAME

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, alert: dict) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "vaxkiosk-central",
                   "Idempotency-Key": alert["notification_id"]}
        if self.settings.bearer_token:
            headers["Authorization"] = f"Bearer {self.settings.bearer_token}"
        body = json.dumps(alert, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.settings.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_seconds) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise WebhookFailed(f"HTTP {exc.code} from the webhook") from None
        except (urllib.error.URLError, OSError) as exc:
            raise WebhookFailed(f"webhook not reached: {getattr(exc, 'reason', exc)}") from None
        if not 200 <= status < 300:
            raise WebhookFailed(f"HTTP {status} from the webhook")


def build(settings: Settings, ops_store) -> WebhookChannel:
    return WebhookChannel(settings)
