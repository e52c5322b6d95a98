"""Central's storage: sites, fleet state, health history, records by stream, clock offsets, ingest rejects. Only this
module writes SQL naming those tables (the registry's own tables are central.registry's), so that a PostgreSQL
backend can replace it behind the same methods and functions.

SQLite in WAL mode (a base.store.Store) or PostgreSQL (a base.pgstore.PgStore, central.toml `[store] url`), with
the same migrations and the same SQL. Writes come in batches: the ingest collects messages for a few milliseconds
and `apply()` commits them in one transaction, so the fsync that makes an acknowledgement honest is paid once per
batch, not per message. Several ingest processes may share the database (MQTT shared subscription): SQLite
serialises their write transactions; on PostgreSQL they commit side by side, which is safe because every write of a
batch is an upsert or an INSERT … ON CONFLICT DO NOTHING on a unique key (a record id, a health report's kiosk, boot
and monotonic stamp), taken in kiosk order so that two batches never wait for each other in a cycle.

Times are stored as ISO 8601 UTC strings; `day` and `hour` of a record are local (utc_offset_hours) and computed
from the corrected time, so per-day and per-hour counts do not depend on a kiosk's clock being right.

Clock correction: a kiosk stamps each event with wall time, monotonic time, boot id and "synchronised or not".
Every synchronised stamp of a boot teaches its offset (wall − mono). A record stamped while unsynchronised gets
at_wall = offset + mono as soon as the offset of its boot is known (now or later) and clock = 'corrected'; until
then clock = 'unsynced' and at_wall is what the kiosk sent.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from base.health import CameraHealth, PrinterHealth
from base.store import open_store

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_central",
        """
        CREATE TABLE sites (                       -- filled by the registry (prov); unknown sites count as such
            site TEXT PRIMARY KEY,
            name TEXT,
            district TEXT,
            province TEXT
        );
        CREATE TABLE kiosks (
            kiosk TEXT PRIMARY KEY,                -- the MQTT username: unique across the fleet
            site TEXT NOT NULL,
            state TEXT NOT NULL,                   -- online | offline | lost | unknown (seen, no status yet)
            state_since TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            boot_id TEXT,
            version TEXT,
            health TEXT,                           -- latest health payload, JSON
            health_at TEXT,
            queue TEXT,                            -- latest queue payload, JSON
            queue_day TEXT,
            queue_waiting INTEGER,
            queue_avg_wait_s REAL
        );
        CREATE INDEX kiosks_site ON kiosks (site);
        CREATE TABLE health_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kiosk TEXT NOT NULL,
            received TEXT NOT NULL,
            outbox_backlog INTEGER,
            outbox_oldest_s REAL,
            cpu_temp_c REAL,
            load REAL,
            mem_used_pct REAL,
            disk_used_pct REAL,
            camera_fps REAL,
            printer_online INTEGER,
            payload TEXT NOT NULL
        );
        CREATE INDEX health_history_kiosk ON health_history (kiosk, id);
        CREATE TABLE records (
            record_id TEXT PRIMARY KEY,            -- deduplication: a resent record is ignored
            stream TEXT NOT NULL,                  -- checkins | vaccinations | corrections | print_events
            site TEXT NOT NULL,
            kiosk TEXT NOT NULL,
            day TEXT NOT NULL,                     -- local day of at_wall
            hour INTEGER NOT NULL,                 -- local hour of at_wall
            at_wall TEXT NOT NULL,                 -- best known UTC time of the event
            sent_wall TEXT NOT NULL,               -- the kiosk's wall clock as sent
            mono REAL NOT NULL,
            boot_id TEXT NOT NULL,
            clock TEXT NOT NULL,                   -- synced | corrected | unsynced
            print_kind TEXT,                       -- print_events: ticket | certificate
            print_state TEXT,                      -- print_events: done | failed
            received TEXT NOT NULL,                -- central's commit time (UTC)
            payload TEXT NOT NULL
        );
        CREATE INDEX records_day ON records (day, stream, site);
        CREATE INDEX records_unsynced ON records (boot_id) WHERE clock = 'unsynced';
        CREATE TABLE boots (
            boot_id TEXT PRIMARY KEY,
            kiosk TEXT NOT NULL,
            offset_s REAL NOT NULL,                -- wall (epoch seconds) − monotonic, from a synchronised stamp
            learned TEXT NOT NULL
        );
        CREATE TABLE rejects (
            reason TEXT PRIMARY KEY,
            count INTEGER NOT NULL,
            last TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_registry",
        # central.registry: enrolled kiosks (MQTT users) and one-time enrolment codes. Only hashes are stored.
        """
        CREATE TABLE devices (
            kiosk_id TEXT PRIMARY KEY,             -- also the MQTT username and client id
            site_id TEXT NOT NULL REFERENCES sites(site),
            state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
            password_hash TEXT NOT NULL,           -- Mosquitto $7$ hash; the password itself went to the kiosk only
            enrolled_wall TEXT NOT NULL,
            enrolled_via TEXT NOT NULL,            -- code | bundle
            revoked_wall TEXT,
            revoked_reason TEXT
        );
        CREATE INDEX devices_site ON devices (site_id, state);
        CREATE TABLE enrol_codes (
            code_hash TEXT PRIMARY KEY,            -- SHA-256 of the normalised code
            site_id TEXT NOT NULL REFERENCES sites(site),
            created_wall TEXT NOT NULL,
            expires_wall TEXT NOT NULL,
            used_wall TEXT,
            used_by TEXT REFERENCES devices(kiosk_id)
        );
        """,
    ),
    (
        "0003_signing_certs",
        # central.registry: each kiosk's document signing certificate, sent at enrolment; the trust list is built
        # from it. A revoked kiosk's keys are revoked with it; one key can also be revoked alone.
        """
        CREATE TABLE signing_certs (
            kid TEXT PRIMARY KEY,                  -- base64 of the first 8 bytes of SHA-256 over the DER certificate
            kiosk_id TEXT NOT NULL REFERENCES devices(kiosk_id),
            certificate_pem TEXT NOT NULL,
            added_wall TEXT NOT NULL,
            revoked_wall TEXT,
            revoked_reason TEXT
        );
        """,
    ),
]

