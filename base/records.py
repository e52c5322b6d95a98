"""What a kiosk sends central about an event, built in one place: the time stamp every event carries and the record
envelope every stream shares (base.protocol validates both).

A Pi has no real-time clock: until NTP succeeds after boot the wall clock can be years off. Every event therefore
records the wall time, the monotonic time, the boot id and whether the clock was synchronised, so that central can
shift unsynchronised events by the offset it learns later from the same boot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from base.protocol import RECORD_TYPE, SCHEMA


@dataclass(frozen=True)
class Stamp:
    wall: str  # ISO 8601, UTC
    mono: float
    boot_id: str
    clock_synced: bool

    def as_columns(self, prefix: str) -> dict:
        """The stamp as the kiosk stores it: `<prefix>_wall`, `<prefix>_mono`, ... (SQLite has no booleans)."""
        return {f"{prefix}_{k}": (int(v) if isinstance(v, bool) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_columns(cls, row: dict, prefix: str) -> "Stamp":
        return cls(row[f"{prefix}_wall"], row[f"{prefix}_mono"], row[f"{prefix}_boot_id"],
                   bool(row[f"{prefix}_clock_synced"]))

    def to_json(self) -> dict:
        return asdict(self)


def record(stream: str, record_id: str, site: str, kiosk: str, at: Stamp, **fields) -> dict:
    """A record of `stream` as the outbox keeps and central receives it: the envelope, the stream's own fields, the
    stamp of the event."""
    return {"schema": SCHEMA, "type": RECORD_TYPE[stream], "record_id": record_id, "site": site, "kiosk": kiosk,
            **fields, "at": at.to_json()}
