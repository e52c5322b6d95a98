"""The fleet as the dashboard shows it: the aggregator's kiosk rows (central.store) turned into one flat view per
kiosk, with the site's place from the configuration and the few health facts operations look at."""

from __future__ import annotations

import datetime as dt


def epoch(iso: str | None) -> float | None:
    return dt.datetime.fromisoformat(iso).timestamp() if iso else None


def iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _printer(printer: dict | None) -> tuple[str | None, str | None]:
    """(printer, paper) from the printer part's health (kiosk.printing.worker): {"state", "status": {"known",
    "online", "paper", "cover_open"}, ...}. A printer that did not answer is "unknown", never "ok"."""
    if printer is None:
        return None, None
    status = printer.get("status") if isinstance(printer.get("status"), dict) else {}
    if not status.get("known"):
        return "unknown", None
    paper = status.get("paper") if isinstance(status.get("paper"), str) else None
    if status.get("online") is False or status.get("cover_open"):
        return "offline", paper
    return "ok", paper


def health_facts(h: dict | None) -> dict:
    """The few facts operations look at, read tolerantly from a health payload (docs/protocol.md); the camera and
    printer objects are those parts' own health()."""
    h = h or {}
    camera = h.get("camera") if isinstance(h.get("camera"), dict) else None
    printer, paper = _printer(h.get("printer") if isinstance(h.get("printer"), dict) else None)
    stamp = h.get("at") if isinstance(h.get("at"), dict) else {}
    return {
        "printer": printer,
        "paper": paper,
        "camera_enabled": camera is not None if h else None,
        # A capture that stopped delivering frames reports capturing false or an fps of 0.
        "camera_fps": (0.0 if camera.get("capturing") is False else _num(camera.get("fps"))) if camera else None,
        "backlog": _num(h.get("outbox_backlog")),
        "oldest_age_s": _num(h.get("outbox_oldest_s")),
        "disk_used_pct": _num(h.get("disk_used_pct")),
        "cpu_temp_c": _num(h.get("cpu_temp_c")),
        "clock_synced": stamp.get("clock_synced") if isinstance(stamp.get("clock_synced"), bool) else None,
    }


def view(row: dict, sites: dict, silent_after: float, now: float) -> dict:
    """One kiosk. An "online" kiosk silent for `silent_after` seconds shows as lost: the broker's will can be late
    (a half-open connection lasts 1.5 × keepalive) and the aggregator only records what it is told."""
    last_seen, since = epoch(row["last_seen"]), epoch(row["state_since"])
    state = row["state"]
    if state in ("online", "unknown") and now - last_seen > silent_after:
        state, since = "lost", last_seen + silent_after
    elif state == "unknown":
        state = "online"  # seen talking, its retained status not received yet
    site = sites.get(row["site"])
    return {
        "site": row["site"], "kiosk": row["kiosk"], "state": state, "state_since": since, "last_seen": last_seen,
        **health_facts(row.get("health")),
        "version": row.get("version"),
        "waiting": row.get("queue_waiting"),
        "site_name": site.name if site else "", "district": site.district if site else "",
        "province": site.province if site else "", "province_name": site.province_name if site else "",
    }


def fleet(store, sites: dict, silent_after: float, now: float, province: str = "", district: str = "",
          site: str = "") -> list[dict]:
    views = [view(r, sites, silent_after, now) for r in store.fleet()]
    return [v for v in views
            if (not province or v["province"] == province) and (not district or v["district"] == district)
            and (not site or v["site"] == site)]


def api_row(v: dict) -> dict:
    """GET /api/fleet: times as ISO 8601 UTC."""
    return {**v, "state_since": iso(v["state_since"]), "last_seen": iso(v["last_seen"])}


def counts_by_state(views: list[dict]) -> dict[str, int]:
    counts = {s: 0 for s in ("online", "lost", "offline")}
    for v in views:
        counts[v["state"]] = counts.get(v["state"], 0) + 1
    return counts
