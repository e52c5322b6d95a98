"""Numbers for leaders, from the aggregator's deduplicated records (central.store): checked in, vaccinated,
certificates and tickets (people, not printouts) and reprints, waiting now and average wait, wait time p50/p90
(check-in → first call) and desk throughput, per site / district / province, for a day or a range of days.

Every configured site is listed, with zeros when it has sent nothing: a silent site is information too.
"""

from __future__ import annotations

import datetime as dt

from central import coverage
from central.store import WAIT_BUCKET_S

METRICS = ("checked_in", "vaccinated", "certificates")
PRINTS = ("tickets", "certificate_reprints", "ticket_reprints")
LEVELS = ("site", "district", "province")
MAX_RANGE_DAYS = 366


class BadDays(ValueError):
    """A day or range a request cannot mean; the message says what is expected."""


def parse_days(day: str = "", start: str = "", end: str = "", today: str = "") -> tuple[str, str]:
    """?day= or ?from=&to= → (first, last) ISO days; nothing → today. Refuses what is not a real calendar day, a
    range that ends before it starts or is longer than MAX_RANGE_DAYS (a page must answer in bounded time)."""
    if day and (start or end):
        raise BadDays("give ?day= or ?from=&to=, not both")
    # ?from= alone runs to today; ?to= alone is that one day.
    first, last = (day, day) if day else (start or end or today, end or today)
    for text in (first, last):
        if not _is_day(text):
            raise BadDays(f"not a day: expected YYYY-MM-DD, got {text[:20]!r}")
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    if b < a:
        raise BadDays(f"the range ends ({last}) before it starts ({first})")
    if (b - a).days >= MAX_RANGE_DAYS:
        raise BadDays(f"a range holds at most {MAX_RANGE_DAYS} days")
    return first, last


def _is_day(text: str) -> bool:
    """YYYY-MM-DD and a real date (fromisoformat alone also takes 20261201 on Python 3.11)."""
    try:
        return len(text) == 10 and text[4] == text[7] == "-" and dt.date.fromisoformat(text) is not None
    except ValueError:
        return False


def days_between(first: str, last: str) -> list[str]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def _zero() -> dict:
    return {**dict.fromkeys(METRICS + PRINTS, 0), "waiting": 0, "avg_wait_s": None, "wait_p50_s": None,
            "wait_p90_s": None, "desk_hours": 0, "per_desk_hour": None}


def percentile(histogram: dict[int, int], q: float, width: float) -> float | None:
    """The q-quantile of bucketed values (bucket i holds [i·width, (i+1)·width)), as the bucket's middle."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return (bucket + 0.5) * width
    return None


def site_counts(store, sites: dict, day: str | None = None, to: str | None = None) -> list[dict]:
    """One row per site (configured or seen in the days): the body of GET /api/sites."""
    day = day or store.today()
    to = to or day
    got = {r["site"]: r for r in store.counts("site", day, to)}
    hist: dict[str, dict[int, int]] = {}
    for r in store.wait_histogram(day, to):
        hist.setdefault(r["site"], {})[int(r["bucket"])] = int(r["n"])
    desks = {r["site"]: r for r in store.desk_hours(day, to)}
    rows = []
    for site_id in sorted(set(sites) | set(got)):
        site, r = sites.get(site_id), got.get(site_id, {})
        row = {"site": site_id, **{k: r.get(k, v) for k, v in _zero().items()},
               "name": site.name if site else "", "district": site.district if site else "",
               "province": site.province if site else "", "province_name": site.province_name if site else "",
               "_hist": hist.get(site_id, {}), "_desk_vaccinated": 0}
        d = desks.get(site_id)
        if d:
            row["desk_hours"], row["_desk_vaccinated"] = int(d["desk_hours"]), int(d["vaccinated"])
        rows.append(_finish(row, store.WAIT_BUCKET_S))
    return rows


def _finish(row: dict, width: float) -> dict:
    row["wait_p50_s"] = percentile(row["_hist"], 0.5, width)
    row["wait_p90_s"] = percentile(row["_hist"], 0.9, width)
    row["per_desk_hour"] = round(row["_desk_vaccinated"] / row["desk_hours"], 1) if row["desk_hours"] else None
    return row


def public(row: dict) -> dict:
    """A row without its working parts (histogram), as the API and CSV give it."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def rollup(rows: list[dict], level: str, width: float = WAIT_BUCKET_S, targets: dict | None = None) -> list[dict]:
    """Site rows summed by district or province (average wait: the mean of the sites that report one; wait
    percentiles from the merged histograms; throughput from the summed desk-hours), with the target population
    (`targets`: (province, district) → people, central.coverage) and the vaccinations per 100 of it. A province's
    target is the sum of its districts' in these rows, and none if one of them has none (its doses would count
    against a target that leaves its people out)."""
    if level == "site":
        return rows
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = (r["province"], r["district"]) if level == "district" else (r["province"],)
        g = groups.setdefault(key, {"province": r["province"], "province_name": r["province_name"],
                                    "district": r["district"] if level == "district" else "", **_zero(),
                                    "_waits": [], "_hist": {}, "_desk_vaccinated": 0, "sites": 0,
                                    "_districts": set()})
        for m in (*METRICS, *PRINTS, "waiting", "desk_hours", "_desk_vaccinated"):
            g[m] += r.get(m) or 0
        if r["avg_wait_s"] is not None:
            g["_waits"].append(r["avg_wait_s"])
        for bucket, n in r.get("_hist", {}).items():
            g["_hist"][bucket] = g["_hist"].get(bucket, 0) + n
        g["sites"] += 1
        g["_districts"].add((r["province"], r["district"]))
    out = []
    for key in sorted(groups):
        g = groups[key]
        waits = g.pop("_waits")
        g["avg_wait_s"] = round(sum(waits) / len(waits), 1) if waits else None
        listed = [(targets or {}).get(d) for d in g.pop("_districts")]
        g["target_population"] = sum(listed) if listed and None not in listed else None
        g["coverage_pct"] = coverage.percent(g["vaccinated"], g["target_population"])
        out.append(_finish(g, width))
    return out


def per_hour(store, day: str | None, site_ids: list[str]) -> dict[str, list[int]]:
    """metric → 24 hourly counts of the day over the given sites."""
    series = {m: [0] * 24 for m in METRICS}
    wanted = set(site_ids)
    for r in store.hourly_by_site(day or store.today()):
        if r["site"] in wanted:
            for m in METRICS:
                series[m][r["hour"]] += r[m] or 0
    return series


def per_day(store, first: str, last: str, site_ids: list[str]) -> list[dict]:
    """One row per day of the range over the given sites (zeros for days without records): the trend."""
    days = {d: {"day": d, **dict.fromkeys(METRICS + PRINTS, 0)} for d in days_between(first, last)}
    for r in store.daily(first, last, site_ids):
        days[r["day"]].update({m: r[m] or 0 for m in METRICS + PRINTS})
    return list(days.values())


def doses(store, first: str, last: str, site_ids: list[str]) -> list[dict]:
    """Vaccinations by vaccine, dose number and lot over the given sites."""
    rows = sorted(store.doses(first, last, site_ids), key=lambda r: (r["vaccine"], r["dose_number"], r["lot"]))
    return [{"vaccine": r["vaccine"], "dose_number": r["dose_number"], "lot": r["lot"], "vaccinated": r["n"]}
            for r in rows]
