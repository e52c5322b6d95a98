"""The fleet as central sees it: each kiosk's state (online / lost / offline, since when), its latest health and
queue, and a short health history for the charts. Fed by the fleet monitor (central/monitor.py)."""

from __future__ import annotations

import json
import time

from central.telemetry import Message, health_fields

SCHEMA = """
CREATE TABLE kiosks (
    kiosk TEXT PRIMARY KEY,             -- kiosk id = MQTT username: unique in the fleet
    site TEXT NOT NULL,
    state TEXT NOT NULL,                -- online | lost | offline
    state_since REAL NOT NULL,          -- central's clock, epoch seconds
    last_seen REAL NOT NULL,
    health TEXT,                        -- latest health payload (JSON, no personal data)
    health_at REAL,
    queue TEXT,                         -- latest queue payload
    queue_at REAL
);
CREATE INDEX kiosks_site ON kiosks (site);
CREATE TABLE health_samples (
    kiosk TEXT NOT NULL,
    at REAL NOT NULL,
    backlog REAL,
    oldest_age_s REAL,
    camera_fps REAL,
    disk_used_pct REAL,
    cpu_temp_c REAL
);
CREATE INDEX health_samples_kiosk ON health_samples (kiosk, at);
"""


def _set_state(conn, msg: Message, state: str, now: float) -> None:
    conn.execute(
        """INSERT INTO kiosks (kiosk, site, state, state_since, last_seen) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (kiosk) DO UPDATE SET
             site = excluded.site,
             state_since = CASE WHEN kiosks.state = excluded.state THEN kiosks.state_since ELSE excluded.state_since END,
             state = excluded.state,
             last_seen = MAX(kiosks.last_seen, excluded.last_seen)""",
        (msg.kiosk, msg.site, state, now, now),
    )


def apply(conn, msg: Message, now: float) -> None:
    """One status/health/queue message, inside the caller's transaction."""
    if msg.kind == "status":
        _set_state(conn, msg, msg.data["state"], now)
    elif msg.kind == "health":
        # Health only arrives over a live connection: the kiosk is online whatever an older retained status said.
        _set_state(conn, msg, "online", now)
        conn.execute("UPDATE kiosks SET health = ?, health_at = ? WHERE kiosk = ?",
                     (json.dumps(msg.data, ensure_ascii=False), now, msg.kiosk))
        f = health_fields(msg.data)
        conn.execute("INSERT INTO health_samples VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (msg.kiosk, now, f["backlog"], f["oldest_age_s"], f["camera_fps"], f["disk_used_pct"],
                      f["cpu_temp_c"]))
    elif msg.kind == "queue":
        _set_state(conn, msg, "online", now)
        conn.execute("UPDATE kiosks SET queue = ?, queue_at = ? WHERE kiosk = ?",
                     (json.dumps(msg.data, ensure_ascii=False), now, msg.kiosk))


def mark_silent(conn, silent_after: float, now: float) -> int:
    """Online kiosks that have said nothing for `silent_after` seconds are lost (the broker's will can be late)."""
    return conn.execute(
        "UPDATE kiosks SET state = 'lost', state_since = ? WHERE state = 'online' AND last_seen < ?",
        (now, now - silent_after),
    ).rowcount


def prune(conn, keep_seconds: float, now: float) -> None:
    conn.execute("DELETE FROM health_samples WHERE at < ?", (now - keep_seconds,))


def kiosk_view(row: dict, sites: dict) -> dict:
    """A kiosks row → what the fleet page and GET /api/fleet show."""
    health = json.loads(row["health"]) if row.get("health") else {}
    queue = json.loads(row["queue"]) if row.get("queue") else {}
    f = health_fields(health)
    site = sites.get(row["site"])
    return {
        "site": row["site"],
        "kiosk": row["kiosk"],
        "state": row["state"],
        "state_since": row["state_since"],
        "last_seen": row["last_seen"],
        "backlog": f["backlog"],
        "oldest_age_s": f["oldest_age_s"],
        "printer": f["printer"],
        "paper": f["paper"],
        "camera_enabled": f["camera_enabled"],
        "camera_fps": f["camera_fps"],
        "disk_used_pct": f["disk_used_pct"],
        "clock_synced": f["clock_synced"],
        "version": f["version"],
        "waiting": queue.get("waiting") if isinstance(queue.get("waiting"), int) else None,
        "site_name": site.name if site else "",
        "district": site.district if site else "",
        "province": site.province if site else "",
        "province_name": site.province_name if site else "",
    }


def fleet(store, sites: dict, province: str = "", district: str = "", site: str = "") -> list[dict]:
    rows = store.query("SELECT * FROM kiosks ORDER BY site, kiosk")
    views = [kiosk_view(r, sites) for r in rows]
    return [v for v in views
            if (not province or v["province"] == province) and (not district or v["district"] == district)
            and (not site or v["site"] == site)]


def one(store, kiosk: str, sites: dict) -> dict | None:
    row = store.query_one("SELECT * FROM kiosks WHERE kiosk = ?", (kiosk,))
    return kiosk_view(row, sites) if row else None


def history(store, kiosk: str, since_seconds: float = 3600, now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    return store.query("SELECT * FROM health_samples WHERE kiosk = ? AND at >= ? ORDER BY at",
                       (kiosk, now - since_seconds))


def counts_by_state(store) -> dict[str, int]:
    counts = {s: 0 for s in ("online", "lost", "offline")}
    for r in store.query("SELECT state, count(*) AS n FROM kiosks GROUP BY state"):
        counts[r["state"]] = r["n"]
    return counts
