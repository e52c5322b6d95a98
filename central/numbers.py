"""Live numbers for leaders: checked in, vaccinated, certificates printed, per site / district / province, today and
per hour, plus waiting now and the average wait from the kiosks' queue telemetry.

Counts come from the record streams, one row per record id (a record sent twice is counted once); the record carries
no personal data here, only its stream, site, kiosk, day and hour.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from central.telemetry import VIETNAM, Message, wall_time

SCHEMA = """
CREATE TABLE records_seen (
    record_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    site TEXT NOT NULL,
    kiosk TEXT NOT NULL,
    day TEXT NOT NULL,          -- local (UTC+7) calendar day of the event
    hour INTEGER NOT NULL,      -- local hour 0-23
    counts_as TEXT,             -- checked_in | vaccinated | certificate | NULL (a record that is not counted)
    received_at REAL NOT NULL
);
CREATE INDEX records_seen_day ON records_seen (day, site, counts_as);
"""

METRICS = ("checked_in", "vaccinated", "certificates")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today(now: float) -> str:
    return dt.datetime.fromtimestamp(now, VIETNAM).date().isoformat()


def counts_as(msg: Message) -> str | None:
    if msg.stream == "checkins":
        return "checked_in"
    if msg.stream == "vaccinations":
        return "vaccinated"
    if msg.stream == "print_events":
        d = msg.data
        # Only the first successful print of a certificate; reprints and failures are not "certificates printed".
        if d.get("kind") == "certificate" and not d.get("copy") and d.get("state", "done") in ("done", "printed"):
            return "certificate"
    return None


def apply_record(conn, msg: Message, now: float) -> bool:
    """Count a record once; True when it was new. Inside the caller's transaction."""
    at = wall_time(msg.data)
    local = at.astimezone(VIETNAM) if at else dt.datetime.fromtimestamp(now, VIETNAM)
    day = msg.data.get("day") if isinstance(msg.data.get("day"), str) and _DAY.match(msg.data["day"]) else None
    return conn.execute(
        "INSERT OR IGNORE INTO records_seen VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (msg.data["record_id"], msg.stream, msg.site, msg.kiosk, day or local.date().isoformat(), local.hour,
         counts_as(msg), now),
    ).rowcount == 1


def _queue_by_site(store, day: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in store.query("SELECT site, queue FROM kiosks WHERE queue IS NOT NULL AND state = 'online'"):
        q = json.loads(r["queue"])
        if q.get("day", day) != day:
            continue  # yesterday's queue of a kiosk that has not reported today
        agg = out.setdefault(r["site"], {"waiting": 0, "wait_sum": 0.0, "wait_n": 0})
        if isinstance(q.get("waiting"), int):
            agg["waiting"] += q["waiting"]
        if isinstance(q.get("avg_wait_s"), (int, float)):
            agg["wait_sum"] += q["avg_wait_s"]
            agg["wait_n"] += 1
    return out


def site_counts(store, sites: dict, day: str) -> list[dict]:
    """One row per configured site (zeros included): the body of GET /api/sites."""
    counts = {s: dict.fromkeys(METRICS, 0) for s in sites}
    for r in store.query("SELECT site, counts_as, count(*) AS n FROM records_seen WHERE day = ? "
                         "AND counts_as IS NOT NULL GROUP BY site, counts_as", (day,)):
        key = "certificates" if r["counts_as"] == "certificate" else r["counts_as"]
        counts.setdefault(r["site"], dict.fromkeys(METRICS, 0))[key] = r["n"]
    queues = _queue_by_site(store, day)
    rows = []
    for site_id in sorted(counts):
        site = sites.get(site_id)
        q = queues.get(site_id, {"waiting": 0, "wait_n": 0})
        rows.append({
            "site": site_id, **counts[site_id], "waiting": q["waiting"],
            "avg_wait_s": round(q["wait_sum"] / q["wait_n"], 1) if q["wait_n"] else None,
            "name": site.name if site else "", "district": site.district if site else "",
            "province": site.province if site else "", "province_name": site.province_name if site else "",
        })
    return rows


def rollup(rows: list[dict], level: str) -> list[dict]:
    """Site rows summed by "site", "district" or "province" (average wait: mean of the sites that report one)."""
    if level == "site":
        return rows
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = (r["province"], r["district"]) if level == "district" else (r["province"],)
        g = groups.setdefault(key, {"province": r["province"], "province_name": r["province_name"],
                                    "district": r["district"] if level == "district" else "",
                                    **dict.fromkeys(METRICS, 0), "waiting": 0, "_waits": [], "sites": 0})
        for m in (*METRICS, "waiting"):
            g[m] += r[m]
        if r["avg_wait_s"] is not None:
            g["_waits"].append(r["avg_wait_s"])
        g["sites"] += 1
    out = []
    for key in sorted(groups):
        g = groups[key]
        waits = g.pop("_waits")
        g["avg_wait_s"] = round(sum(waits) / len(waits), 1) if waits else None
        out.append(g)
    return out


def per_hour(store, day: str, site_ids: list[str] | None = None) -> dict[str, list[int]]:
    """metric → 24 hourly counts for the day, over the given sites (all when None)."""
    series = {m: [0] * 24 for m in METRICS}
    sql = "SELECT counts_as, hour, count(*) AS n FROM records_seen WHERE day = ? AND counts_as IS NOT NULL"
    params: list = [day]
    if site_ids is not None:
        sql += f" AND site IN ({','.join('?' * len(site_ids))})"
        params += site_ids
    for r in store.query(sql + " GROUP BY counts_as, hour", params):
        key = "certificates" if r["counts_as"] == "certificate" else r["counts_as"]
        series[key][r["hour"]] = r["n"]
    return series
