"""Alert channels: where a raised alert is sent (central.alerts raises it, central.alert_outbox keeps and retries).

One module per channel, named in CHANNEL_MODULES. Each has:

- `NAME`: the channel's name; its settings are the central TOML section `[alert_<NAME>]` (no section: not used);
- `Settings`: the frozen dataclass of that section (checked by base.config like every section);
- `build(settings, ops_store)`: the channel, an object with `name` and `send(alert: dict) -> None` that returns only
  once the far end took the alert and raises on any failure (the outbox tries again later).

`alert` is the alert as central.alerts.notification builds it: id, code, title_vi, title_en, kiosk, site, site_name,
district, province, detail, first_seen (ISO 8601), dashboard_path, notification_id. It holds no personal data.
"""

from __future__ import annotations

import importlib

CHANNEL_MODULES = ("central.alert_webhook", "central.alert_email", "central.alert_sms")


def modules() -> list:
    return [importlib.import_module(m) for m in CHANNEL_MODULES]


def sections() -> dict:
    """TOML section name → channel module."""
    return {f"alert_{m.NAME}": m for m in modules()}


def build(settings_by_name: dict, ops_store) -> dict:
    """name → channel, for the channels whose section the configuration has."""
    by_name = {m.NAME: m for m in modules()}
    return {name: by_name[name].build(settings, ops_store) for name, settings in settings_by_name.items()}
