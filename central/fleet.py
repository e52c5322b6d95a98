"""The fleet as the dashboard shows it: the aggregator's kiosk rows (central.store) turned into one flat view per
kiosk, with the site's place from the configuration and the few health facts operations look at."""

from __future__ import annotations

import datetime as dt

from base.health import CameraHealth, PrinterHealth


def epoch(iso: str | None) -> float | None:
    return dt.datetime.fromisoformat(iso).timestamp() if iso else None


def iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds") if ts else None


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def health_facts(h: dict | None) -> dict:
    """The few facts operations look at, read tolerantly from a health payload (docs/protocol.md); the camera and
    printer reports are read with base.health's types."""
    h = h or {}
    camera, printer = CameraHealth.read(h.get("camera")), PrinterHealth.read(h.get("printer"))
    # A printer that did not answer is "unknown", never "ok".
    printer_state, paper = printer.condition() if printer else (None, None)
    stamp = h.get("at") if isinstance(h.get("at"), dict) else {}
    return {
        "printer": printer_state,
        "paper": paper,
        "camera_enabled": camera is not None if h else None,
        "camera_fps": camera.fps_now if camera else None,
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


def never_seen(devices: list[dict], views: list[dict], sites: dict) -> list[dict]:
    """Enrolled, active kiosks central has never heard from (set up but not connected, or their credentials never
    reached them): state "never_seen" since enrolment, every health fact unknown."""
    seen = {v["kiosk"] for v in views}
    out = []
    for d in devices:
        if d["state"] != "active" or d["kiosk_id"] in seen:
            continue
        site = sites.get(d["site_id"])
        out.append({"site": d["site_id"], "kiosk": d["kiosk_id"], "state": "never_seen",
                    "state_since": epoch(d["enrolled_wall"]), "last_seen": None, **health_facts(None),
                    "version": None, "waiting": None,
                    "site_name": site.name if site else "", "district": site.district if site else "",
                    "province": site.province if site else "", "province_name": site.province_name if site else ""})
    return out


def api_row(v: dict) -> dict:
    """GET /api/fleet: times as ISO 8601 UTC."""
    return {**v, "state_since": iso(v["state_since"]), "last_seen": iso(v["last_seen"])}


def counts_by_state(views: list[dict]) -> dict[str, int]:
    counts = {s: 0 for s in ("online", "lost", "offline")}
    for v in views:
        counts[v["state"]] = counts.get(v["state"], 0) + 1
    return counts
