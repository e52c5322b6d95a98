"""What may be shown of a person where many can see it: logs, telemetry, events, the dashboard, staff screens."""

from __future__ import annotations

from base.phone import national


def mask_id(number: str | None) -> str:
    """`064195001234` → `0641•••••234`: enough for a citizen to recognise, not enough to identify."""
    if not number:
        return ""
    if len(number) < 8:
        return "•" * len(number)
    return number[:4] + "•" * (len(number) - 7) + number[-3:]


def mask_phone(number: str | None) -> str:
    """"+84912345678" → "091••••678": enough for its owner to recognise, not enough to call."""
    if not number:
        return ""
    written = national(number)  # as Vietnamese people write it
    if len(written) < 7:
        return "•" * len(written)
    return written[:3] + "•" * (len(written) - 6) + written[-3:]