MIGRATIONS.append((
    "0004_health_once",
    # A health report is applied once whatever the number of aggregators (issue 23): its key is the kiosk, the
    # boot and the monotonic stamp it was sent with. Rows stored before have no key (NULLs never collide).
    """
    ALTER TABLE health_history ADD COLUMN boot_id TEXT;
    ALTER TABLE health_history ADD COLUMN mono REAL;
    CREATE UNIQUE INDEX health_history_once ON health_history (kiosk, boot_id, mono);
    """,
))

STREAM_COLUMNS = {"checkins": "checked_in", "vaccinations": "vaccinated", "corrections": "corrections"}


@dataclass
class Inbound:
    """One validated message from a kiosk (see central.protocol.decode_inbound)."""

    site: str
    kiosk: str
    leaf: str  # status | health | queue | records
    payload: dict
    stream: str | None = None


@dataclass
class Applied:
    """What a batch did: record ids to acknowledge per (site, kiosk) — new and duplicate alike, since a resend
    means the kiosk missed the previous ack — and how many records were new."""

    acks: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    new_records: int = 0
    duplicates: int = 0


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _epoch(wall: str) -> float:
    return dt.datetime.fromisoformat(wall).timestamp()


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="milliseconds")


class CentralStore:
    def __init__(self, location: str | Path, utc_offset_hours: float = 7.0):
        """`location`: central.db's path, or a postgresql:// URL (central.config.Config.store_location)."""
        self._store = open_store(location, MIGRATIONS, "central")
        self.path = self._store.path
        self.tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))

    def close(self) -> None:
        self._store.close()

    def today(self) -> str:
        return dt.datetime.now(self.tz).date().isoformat()

    def _local(self, wall: str) -> tuple[str, int]:
        local = dt.datetime.fromisoformat(wall).astimezone(self.tz)
        return local.date().isoformat(), local.hour

    # -- writes ------------------------------------------------------------------------------------------------
    def apply(self, batch: list[Inbound], rejects: dict[str, int] | None = None) -> Applied:
        """Commit a batch of validated messages (and reject counts) in one durable transaction."""
        result = Applied()
        now = utc_now()
        with self._store.transaction(concurrent=True) as db:
            learned: set[str] = set()
            # In kiosk order (each kiosk's own messages in the order they came): rows are locked in one order.
            for msg in sorted(batch, key=lambda m: m.kiosk):
                self._touch_kiosk(db, msg, now)
                stamp = msg.payload.get("at")
                if stamp and stamp["clock_synced"]:
                    if self._learn_offset(db, msg.kiosk, stamp, now):
                        learned.add(stamp["boot_id"])
                if msg.leaf == "status":
                    self._status(db, msg, now)
                elif msg.leaf == "health":
                    self._health(db, msg, now)
                elif msg.leaf == "queue":
                    self._queue(db, msg)
                elif msg.leaf == "records":
                    new = self._record(db, msg, now)
                    result.new_records += new
                    result.duplicates += not new
                    result.acks.setdefault((msg.site, msg.kiosk), []).append(msg.payload["record_id"])
            for boot_id in sorted(learned):
                self._correct_boot(db, boot_id)
            for reason, n in sorted((rejects or {}).items()):
                db.conn.execute(
                    "INSERT INTO rejects VALUES (?, ?, ?) ON CONFLICT(reason) DO UPDATE "
                    "SET count = rejects.count + excluded.count, last = excluded.last", (reason, n, now))
        return result

    def _touch_kiosk(self, db, msg: Inbound, now: str) -> None:
        db.conn.execute(
            "INSERT INTO kiosks (kiosk, site, state, state_since, last_seen) VALUES (?, ?, 'unknown', ?, ?) "
            "ON CONFLICT(kiosk) DO UPDATE SET site = excluded.site, last_seen = excluded.last_seen",
            (msg.kiosk, msg.site, now, now))

    def _status(self, db, msg: Inbound, now: str) -> None:
        p = msg.payload
        db.conn.execute(
            "UPDATE kiosks SET state_since = CASE WHEN state = ? THEN state_since ELSE ? END, state = ?, "
            "boot_id = ?, version = COALESCE(?, version) WHERE kiosk = ?",
            (p["state"], now, p["state"], p["boot_id"], p.get("version"), msg.kiosk))

    def _health(self, db, msg: Inbound, now: str) -> None:
        p = msg.payload
        camera, printer = CameraHealth.read(p.get("camera")), PrinterHealth.read(p.get("printer"))
        text = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
        fps, online = camera.fps if camera else None, printer.online if printer else None
        new = db.conn.execute(
            "INSERT INTO health_history (kiosk, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, "
            "mem_used_pct, disk_used_pct, camera_fps, printer_online, payload, boot_id, mono) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (kiosk, boot_id, mono) DO NOTHING",
            (msg.kiosk, now, p["outbox_backlog"], p.get("outbox_oldest_s"), p.get("cpu_temp_c"), p["load"],
             p.get("mem_used_pct"), p["disk_used_pct"], fps, None if online is None else int(online), text,
             p["at"]["boot_id"], p["at"]["mono"])).rowcount == 1
        if not new:
            return  # this report was applied already (by this aggregator or another)
        # A health message proves the kiosk is connected, even if its retained "online" was missed.
        db.conn.execute(
            "UPDATE kiosks SET health = ?, health_at = ?, version = ?, boot_id = ?, "
            "state_since = CASE WHEN state = 'online' THEN state_since ELSE ? END, state = 'online' "
            "WHERE kiosk = ?", (text, now, p["version"], p["at"]["boot_id"], now, msg.kiosk))

    def _queue(self, db, msg: Inbound) -> None:
        p = msg.payload
        db.conn.execute(
            "UPDATE kiosks SET queue = ?, queue_day = ?, queue_waiting = ?, queue_avg_wait_s = ? WHERE kiosk = ?",
            (json.dumps(p, separators=(",", ":")), p["day"], p["waiting"], p.get("avg_wait_s"), msg.kiosk))

    def _learn_offset(self, db, kiosk: str, stamp: dict, now: str) -> bool:
        """Remember the boot's clock offset; True the first time it is learned for this boot."""
        offset = _epoch(stamp["wall"]) - stamp["mono"]
        cur = db.conn.execute(
            "INSERT INTO boots VALUES (?, ?, ?, ?) ON CONFLICT(boot_id) DO NOTHING",
            (stamp["boot_id"], kiosk, offset, now))
        return cur.rowcount == 1

    def _offset(self, db, boot_id: str) -> float | None:
        row = db.conn.execute("SELECT offset_s FROM boots WHERE boot_id = ?", (boot_id,)).fetchone()
        return row[0] if row else None

    def _record(self, db, msg: Inbound, now: str) -> bool:
        p, at = msg.payload, msg.payload["at"]
        wall, clock = at["wall"], "synced"
        if not at["clock_synced"]:
            offset = self._offset(db, at["boot_id"])
            wall, clock = (_iso(offset + at["mono"]), "corrected") if offset is not None else (wall, "unsynced")
        day, hour = self._local(wall)
        is_print = msg.stream == "print_events"
        cur = db.conn.execute(
            "INSERT INTO records (record_id, stream, site, kiosk, day, hour, at_wall, sent_wall, mono, boot_id, "
            "clock, print_kind, print_state, received, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(record_id) DO NOTHING",
            (p["record_id"], msg.stream, msg.site, msg.kiosk, day, hour, wall, at["wall"], at["mono"],
             at["boot_id"], clock, p.get("kind") if is_print else None, p.get("state") if is_print else None,
             now, json.dumps(p, ensure_ascii=False, separators=(",", ":"))))
        return cur.rowcount == 1

    def _correct_boot(self, db, boot_id: str) -> None:
        offset = self._offset(db, boot_id)
        rows = db.conn.execute("SELECT record_id, mono FROM records WHERE boot_id = ? AND clock = 'unsynced'",
                               (boot_id,)).fetchall()
        for record_id, mono in rows:
            wall = _iso(offset + mono)
            day, hour = self._local(wall)
            db.conn.execute("UPDATE records SET at_wall = ?, day = ?, hour = ?, clock = 'corrected' "
                            "WHERE record_id = ?", (wall, day, hour, record_id))

    def count_rejects(self, rejects: dict[str, int]) -> None:
        if rejects:
            self.apply([], rejects)

    def recent_lags(self, window_seconds: float = 300.0, now: float | None = None) -> list[float]:
        """Seconds from the kiosk's send time (its wall clock, synchronised records only) to central's commit, for
        the records received in the last `window_seconds`, sorted."""
        now = dt.datetime.now(dt.timezone.utc).timestamp() if now is None else now
        rows = self._store.query("SELECT received, sent_wall FROM records WHERE received >= ? AND clock = 'synced'",
                                 (_iso(now - window_seconds),))
        return sorted(max(0.0, _epoch(r["received"]) - _epoch(r["sent_wall"])) for r in rows)

    def upsert_site(self, site: str, name: str = "", district: str = "", province: str = "") -> None:
        with self._store.transaction() as db:
            db.conn.execute("INSERT INTO sites VALUES (?, ?, ?, ?) ON CONFLICT(site) DO UPDATE SET "
                            "name = excluded.name, district = excluded.district, province = excluded.province",
                            (site, name, district, province))

    def prune_health(self, keep_days: float) -> int:
        cutoff = _iso(dt.datetime.now(dt.timezone.utc).timestamp() - keep_days * 86400)
        with self._store.transaction() as db:
            return db.conn.execute("DELETE FROM health_history WHERE received < ?", (cutoff,)).rowcount

    # -- reads -------------------------------------------------------------------------------------------------
    def fleet(self) -> list[dict]:
        """Every kiosk with its site's place and its latest health decoded (None before the first).

        `silent_s` (seconds since any message) lets a reader distrust an "online" that the broker could not turn
        into "lost": a broker restarted without persistence forgets the Last Will of a kiosk that died meanwhile."""
        rows = self._store.query(
            "SELECT k.*, s.name AS site_name, s.district, s.province FROM kiosks k LEFT JOIN sites s "
            "ON s.site = k.site ORDER BY k.site, k.kiosk")
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        for row in rows:
            row["health"] = json.loads(row["health"]) if row["health"] else None
            row["queue"] = json.loads(row["queue"]) if row["queue"] else None
            row["silent_s"] = round(max(0.0, now - _epoch(row["last_seen"])), 1)
        return rows

    def kiosk(self, kiosk: str) -> dict | None:
        return next((k for k in self.fleet() if k["kiosk"] == kiosk), None)

    def health_history(self, kiosk: str, limit: int = 120) -> list[dict]:
        """The latest `limit` health rows of a kiosk, oldest first (for small charts); payload not included."""
        rows = self._store.query(
            "SELECT id, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, mem_used_pct, disk_used_pct, "
            "camera_fps, printer_online FROM health_history WHERE kiosk = ? ORDER BY id DESC LIMIT ?",
            (kiosk, limit))
        return rows[::-1]

    _COUNTS = """
        COUNT(*) FILTER (WHERE r.stream = 'checkins') AS checked_in,
        COUNT(*) FILTER (WHERE r.stream = 'vaccinations') AS vaccinated,
        COUNT(*) FILTER (WHERE r.stream = 'print_events' AND r.print_kind = 'certificate'
                         AND r.print_state = 'done') AS certificates,
        COUNT(*) FILTER (WHERE r.stream = 'corrections') AS corrections
    """

    def counts(self, level: str = "site", day: str | None = None) -> list[dict]:
        """Today's (or `day`'s) totals per site, district or province, with people waiting now and average wait.

        Keys: the level's name (`site`/`district`/`province`), checked_in, vaccinated, certificates, corrections,
        waiting, avg_wait_s. Sites unknown to the registry have district/province '?'."""
        if level not in ("site", "district", "province"):
            raise ValueError(f"unknown level {level!r}")
        day = day or self.today()
        key = "r.site" if level == "site" else f"COALESCE(s.{level}, '?')"
        kkey = "k.site" if level == "site" else f"COALESCE(s.{level}, '?')"
        totals = self._store.query(
            f"SELECT {key} AS key, {self._COUNTS} FROM records r LEFT JOIN sites s ON s.site = r.site "
            f"WHERE r.day = ? GROUP BY key", (day,))
        waiting = self._store.query(
            f"SELECT {kkey} AS key, CAST(SUM(k.queue_waiting) AS BIGINT) AS waiting, AVG(k.queue_avg_wait_s) AS avg_wait_s "
            f"FROM kiosks k LEFT JOIN sites s ON s.site = k.site WHERE k.queue_day = ? GROUP BY key", (day,))
        out: dict[str, dict] = {}
        zero = {"checked_in": 0, "vaccinated": 0, "certificates": 0, "corrections": 0, "waiting": 0,
                "avg_wait_s": None}
        for row in totals + waiting:
            entry = out.setdefault(row["key"], {level: row["key"], **zero})
            entry.update({k: (v or 0) if k != "avg_wait_s" else v for k, v in row.items() if k != "key"})
        return [out[k] for k in sorted(out)]

    def hourly(self, day: str | None = None, level: str | None = None, key: str | None = None) -> list[dict]:
        """Per local hour of `day`: checked_in, vaccinated, certificates, corrections; optionally for one
        site/district/province (`level`, `key`)."""
        where, params = "r.day = ?", [day or self.today()]
        if level:
            if level not in ("site", "district", "province"):
                raise ValueError(f"unknown level {level!r}")
            where += " AND " + ("r.site = ?" if level == "site" else f"s.{level} = ?")
            params.append(key)
        return self._store.query(
            f"SELECT r.hour AS hour, {self._COUNTS} FROM records r LEFT JOIN sites s ON s.site = r.site "
            f"WHERE {where} GROUP BY r.hour ORDER BY r.hour", tuple(params))

    def records(self, stream: str, day: str | None = None, site: str | None = None, limit: int = 1000) -> list[dict]:
        """Stored records of a stream, newest first, payload decoded (it may hold personal data: vaccinations)."""
        where, params = "stream = ?", [stream]
        if day:
            where, params = where + " AND day = ?", params + [day]
        if site:
            where, params = where + " AND site = ?", params + [site]
        rows = self._store.query(f"SELECT * FROM records WHERE {where} ORDER BY at_wall DESC LIMIT ?",
                                 (*params, limit))
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows

    def record_count(self, stream: str | None = None, kiosk: str | None = None) -> int:
        where, params = "TRUE", []
        if stream:
            where, params = where + " AND stream = ?", params + [stream]
        if kiosk:
            where, params = where + " AND kiosk = ?", params + [kiosk]
        return self._store.query_one(f"SELECT count(*) AS n FROM records WHERE {where}", tuple(params))["n"]

    def record_ids(self, kiosk: str, stream: str) -> list[str]:
        return [r["record_id"] for r in self._store.query(
            "SELECT record_id FROM records WHERE kiosk = ? AND stream = ?", (kiosk, stream))]

    def data_version(self) -> int:
        """Moves when anything is committed (by this process or another): the dashboard's screens refresh on it."""
        return self._store.data_version()

    def rejects(self) -> dict[str, int]:
        return {r["reason"]: r["count"] for r in self._store.query("SELECT reason, count FROM rejects")}

    def ingest_totals(self) -> dict[str, int]:
        """Records stored per stream (all days): for /metrics."""
        return {r["stream"]: r["n"] for r in self._store.query(
            "SELECT stream, count(*) AS n FROM records GROUP BY stream")}


