"""Fleet alerts (kept in ops.db): rules over each kiosk's state and latest health, raised and cleared by `evaluate`, acknowledged
by operations staff. An alert keeps the time it was first seen while its condition holds; when the condition ends
it is cleared (kept for the history), and a new occurrence is a new alert."""

from __future__ import annotations

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
    return found


def evaluate(conn, kiosks: list[dict], limits: AlertsSection, now: float) -> tuple[int, int]:
    """Raise new alerts and clear ended ones in ops.db (caller's transaction); returns (raised, cleared)."""
    current: dict[tuple[str, str], tuple[str, str]] = {}
    for k in kiosks:
        for code, detail in conditions(k, limits, now).items():
            current[(k["kiosk"], code)] = (k["site"], detail)
    active = {(r[0], r[1]): r[2] for r in
              conn.execute("SELECT kiosk, code, id FROM alerts WHERE cleared_at IS NULL").fetchall()}
    raised = cleared = 0
    for key, (site, detail) in current.items():
        if key in active:
            conn.execute("UPDATE alerts SET last_seen = ?, detail = ? WHERE id = ?", (now, detail, active[key]))
        else:
            conn.execute("INSERT INTO alerts (kiosk, site, code, detail, first_seen, last_seen) VALUES (?,?,?,?,?,?)",
                         (key[0], site, key[1], detail, now, now))
            raised += 1
    for key, alert_id in active.items():
        if key not in current:
            conn.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (now, alert_id))
            cleared += 1
    return raised, cleared


def acknowledge(conn, alert_id: int, user: str, now: float) -> bool:
    return conn.execute("UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL",
                        (now, user, alert_id)).rowcount == 1


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
