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
        """Commit a batch of validated messages (and reject counts) in one durable transaction.

        A few multi-row statements per batch, not one per message: on PostgreSQL each statement is a round trip,
        and on a loaded machine each round trip waits for the scheduler. Kiosk rows are written in kiosk order
        (every other row of the batch belongs to one of those kiosks, whose row is then locked), so two
        aggregators' batches never wait for each other in a cycle. Offsets are learned before the records that
        need them. Of a kiosk's status and queue messages in one batch the last one is applied, which leaves the
        same state as applying each in turn (they carry the whole latest state, and share the batch's time)."""
        result = Applied()
        now = utc_now()
        last: dict[str, dict[str, Inbound]] = {"status": {}, "queue": {}}
        health, records = [], []
        for msg in batch:
            if msg.leaf in last:
                last[msg.leaf][msg.kiosk] = msg
            elif msg.leaf == "health":
                health.append(msg)
            elif msg.leaf == "records":
                records.append(msg)
        with self._store.transaction(concurrent=True) as db:
            kiosks = {m.kiosk: m.site for m in batch}
            self._store.insert_many(db, "kiosks (kiosk, site, state, state_since, last_seen)",
                   [(k, site, "unknown", now, now) for k, site in sorted(kiosks.items())],
                   "ON CONFLICT(kiosk) DO UPDATE SET site = excluded.site, last_seen = excluded.last_seen")
            learned = self._learn_offsets(db, batch, now)
            self._health(db, health, now)
            self._store.insert_many(db, "kiosks (kiosk, site, state, state_since, last_seen, boot_id, version)",
                   [(m.kiosk, m.site, m.payload["state"], now, now, m.payload["boot_id"], m.payload.get("version"))
                    for _, m in sorted(last["status"].items())],
                   "ON CONFLICT(kiosk) DO UPDATE SET state_since = CASE WHEN kiosks.state = excluded.state "
                   "THEN kiosks.state_since ELSE excluded.state_since END, state = excluded.state, "
                   "boot_id = excluded.boot_id, version = COALESCE(excluded.version, kiosks.version)")
            self._store.insert_many(db, "kiosks (kiosk, site, state, state_since, last_seen, queue, queue_day, queue_waiting, "
                       "queue_avg_wait_s)",
                   [(m.kiosk, m.site, "unknown", now, now, json.dumps(m.payload, separators=(",", ":")),
                     m.payload["day"], m.payload["waiting"], m.payload.get("avg_wait_s"))
                    for _, m in sorted(last["queue"].items())],
                   "ON CONFLICT(kiosk) DO UPDATE SET queue = excluded.queue, queue_day = excluded.queue_day, "
                   "queue_waiting = excluded.queue_waiting, queue_avg_wait_s = excluded.queue_avg_wait_s")
            new_ids = self._records(db, records, now)
            for msg in records:
                new = msg.payload["record_id"] in new_ids
                new_ids.discard(msg.payload["record_id"])  # a record twice in one batch: new once, then a copy
                result.new_records += new
                result.duplicates += not new
                result.acks.setdefault((msg.site, msg.kiosk), []).append(msg.payload["record_id"])
            for boot_id in sorted(learned):
                self._correct_boot(db, boot_id)
            self._store.insert_many(db, "rejects (reason, count, last)", [(r, n, now) for r, n in sorted((rejects or {}).items())],
                   "ON CONFLICT(reason) DO UPDATE SET count = rejects.count + excluded.count, last = excluded.last")
        return result

    def _learn_offsets(self, db, batch: list[Inbound], now: str) -> set[str]:
        """Remember each boot's clock offset from its synchronised stamps; returns the boots learned just now."""
        first: dict[str, tuple] = {}
        for msg in batch:
            stamp = msg.payload.get("at")
            if stamp and stamp["clock_synced"] and stamp["boot_id"] not in first:
                first[stamp["boot_id"]] = (stamp["boot_id"], msg.kiosk, _epoch(stamp["wall"]) - stamp["mono"], now)
        rows = self._store.insert_many(db, "boots (boot_id, kiosk, offset_s, learned)", [first[b] for b in sorted(first)],
                      "ON CONFLICT(boot_id) DO NOTHING RETURNING boot_id")
        return {r[0] for r in rows}

    def _health(self, db, messages: list[Inbound], now: str) -> None:
        rows, texts = [], {}
        for msg in messages:
            p = msg.payload
            camera, printer = CameraHealth.read(p.get("camera")), PrinterHealth.read(p.get("printer"))
            fps, online = camera.fps if camera else None, printer.online if printer else None
            key = (msg.kiosk, p["at"]["boot_id"], p["at"]["mono"])
            if key in texts:
                continue  # the same report twice in one batch
            texts[key] = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
            rows.append((msg.kiosk, now, p["outbox_backlog"], p.get("outbox_oldest_s"), p.get("cpu_temp_c"),
                         p["load"], p.get("mem_used_pct"), p["disk_used_pct"], fps,
                         None if online is None else int(online), texts[key], *key[1:]))
        new = {tuple(r) for r in self._store.insert_many(
            db, "health_history (kiosk, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, mem_used_pct, "
                "disk_used_pct, camera_fps, printer_online, payload, boot_id, mono)", sorted(rows, key=lambda r: r[0]),
            "ON CONFLICT (kiosk, boot_id, mono) DO NOTHING RETURNING kiosk, boot_id, mono")}
        # A report applied already (by this aggregator or another) changes nothing; of the new ones, the latest of
        # each kiosk becomes its health. A health message proves the kiosk is connected, even if its retained
        # "online" was missed.
        latest = {}
        for msg in messages:
            key = (msg.kiosk, msg.payload["at"]["boot_id"], msg.payload["at"]["mono"])
            if key in new:
                latest[msg.kiosk] = (msg, texts[key])
        self._store.insert_many(db, "kiosks (kiosk, site, state, state_since, last_seen, health, health_at, version, boot_id)",
               [(k, m.site, "online", now, now, text, now, m.payload["version"], m.payload["at"]["boot_id"])
                for k, (m, text) in sorted(latest.items())],
               "ON CONFLICT(kiosk) DO UPDATE SET health = excluded.health, health_at = excluded.health_at, "
               "version = excluded.version, boot_id = excluded.boot_id, state_since = CASE WHEN kiosks.state = "
               "'online' THEN kiosks.state_since ELSE excluded.state_since END, state = 'online'")

    def _offsets(self, db, boot_ids: set[str]) -> dict[str, float]:
        if not boot_ids:
            return {}
        marks = ", ".join("?" * len(boot_ids))
        return {r[0]: r[1] for r in db.conn.execute(
            f"SELECT boot_id, offset_s FROM boots WHERE boot_id IN ({marks})", tuple(sorted(boot_ids))).fetchall()}

    def _records(self, db, messages: list[Inbound], now: str) -> set[str]:
        """Insert the records (a record id already stored is left alone); returns the ids that are new."""
        offsets = self._offsets(db, {m.payload["at"]["boot_id"] for m in messages
                                     if not m.payload["at"]["clock_synced"]})
        rows = {}
        for msg in messages:
            p, at = msg.payload, msg.payload["at"]
            wall, clock = at["wall"], "synced"
            if not at["clock_synced"]:
                offset = offsets.get(at["boot_id"])
                wall, clock = (_iso(offset + at["mono"]), "corrected") if offset is not None else (wall, "unsynced")
            day, hour = self._local(wall)
            is_print = msg.stream == "print_events"
            rows.setdefault(p["record_id"], (
                p["record_id"], msg.stream, msg.site, msg.kiosk, day, hour, wall, at["wall"], at["mono"],
                at["boot_id"], clock, p.get("kind") if is_print else None, p.get("state") if is_print else None, now,
                json.dumps(p, ensure_ascii=False, separators=(",", ":"))))
        inserted = self._store.insert_many(db, "records (record_id, stream, site, kiosk, day, hour, at_wall, sent_wall, mono, boot_id, "
                              "clock, print_kind, print_state, received, payload)",
                          sorted(rows.values(), key=lambda r: (r[3], r[0])),
                          "ON CONFLICT(record_id) DO NOTHING RETURNING record_id")
        return {r[0] for r in inserted}

    def _correct_boot(self, db, boot_id: str) -> None:
        offset = self._offsets(db, {boot_id})[boot_id]
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