# -- for central.registry, on its own connection to central.db (`db`: a base.store.Store's db, in or out of its
# transactions): the sites it enrols at and the kiosks it revokes.
def register_site(db, site: str, name: str = "", district: str = "", province: str = "") -> None:
    """Register or update a site; empty fields keep what is there."""
    db.conn.execute("INSERT INTO sites (site, name, district, province) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (site) DO UPDATE SET "
                    "name = coalesce(nullif(excluded.name, ''), sites.name), "
                    "district = coalesce(nullif(excluded.district, ''), sites.district), "
                    "province = coalesce(nullif(excluded.province, ''), sites.province)",
                    (site, name, district, province))


def site_row(db, site: str) -> dict | None:
    row = db.conn.execute("SELECT * FROM sites WHERE site = ?", (site,)).fetchone()
    return dict(row) if row else None


def site_names(db) -> list[dict]:
    return [dict(r) for r in db.conn.execute("SELECT site, name FROM sites ORDER BY site")]


def mark_revoked(db, kiosk: str, since: str) -> None:
    """The fleet view must not keep showing a revoked kiosk online: the broker closes its connection without
    publishing its Last Will (the revoked user may no longer publish), and ingest rejects anything from it."""
    db.conn.execute("UPDATE kiosks SET state = 'revoked', state_since = ? WHERE kiosk = ?", (since, kiosk))
