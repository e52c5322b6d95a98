"""What may be shown of a person where many can see it: logs, telemetry, events, the dashboard, staff screens."""

from __future__ import annotations


def mask_id(number: str | None) -> str:
    """`064195001234` → `0641•••••234`: enough for a citizen to recognise, not enough to identify."""
    if not number:
        return ""
    if len(number) < 8:
        return "•" * len(number)
    return number[:4] + "•" * (len(number) - 7) + number[-3:]
