"""Fleet alerts (kept in ops.db): rules over each kiosk's state and latest health, raised and cleared by `evaluate`, acknowledged
by operations staff. An alert keeps the time it was first seen while its condition holds; when the condition ends
it is cleared (kept for the history), and a new occurrence is a new alert.

One fault, one alert: a rule whose fault explains another's hides it (SUPPRESSES: a printer out of paper also says
"offline"). A raised alert is queued for every configured channel (central.alert_outbox) in the same transaction,
unless its kiosk and code are snoozed. Acknowledge and snooze are staff actions, kept in `alert_actions` (who, when).
"""

from __future__ import annotations

import datetime as dt

from central import alert_outbox
from central.ops_config import AlertsSection

SCHEMA = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kiosk TEXT NOT NULL,
    site TEXT NOT NULL,
    code TEXT NOT NULL,
    detail TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    cleared_at REAL,
    acked_at REAL,
    acked_by TEXT
);
CREATE UNIQUE INDEX alerts_active ON alerts (kiosk, code) WHERE cleared_at IS NULL;
CREATE INDEX alerts_first_seen ON alerts (first_seen);
"""

# Snooze (per kiosk and code: the next occurrences while it lasts are not sent either) and the audit of staff actions.
SNOOZE_SCHEMA = """
ALTER TABLE alerts ADD COLUMN snoozed_until REAL;
CREATE TABLE alert_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    action TEXT NOT NULL,                  -- acknowledge | snooze
    user_name TEXT NOT NULL,
    at REAL NOT NULL,
    until_at REAL                          -- snooze: until when
);
CREATE INDEX alert_actions_alert ON alert_actions (alert_id);
"""

# A code on the left, when raised for a kiosk, hides the codes on the right for that kiosk: they are the same fault.
SUPPRESSES = {
    "printer_paper_out": {"printer_offline"},  # the printer reports itself offline while its paper is out
    "outbox_backlog": {"outbox_age"},  # a backlog over the limit is the stuck outbox the age says too
}
SNOOZE_CHOICES_H = (1, 4, 24)

# code → (Vietnamese, English) title shown on the dashboard.
TITLES = {
    "kiosk_lost": ("Mất kết nối với kiosk", "Kiosk lost"),
    "printer_paper_out": ("Máy in hết giấy", "Printer out of paper"),
    "printer_offline": ("Máy in không hoạt động", "Printer offline"),
    "outbox_backlog": ("Dữ liệu chưa gửi tồn đọng", "Outbox backlog too large"),
    "outbox_age": ("Dữ liệu chưa gửi quá lâu", "Oldest unsent record too old"),
    "clock_unsynced": ("Đồng hồ chưa đồng bộ", "Clock not synchronised"),
    "disk_full": ("Bộ nhớ gần đầy", "Disk almost full"),
    "camera_no_frames": ("Camera không có hình", "Camera delivers no frames"),
}


def conditions(kiosk: dict, limits: AlertsSection, now: float) -> dict[str, str]:
    """code → detail for every rule this kiosk breaks now (a view from central.fleet)."""
    found: dict[str, str] = {}
    if kiosk["state"] == "lost" and now - kiosk["state_since"] >= limits.lost_after_seconds:
        found["kiosk_lost"] = f"mất kết nối {int(now - kiosk['state_since'])} giây · lost for {int(now - kiosk['state_since'])} s"
    if kiosk["state"] != "online":
        return found  # the last health of a kiosk that is away says nothing about now
    if kiosk["paper"] == "out":
        found["printer_paper_out"] = "hết giấy · paper out"
    if kiosk["printer"] == "offline":
        found["printer_offline"] = "máy in mất kết nối · printer offline"
    if kiosk["backlog"] is not None and kiosk["backlog"] > limits.backlog_max:
        found["outbox_backlog"] = (f"{int(kiosk['backlog'])} bản ghi chưa gửi · records waiting "
                                   f"(giới hạn · limit {limits.backlog_max})")
    age = kiosk["oldest_age_s"]
    if age is not None and age > limits.backlog_age_max_seconds:
        limit = int(limits.backlog_age_max_seconds)
        found["outbox_age"] = f"bản chưa gửi lâu nhất · oldest unsent {int(age)} s (giới hạn · limit {limit} s)"
    if kiosk["clock_synced"] is False:
        found["clock_unsynced"] = "đồng hồ chưa đồng bộ · clock not synchronised"
    if kiosk["disk_used_pct"] is not None and kiosk["disk_used_pct"] > limits.disk_used_max_percent:
        found["disk_full"] = (f"đĩa đã dùng · disk used {kiosk['disk_used_pct']:.0f}% "
                              f"(giới hạn · limit {limits.disk_used_max_percent:.0f}%)")
    if kiosk["camera_enabled"] and (kiosk["camera_fps"] or 0) <= 0:
        found["camera_no_frames"] = "0 khung hình/giây · 0 frames per second"
    hidden = set().union(*(SUPPRESSES.get(code, set()) for code in found))
    return {code: detail for code, detail in found.items() if code not in hidden}


def evaluate(conn, kiosks: list[dict], limits: AlertsSection, now: float, channels=()) -> tuple[int, int]:
    """Raise new alerts (queued for the `channels` named, unless snoozed) and clear ended ones in ops.db (caller's
    transaction); returns (raised, cleared)."""
    current: dict[tuple[str, str], tuple[dict, str]] = {}
    for k in kiosks:
        for code, detail in conditions(k, limits, now).items():
            current[(k["kiosk"], code)] = (k, detail)
    active = {(r[0], r[1]): r[2] for r in
              conn.execute("SELECT kiosk, code, id FROM alerts WHERE cleared_at IS NULL").fetchall()}
    raised = cleared = 0
    for key, (k, detail) in current.items():
        if key in active:
            conn.execute("UPDATE alerts SET last_seen = ?, detail = ? WHERE id = ?", (now, detail, active[key]))
            continue
        snoozed = conn.execute("SELECT max(snoozed_until) FROM alerts WHERE kiosk = ? AND code = ?", key).fetchone()[0]
        snoozed = snoozed if snoozed is not None and snoozed > now else None
        alert_id = conn.execute(
            "INSERT INTO alerts (kiosk, site, code, detail, first_seen, last_seen, snoozed_until) "
            "VALUES (?,?,?,?,?,?,?) RETURNING id", (key[0], k["site"], key[1], detail, now, now, snoozed)).fetchone()[0]
        if snoozed is None:
            alert_outbox.enqueue(conn, notification(alert_id, key[1], k, detail, now), channels, now)
        raised += 1
    for key, alert_id in active.items():
        if key not in current:
            conn.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (now, alert_id))
            cleared += 1
    return raised, cleared


def notification(alert_id: int, code: str, kiosk: dict, detail: str, now: float) -> dict:
    """What a channel gets of an alert (central.alert_channels): no personal data, the site in words."""
    title_vi, title_en = TITLES.get(code, (code, code))
    return {"id": alert_id, "code": code, "title_vi": title_vi, "title_en": title_en, "kiosk": kiosk["kiosk"],
            "site": kiosk["site"], "site_name": kiosk.get("site_name", ""), "district": kiosk.get("district", ""),
            "province": kiosk.get("province", ""), "province_name": kiosk.get("province_name", ""), "detail": detail,
            "first_seen": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
            "dashboard_path": f"/kiosk/{kiosk['kiosk']}"}


def acknowledge(conn, alert_id: int, user: str, now: float) -> bool:
    done = conn.execute("UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL",
                        (now, user, alert_id)).rowcount == 1
    if done:
        _audit(conn, alert_id, "acknowledge", user, now)
    return done


def snooze(conn, alert_id: int, hours: int, user: str, now: float) -> bool:
    """Hold back this alert's kiosk and code for `hours` (one of SNOOZE_CHOICES_H): it and the next occurrences
    meanwhile are not sent. Only an active alert can be snoozed."""
    if hours not in SNOOZE_CHOICES_H:
        raise ValueError(f"snooze for {SNOOZE_CHOICES_H} hours, not {hours!r}")
    until = now + hours * 3600
    done = conn.execute("UPDATE alerts SET snoozed_until = ? WHERE id = ? AND cleared_at IS NULL",
                        (until, alert_id)).rowcount == 1
    if done:
        _audit(conn, alert_id, "snooze", user, now, until)
    return done


def _audit(conn, alert_id: int, action: str, user: str, now: float, until: float | None = None) -> None:
    conn.execute("INSERT INTO alert_actions (alert_id, action, user_name, at, until_at) VALUES (?,?,?,?,?)",
                 (alert_id, action, user, now, until))


def actions(store, limit: int = 50) -> list[dict]:
    """The latest staff actions on alerts, newest first, with the alert's kiosk and code."""
    rows = store.query("SELECT x.*, a.kiosk, a.code FROM alert_actions x JOIN alerts a ON a.id = x.alert_id "
                       "ORDER BY x.id DESC LIMIT ?", (limit,))
    for r in rows:
        r["title_vi"], r["title_en"] = TITLES.get(r["code"], (r["code"], r["code"]))
    return rows


def listing(store, active: bool = True, limit: int = 200) -> list[dict]:
    where = "cleared_at IS NULL" if active else "cleared_at IS NOT NULL"
    order = "first_seen" if active else "cleared_at DESC"
    rows = store.query(f"SELECT * FROM alerts WHERE {where} ORDER BY {order} LIMIT ?", (limit,))
    for r in rows:
        r["title_vi"], r["title_en"] = TITLES.get(r["code"], (r["code"], r["code"]))
    return rows


def active_counts(store) -> dict[str, int]:
    return {r["code"]: r["n"] for r in
            store.query("SELECT code, count(*) AS n FROM alerts WHERE cleared_at IS NULL GROUP BY code")}
