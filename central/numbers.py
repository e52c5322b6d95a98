"""Live numbers for leaders, from the aggregator's deduplicated records (central.store counts and hourly):
checked in, vaccinated, certificates printed, waiting now and average wait, per site / district / province.

Every configured site is listed, with zeros when it has sent nothing today: a silent site is information too.
"""

from __future__ import annotations

METRICS = ("checked_in", "vaccinated", "certificates")
LEVELS = ("site", "district", "province")


def _zero() -> dict:
    return {**dict.fromkeys(METRICS, 0), "waiting": 0, "avg_wait_s": None}


def site_counts(store, sites: dict, day: str | None = None) -> list[dict]:
    """One row per site (configured or seen today): the body of GET /api/sites."""
    got = {r["site"]: r for r in store.counts("site", day)}
    rows = []
    for site_id in sorted(set(sites) | set(got)):
        site, r = sites.get(site_id), got.get(site_id, {})
        rows.append({"site": site_id, **{k: r.get(k, v) for k, v in _zero().items()},
                     "name": site.name if site else "", "district": site.district if site else "",
                     "province": site.province if site else "", "province_name": site.province_name if site else ""})
    return rows


def rollup(rows: list[dict], level: str) -> list[dict]:
    """Site rows summed by district or province (average wait: the mean of the sites that report one)."""
    if level == "site":
        return rows
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = (r["province"], r["district"]) if level == "district" else (r["province"],)
        g = groups.setdefault(key, {"province": r["province"], "province_name": r["province_name"],
                                    "district": r["district"] if level == "district" else "", **_zero(),
                                    "_waits": [], "sites": 0})
        for m in (*METRICS, "waiting"):
            g[m] += r[m] or 0
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


def per_hour(store, day: str | None, site_ids: list[str]) -> dict[str, list[int]]:
    """metric → 24 hourly counts of the day over the given sites."""
    series = {m: [0] * 24 for m in METRICS}
    for site_id in site_ids:
        for r in store.hourly(day, "site", site_id):
            for m in METRICS:
                series[m][r["hour"]] += r[m] or 0
    return series
