"""Central's storage: sites, fleet state, health history, records by stream, clock offsets, ingest rejects. Only this
module writes SQL naming those tables (the registry's own tables are central.registry's), so that a PostgreSQL
backend can replace it behind the same methods and functions.

SQLite in WAL mode (a base.store.Store) or PostgreSQL (a base.pgstore.PgStore, central.toml `[store] url`), with
the same migrations and the same SQL. Writes come in batches: the ingest collects messages for a few milliseconds
and `apply()` commits them in one transaction, so the fsync that makes an acknowledgement honest is paid once per
batch, not per message. Several ingest processes may share the database (MQTT shared subscription): SQLite
serialises their write transactions; on PostgreSQL they commit side by side, which is safe because every write of a
batch is an upsert or an INSERT … ON CONFLICT DO NOTHING on a unique key (a record id, a health report's kiosk, boot
and monotonic stamp), taken in kiosk order so that two batches never wait for each other in a cycle, and because
batches whose records touch the same site take turns (`_summary_sites`): what a record adds to its site's summaries
depends on the site's records stored before it. A transaction PostgreSQL aborts anyway (a deadlock it found) is run
again from the start; nothing of it was committed or acknowledged.

Times are stored as ISO 8601 UTC strings; `day` and `hour` of a record are local (utc_offset_hours) and computed
from the corrected time, so per-day and per-hour counts do not depend on a kiosk's clock being right.

Clock correction: a kiosk stamps each event with wall time, monotonic time, boot id and "synchronised or not".
Every synchronised stamp of a boot teaches its offset (wall − mono). A record stamped while unsynchronised gets
at_wall = offset + mono as soon as the offset of its boot is known (now or later) and clock = 'corrected'; until
then clock = 'unsynced' and at_wall is what the kiosk sent.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from base.health import CameraHealth, PrinterHealth
from base.pgstore import postgres_ddl
from base.store import open_store
from central.spans import month_of, plan

# People, not printouts: a certificate is a vaccination with a certificate that came out, a ticket a check-in with a
# ticket that came out, whatever the number of copies (each reprint, copy ≥ 1, is counted on its own, on the day it
# was printed). So certificates ≤ vaccinated and tickets ≤ checked in by construction.
# CASE, not SUM(boolean): the same SQL runs on PostgreSQL.
_PRINTED = ("EXISTS (SELECT 1 FROM records p WHERE p.ref_checkin = {ref} AND p.stream = 'print_events' "
            "AND p.print_kind = '{kind}' AND p.print_state = 'done')")
COUNTED = ("checked_in", "vaccinated", "certificates", "tickets", "certificate_reprints", "ticket_reprints",
           "corrections")
_COUNT_SQL = f"""
    SUM(CASE WHEN r.stream = 'checkins' THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'vaccinations' THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'vaccinations' AND {_PRINTED.format(ref="r.ref_checkin", kind="certificate")}
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'checkins' AND {_PRINTED.format(ref="r.record_id", kind="ticket")} THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'print_events' AND r.print_kind = 'certificate' AND r.print_state = 'done'
        AND r.print_copy > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'print_events' AND r.print_kind = 'ticket' AND r.print_state = 'done'
        AND r.print_copy > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stream = 'corrections' THEN 1 ELSE 0 END)
"""
WAIT_BUCKET_S = 60  # wait percentiles to the minute: few summary rows per site and day


def _summary_inserts(where: str) -> list[str]:
    """SQL that computes the summaries (migration 0005) of the records matching `where` (alias r): per site, day
    and hour the counts and desk-hours (distinct desks vaccinating in that hour), per site and day the wait buckets
    and the doses by vaccine, number and lot. Ingest keeps them up to date by one-row increments (CentralStore._add,
    _bump); the first is also how a clock correction recomputes the site-hours its records leave and join."""
    return [
        f"INSERT INTO site_hours (day, site, hour, {', '.join(COUNTED)}, desk_hours, desk_vaccinated) "
        f"SELECT r.day, r.site, r.hour, {_COUNT_SQL}, "
        f"COUNT(DISTINCT CASE WHEN r.stream = 'vaccinations' THEN r.desk END), "
        f"SUM(CASE WHEN r.stream = 'vaccinations' AND r.desk IS NOT NULL THEN 1 ELSE 0 END) "
        f"FROM records r WHERE {where} GROUP BY r.day, r.site, r.hour",
        f"INSERT INTO site_waits (day, site, bucket, n) SELECT r.day, r.site, r.wait_s / {WAIT_BUCKET_S}, COUNT(*) "
        f"FROM records r WHERE r.stream = 'vaccinations' AND r.wait_s IS NOT NULL AND {where} "
        f"GROUP BY r.day, r.site, r.wait_s / {WAIT_BUCKET_S}",
        f"INSERT INTO site_doses (day, site, vaccine, dose_number, lot, n) SELECT r.day, r.site, "
        f"COALESCE(r.vaccine, '?'), COALESCE(r.dose_number, 0), COALESCE(r.lot, '?'), COUNT(*) FROM records r "
        f"WHERE r.stream = 'vaccinations' AND {where} "
        f"GROUP BY r.day, r.site, COALESCE(r.vaccine, '?'), COALESCE(r.dose_number, 0), COALESCE(r.lot, '?')",
    ]


_BACKFILL = ";\n".join(_summary_inserts("1 = 1"))
_DAY_COLUMNS = (*COUNTED, "desk_hours", "desk_vaccinated")
_DAYS_FROM_HOURS = (f"INSERT INTO site_days (day, site, {', '.join(_DAY_COLUMNS)}) SELECT day, site, "
                    + ", ".join(f"SUM({c})" for c in _DAY_COLUMNS) + " FROM site_hours WHERE {where} GROUP BY day, site")

# The monthly roll-up of each daily summary (migration 0008): its key columns besides the day, and what it sums.
MONTHLY = {"site_days": "site_months", "site_waits": "site_waits_month", "site_doses": "site_doses_month"}
_KEYS = {"site_days": ("site",), "site_waits": ("site", "bucket"),
         "site_doses": ("site", "vaccine", "dose_number", "lot")}
_VALUES = {"site_days": _DAY_COLUMNS, "site_waits": ("n",), "site_doses": ("n",)}


def _months_from_days(daily: str) -> str:
    """SQL that sums a daily summary's rows into its monthly one (the month table empty before)."""
    keys, values = ", ".join(_KEYS[daily]), _VALUES[daily]
    return (f"INSERT INTO {MONTHLY[daily]} (month, {keys}, {', '.join(values)}) "
            f"SELECT substr(day, 1, 7), {keys}, {', '.join(f'SUM({v})' for v in values)} FROM {daily} "
            f"GROUP BY substr(day, 1, 7), {keys}")


_MONTHS_BACKFILL = ";\n".join(_months_from_days(daily) for daily in MONTHLY)

# Migration 0004's columns, the same on both engines (postgres_ddl widens the integers as it does for every string
# migration), and each engine's way to fill them from the payload of rows stored before.
_NUMBERS_COLUMNS = """
        ALTER TABLE records ADD COLUMN ref_checkin TEXT;
        ALTER TABLE records ADD COLUMN print_copy INTEGER;
        ALTER TABLE records ADD COLUMN vaccine TEXT;
        ALTER TABLE records ADD COLUMN dose_number INTEGER;
        ALTER TABLE records ADD COLUMN lot TEXT;
        ALTER TABLE records ADD COLUMN desk TEXT;
        ALTER TABLE records ADD COLUMN called TEXT;            -- the call's stamp (JSON), until wait_s is known
        ALTER TABLE records ADD COLUMN wait_s INTEGER;
        CREATE INDEX records_ref_checkin ON records (ref_checkin, stream);
        CREATE INDEX records_site_hour ON records (site, day, hour);
        """
_NUMBERS_FILL_SQLITE = """
        UPDATE records SET ref_checkin = json_extract(payload, '$.checkin_id'),
                           print_copy = COALESCE(json_extract(payload, '$.copy'), 0)
            WHERE stream = 'print_events';
        UPDATE records SET ref_checkin = json_extract(payload, '$.checkin_id'),
                           vaccine = json_extract(payload, '$.vaccine.code'),
                           dose_number = json_extract(payload, '$.dose_number'),
                           lot = json_extract(payload, '$.lot')
            WHERE stream = 'vaccinations';
        """
_NUMBERS_FILL_POSTGRESQL = """
        UPDATE records SET ref_checkin = (payload::jsonb ->> 'checkin_id'),
                           print_copy = COALESCE((payload::jsonb ->> 'copy')::BIGINT, 0)
            WHERE stream = 'print_events';
        UPDATE records SET ref_checkin = (payload::jsonb ->> 'checkin_id'),
                           vaccine = (payload::jsonb -> 'vaccine' ->> 'code'),
                           dose_number = (payload::jsonb ->> 'dose_number')::BIGINT,
                           lot = (payload::jsonb ->> 'lot')
            WHERE stream = 'vaccinations';
        """

MIGRATIONS: list[tuple[str, str | dict]] = [
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
    (
        "0004_numbers",
        # The facts leaders' numbers group by, out of the payload into columns (plain SQL on SQLite and PostgreSQL):
        # which check-in a vaccination or print belongs to (people, not printouts), which copy a print was, the
        # dose's vaccine, number and lot, the desk, and the wait from check-in to the first call (seconds).
        # Rows stored before this migration are filled from their payload, with each engine's JSON functions.
        {"sqlite": _NUMBERS_COLUMNS + _NUMBERS_FILL_SQLITE,
         "postgresql": postgres_ddl(_NUMBERS_COLUMNS) + _NUMBERS_FILL_POSTGRESQL},
    ),
    (
        "0005_summaries",
        # Leaders' pages read a month of 500 kiosks: counting millions of records per request is too slow, so each
        # batch brings the summaries up to date (CentralStore._refresh, _bump) and pages sum these.
        # Filled here from the records already stored (the SQL as of this migration).
        f"""
        CREATE TABLE site_hours (
            day TEXT NOT NULL, site TEXT NOT NULL, hour INTEGER NOT NULL,
            checked_in INTEGER NOT NULL, vaccinated INTEGER NOT NULL, certificates INTEGER NOT NULL,
            tickets INTEGER NOT NULL, certificate_reprints INTEGER NOT NULL, ticket_reprints INTEGER NOT NULL,
            corrections INTEGER NOT NULL, desk_hours INTEGER NOT NULL, desk_vaccinated INTEGER NOT NULL,
            PRIMARY KEY (day, site, hour)
        );
        CREATE TABLE site_waits (
            day TEXT NOT NULL, site TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (day, site, bucket)
        );
        CREATE TABLE site_doses (
            day TEXT NOT NULL, site TEXT NOT NULL, vaccine TEXT NOT NULL, dose_number INTEGER NOT NULL,
            lot TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (day, site, vaccine, dose_number, lot)
        );
        {_BACKFILL};
        """,
    ),
    (
        "0006_site_days",
        # The site-hours summed per day: a month's pages read 30 rows per site instead of 300.
        f"""
        CREATE TABLE site_days (
            day TEXT NOT NULL, site TEXT NOT NULL,
            checked_in INTEGER NOT NULL, vaccinated INTEGER NOT NULL, certificates INTEGER NOT NULL,
            tickets INTEGER NOT NULL, certificate_reprints INTEGER NOT NULL, ticket_reprints INTEGER NOT NULL,
            corrections INTEGER NOT NULL, desk_hours INTEGER NOT NULL, desk_vaccinated INTEGER NOT NULL,
            PRIMARY KEY (day, site)
        );
        {_DAYS_FROM_HOURS.format(where="1 = 1")};
        """,
    ),
]

MIGRATIONS.append((
    "0007_health_once",
    # A health report is applied once whatever the number of aggregators (issue 23): its key is the kiosk, the
    # boot and the monotonic stamp it was sent with. Rows stored before have no key (NULLs never collide).
    """
    ALTER TABLE health_history ADD COLUMN boot_id TEXT;
    ALTER TABLE health_history ADD COLUMN mono REAL;
    CREATE UNIQUE INDEX health_history_once ON health_history (kiosk, boot_id, mono);
    """,
))

MIGRATIONS.append((
    "0008_site_months",
    # The daily summaries rolled up per month (key YYYY-MM), kept by the same increments in the same transaction:
    # a range reads its whole months here and only the days at its edges from the daily tables (central.spans).
    # Same one-minute wait buckets as site_waits, so a range's percentiles are exactly those of its days.
    # Filled here from the daily summaries already stored.
    f"""
    CREATE TABLE site_months (
        month TEXT NOT NULL, site TEXT NOT NULL,
        checked_in INTEGER NOT NULL, vaccinated INTEGER NOT NULL, certificates INTEGER NOT NULL,
        tickets INTEGER NOT NULL, certificate_reprints INTEGER NOT NULL, ticket_reprints INTEGER NOT NULL,
        corrections INTEGER NOT NULL, desk_hours INTEGER NOT NULL, desk_vaccinated INTEGER NOT NULL,
        PRIMARY KEY (month, site)
    );
    CREATE TABLE site_waits_month (
        month TEXT NOT NULL, site TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (month, site, bucket)
    );
    CREATE TABLE site_doses_month (
        month TEXT NOT NULL, site TEXT NOT NULL, vaccine TEXT NOT NULL, dose_number INTEGER NOT NULL,
        lot TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (month, site, vaccine, dose_number, lot)
    );
    {_MONTHS_BACKFILL};
    """,
))
# Health history in tiers (migration 0009): raw reports for a day, then per kiosk and minute, then per kiosk and hour
# (docs/central.md "Health history"). Each figure of a report has one way to summarise it, the way that keeps what
# an operator looks for: the worst backlog, temperature, memory and disk, the slowest camera, "the printer was
# offline at some point" (min of 0/1), and the average load. The same table drives the SQL roll-ups and the page's
# summary of the rows not rolled up yet (summarise), so both say the same.
HEALTH_FIGURES = {"outbox_backlog": "max", "outbox_oldest_s": "max", "cpu_temp_c": "max", "load": "avg",
                  "mem_used_pct": "max", "disk_used_pct": "max", "camera_fps": "min", "printer_online": "min"}
_TIER_FIGURES = """n INTEGER NOT NULL,                    -- reports summed up
        outbox_backlog INTEGER, outbox_oldest_s REAL, cpu_temp_c REAL, load REAL, mem_used_pct REAL,
        disk_used_pct REAL, camera_fps REAL, printer_online INTEGER"""
_RAW_COLUMNS = ("kiosk, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, mem_used_pct, disk_used_pct, "
                "camera_fps, printer_online, boot_id, mono")
_HEALTH_TIERS_SQLITE = f"""
    ALTER TABLE health_history ADD COLUMN utc_day TEXT;   -- the UTC day of received: PostgreSQL's partition key
    -- The report's full text was 85% of a row (about 1 kB): 340 GB for a day and a half of the country. The figures
    -- are columns; the latest full report of each kiosk stays in kiosks.health.
    ALTER TABLE health_history DROP COLUMN payload;
    UPDATE health_history SET utc_day = substr(received, 1, 10);
    DROP INDEX health_history_kiosk;
    CREATE INDEX health_history_kiosk ON health_history (kiosk, received);
    CREATE INDEX health_history_received ON health_history (received);
    CREATE TABLE health_minutes (
        kiosk TEXT NOT NULL, utc_day TEXT NOT NULL,
        bucket TEXT NOT NULL,                  -- the minute's start, ISO 8601 UTC as `received`
        {_TIER_FIGURES},
        PRIMARY KEY (kiosk, utc_day, bucket)
    );
    CREATE INDEX health_minutes_bucket ON health_minutes (bucket);
    CREATE TABLE health_hours (
        kiosk TEXT NOT NULL, bucket TEXT NOT NULL, {_TIER_FIGURES},
        PRIMARY KEY (kiosk, bucket)
    );
    CREATE INDEX health_hours_bucket ON health_hours (bucket);
    CREATE TABLE health_tiers (
        tier TEXT PRIMARY KEY,                 -- raw | minute | hour
        rolled_until TEXT,                     -- minute, hour: every bucket before this is complete (NULL: none yet)
        kept_from TEXT                         -- the tier holds everything from this time on (NULL: from the start)
    );
    INSERT INTO health_tiers (tier) VALUES ('raw'), ('minute'), ('hour');
    """
# PostgreSQL: the same tiers (the payload not kept either), the raw reports and the minutes partitioned by UTC day (declarative range partitions), so that a day
# too old is dropped as one file. The table is rebuilt: the rows of 0007 move into one partition per day they have
# (created by the DO block, named as base.pgstore.partition_name names them). A unique key must contain the
# partition key, so 0007's (kiosk, boot_id, mono) becomes (kiosk, boot_id, mono, utc_day), and CentralStore._health
# looks the other days up before inserting (a report received again after midnight).
_HEALTH_TIERS_POSTGRESQL = postgres_ddl(f"""
    ALTER TABLE health_history RENAME TO health_history_0007;
    CREATE SEQUENCE health_history_ids;
    SELECT setval('health_history_ids', COALESCE((SELECT max(id) FROM health_history_0007), 0) + 1, false);
    CREATE TABLE health_history (
        id INTEGER NOT NULL DEFAULT nextval('health_history_ids'),
        kiosk TEXT NOT NULL, received TEXT NOT NULL,
        outbox_backlog INTEGER, outbox_oldest_s REAL, cpu_temp_c REAL, load REAL, mem_used_pct REAL,
        disk_used_pct REAL, camera_fps REAL, printer_online INTEGER,
        boot_id TEXT, mono REAL,
        utc_day TEXT COLLATE "C" NOT NULL
    ) PARTITION BY RANGE (utc_day);
    ALTER SEQUENCE health_history_ids OWNED BY health_history.id;
    DO '
    DECLARE d text;
    BEGIN
        FOR d IN SELECT DISTINCT substr(received, 1, 10) FROM health_history_0007 LOOP
            EXECUTE format(''CREATE TABLE %I PARTITION OF health_history FOR VALUES FROM (%L) TO (%L)'',
                           ''health_history_p'' || replace(d, ''-'', ''''), d, (d::date + 1)::text);
        END LOOP;
    END';
    INSERT INTO health_history (id, {_RAW_COLUMNS}, utc_day)
        SELECT id, {_RAW_COLUMNS}, substr(received, 1, 10) FROM health_history_0007;
    DROP TABLE health_history_0007;
    CREATE UNIQUE INDEX health_history_once ON health_history (kiosk, boot_id, mono, utc_day);
    CREATE INDEX health_history_kiosk ON health_history (kiosk, received);
    CREATE INDEX health_history_received ON health_history (received);
    CREATE TABLE health_minutes (
        kiosk TEXT NOT NULL, utc_day TEXT COLLATE "C" NOT NULL, bucket TEXT NOT NULL, {_TIER_FIGURES},
        PRIMARY KEY (kiosk, utc_day, bucket)
    ) PARTITION BY RANGE (utc_day);
    CREATE INDEX health_minutes_bucket ON health_minutes (bucket);
    CREATE TABLE health_hours (
        kiosk TEXT NOT NULL, bucket TEXT NOT NULL, {_TIER_FIGURES},
        PRIMARY KEY (kiosk, bucket)
    );
    CREATE INDEX health_hours_bucket ON health_hours (bucket);
    CREATE TABLE health_tiers (tier TEXT PRIMARY KEY, rolled_until TEXT, kept_from TEXT);
    INSERT INTO health_tiers (tier) VALUES ('raw'), ('minute'), ('hour');
    """)

MIGRATIONS.append(("0009_health_tiers", {"sqlite": _HEALTH_TIERS_SQLITE, "postgresql": _HEALTH_TIERS_POSTGRESQL}))

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


@dataclass
class _Sums:
    """The summary counts a batch adds, summed in memory and written in one statement per table before the batch
    commits (CentralStore._write_sums). Every change to a summary is an increment, and what a record adds is decided
    from `records`, never from the summaries, so the order of the increments does not matter; one upsert per key
    instead of several per record is what lets a backlog drain (docs/performance.md, "The resend backoff")."""

    # (day, site, hour) → {column: n}; (period, day or month, site, vaccine, dose_number, lot) → n; (period, day or
    # month, site, bucket) → n
    hours: collections.defaultdict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    doses: collections.Counter = field(default_factory=collections.Counter)
    waits: collections.Counter = field(default_factory=collections.Counter)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class _Before:
    """The records stored before a batch that decide what its records count (CentralStore._count), read in a few
    statements, then kept up to date with the batch's new records in its order."""

    done: set = field(default_factory=set)  # (check-in id, "ticket" | "certificate") printed at least once
    checkins: dict = field(default_factory=dict)  # check-in id → its row (day, site, hour, sent_wall, mono, boot_id)
    doses: dict = field(default_factory=dict)  # check-in id → its vaccination rows (record_id, day, ..., wait_s)
    desks: set = field(default_factory=set)  # (site, day, hour, desk) with a vaccination

    @classmethod
    def read(cls, db, rows: list[dict]) -> "_Before":
        seen = cls()
        refs = sorted({r["record_id"] for r in rows if r["stream"] == "checkins"}
                      | {r["ref_checkin"] for r in rows if r["ref_checkin"]})
        for chunk in _chunks(refs, 500):
            marks = ", ".join("?" * len(chunk))
            seen.done.update((r[0], r[1]) for r in db.conn.execute(
                "SELECT ref_checkin, print_kind FROM records WHERE stream = 'print_events' AND print_state = 'done' "
                f"AND ref_checkin IN ({marks})", chunk).fetchall())
            for r in db.conn.execute("SELECT record_id, day, site, hour, sent_wall, mono, boot_id FROM records "
                                     f"WHERE stream = 'checkins' AND record_id IN ({marks})", chunk).fetchall():
                seen.checkins[r[0]] = dict(zip(("record_id", "day", "site", "hour", "sent_wall", "mono", "boot_id"),
                                               r))
            for r in db.conn.execute("SELECT record_id, ref_checkin, day, site, hour, called, wait_s FROM records "
                                     f"WHERE stream = 'vaccinations' AND ref_checkin IN ({marks}) ORDER BY record_id",
                                     chunk).fetchall():
                seen.doses.setdefault(r[1], []).append(
                    dict(zip(("record_id", "ref_checkin", "day", "site", "hour", "called", "wait_s"), r)))
        at_desks = {(r["site"], r["day"]) for r in rows if r["stream"] == "vaccinations" and r["desk"] is not None}
        for site, day in sorted(at_desks):
            seen.desks.update(tuple(r) for r in db.conn.execute(
                "SELECT DISTINCT site, day, hour, desk FROM records WHERE site = ? AND day = ? "
                "AND stream = 'vaccinations' AND desk IS NOT NULL", (site, day)).fetchall())
        return seen


def _facts(stream: str, p: dict) -> dict:
    """The columns (migration 0004) a record fills besides the envelope's (base.protocol has checked the fields)."""
    if stream == "print_events":
        return {"print_kind": p.get("kind"), "print_state": p.get("state"), "ref_checkin": p.get("checkin_id"),
                "print_copy": p.get("copy") or 0}
    if stream == "vaccinations":
        vaccine = p.get("vaccine")
        code = vaccine.get("code") if isinstance(vaccine, dict) else None
        called = p.get("called")
        return {"ref_checkin": p.get("checkin_id"), "vaccine": str(code)[:64] if code else None,
                "dose_number": p.get("dose_number"), "lot": str(p.get("lot") or "")[:64] or None,
                "desk": p.get("desk"), "called": json.dumps(called) if called else None}
    return {}


def _epoch(wall: str) -> float:
    return dt.datetime.fromisoformat(wall).timestamp()


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="milliseconds")


HEALTH_TIERS = ("raw", "minute", "hour")  # finest first
# tier → (its table, the finer tier it is rolled up from, that tier's table and time column, ISO prefix of a bucket)
_ROLLUPS = {"minute": ("health_minutes", "raw", "health_history", "received", 16),
            "hour": ("health_hours", "minute", "health_minutes", "bucket", 13)}
_BUCKET_SUFFIX = {16: ":00.000+00:00", 13: ":00:00.000+00:00"}
# A minute is rolled up once it ended this long ago: a batch's rows carry the time its transaction started (taken
# under the write lock, see apply), so only a batch still committing, or an aggregator whose clock is behind, can
# write into a minute just past; two minutes is far beyond either (NTP keeps clocks within milliseconds).
ROLLUP_LAG_S = 120.0
# Source rows per roll-up transaction, as time: 5 minutes of 20,000 kiosks at 10 s is 600,000 raw rows (about a
# second of work, docs/performance.md), an hour of minutes 1.2 million small rows.
ROLLUP_CHUNK_S = {"minute": 300.0, "hour": 3600.0}
PARTITIONS_AHEAD_DAYS = 2  # PostgreSQL: today's and the next days' partitions exist before a report needs them
HEALTH_ROWS_MAX = 10_000  # rows of one kiosk's health a page reads at most: a day of raw reports at 10 s


@dataclass
class HealthSeries:
    """A kiosk's health over a period at one resolution: `tier` raw (each report), minute or hour; `rows` oldest
    first, with `received` (the report's time, or the start of the minute or hour), `n` (reports summed up) and the
    figures of HEALTH_FIGURES."""

    tier: str
    rows: list[dict]


def summarise(rows: list[dict], prefix: int) -> list[dict]:
    """Rows (oldest first) summed up per bucket (`prefix` characters of `received`: 16 a minute, 13 an hour) the
    way the SQL roll-ups sum them (HEALTH_FIGURES)."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["received"][:prefix], []).append(row)
    summed = []
    for key, group in out.items():
        row = {"received": key + _BUCKET_SUFFIX[prefix], "n": sum(r.get("n", 1) for r in group)}
        for column, how in HEALTH_FIGURES.items():
            known = [(r[column], r.get("n", 1)) for r in group if r[column] is not None]
            if not known:
                row[column] = None
            elif how == "avg":
                row[column] = sum(v * n for v, n in known) / sum(n for _, n in known)
            else:
                row[column] = (max if how == "max" else min)(v for v, _ in known)
        summed.append(row)
    return summed


def _rollup_sql(tier: str) -> str:
    """One chunk of a roll-up: the buckets of [?, ?) (UTC days ? to ?, for partition pruning) recomputed from the
    finer tier and written over whatever they held, so running it twice, or after a crash, gives the same rows."""
    table, _finer, source, column, prefix = _ROLLUPS[tier]
    key = f"substr({column}, 1, {prefix})"
    if source == "health_history":  # each source row is one report
        n = "COUNT(*)"
        figures = [f"{how.upper()}({c})" for c, how in HEALTH_FIGURES.items()]
    else:  # each source row sums up n reports
        n = "CAST(SUM(n) AS BIGINT)"
        figures = [f"SUM({c} * n) / CAST(SUM(CASE WHEN {c} IS NOT NULL THEN n END) AS DOUBLE PRECISION)"
                   if how == "avg" else f"{how.upper()}({c})" for c, how in HEALTH_FIGURES.items()]
    day = ("utc_day, ", "utc_day, ") if table == "health_minutes" else ("", "")
    keys = f"kiosk, {day[0]}bucket"
    columns = ", ".join(HEALTH_FIGURES)
    return (f"INSERT INTO {table} (kiosk, {day[0]}bucket, n, {columns}) "
            f"SELECT kiosk, {day[1]}{key} || '{_BUCKET_SUFFIX[prefix]}', {n}, {', '.join(figures)} "
            f"FROM {source} WHERE {column} >= ? AND {column} < ? AND utc_day >= ? AND utc_day <= ? "
            f"GROUP BY kiosk, {day[1]}{key} "
            f"ON CONFLICT ({keys}) DO UPDATE SET n = excluded.n, "
            + ", ".join(f"{c} = excluded.{c}" for c in HEALTH_FIGURES) + " RETURNING n")


def _floor(wall: str, prefix: int) -> str:
    return wall[:prefix] + _BUCKET_SUFFIX[prefix]


class CentralStore:
    def __init__(self, location: str | Path, utc_offset_hours: float = 7.0,
                 clock: Callable[[], float] = time.time):
        """`location`: central.db's path, or a postgresql:// URL (central.config.Config.store_location); `clock`:
        epoch seconds, for the time each batch is received at and the health roll-ups and retention."""
        self._store = open_store(location, MIGRATIONS, "central")
        self.path = self._store.path
        self.tz = dt.timezone(dt.timedelta(hours=utc_offset_hours))
        self.retried = 0  # transactions PostgreSQL aborted and apply ran again
        self.clock = clock
        self._partitions_ready: set[tuple[str, str]] = set()  # (table, UTC day) known to exist (PostgreSQL)

    def close(self) -> None:
        self._store.close()

    def today(self) -> str:
        return dt.datetime.now(self.tz).date().isoformat()

    def _local(self, wall: str) -> tuple[str, int]:
        local = dt.datetime.fromisoformat(wall).astimezone(self.tz)
        return local.date().isoformat(), local.hour

    # -- writes ------------------------------------------------------------------------------------------------
    APPLY_ATTEMPTS = 5

    def apply(self, batch: list[Inbound], rejects: dict[str, int] | None = None) -> Applied:
        """`_apply_once`, again when PostgreSQL aborted it as one of two transactions waiting for each other."""
        for attempt in range(1, self.APPLY_ATTEMPTS + 1):
            try:
                return self._apply_once(batch, rejects)
            except self._store.retryable:
                self.retried += 1
                if attempt == self.APPLY_ATTEMPTS:
                    raise

    def _apply_once(self, batch: list[Inbound], rejects: dict[str, int] | None) -> Applied:
        """Commit a batch of validated messages (and reject counts) in one durable transaction.

        Kiosk rows, health, status, queue and rejects go in a few multi-row statements per batch (on PostgreSQL
        each statement is a round trip), written in kiosk order. Records go in one statement too (_records): what
        each adds to the summaries depends on the records before it, so that is decided in memory in the batch's
        order (_Before) and summed (_Sums), then written once, before any refresh. Offsets are learned before the
        records that need them. Of a kiosk's status and queue messages in one batch the last one is applied, which
        leaves the same state as applying each in turn (they carry the whole latest state, and share the batch's
        time)."""
        result = Applied()
        last: dict[str, dict[str, Inbound]] = {"status": {}, "queue": {}}
        health, records = [], []
        for msg in batch:
            if msg.leaf in last:
                last[msg.leaf][msg.kiosk] = msg
            elif msg.leaf == "health":
                health.append(msg)
            elif msg.leaf == "records":
                records.append(msg)
        touched: set[tuple[str, str, int]] = set()  # (day, site, hour) a clock correction changed
        sums = _Sums()
        with self._store.transaction(concurrent=True) as db:
            # A record's summary counts depend on the site's rows stored before it (the print that makes a check-in
            # a ticket, the first dose of a desk in an hour): batches that share a site commit one after the other,
            # each seeing what the one before committed. First thing, in one order: no cycle of waits.
            # Health batches take the "health" lock: a report received again across midnight is looked up in the
            # other day's partition before it is inserted, which only holds if no other batch inserts it meanwhile.
            self._store.lock(db, self._summary_sites(db, batch, records) | ({"health"} if health else set()))
            # The time of the batch, taken once this transaction holds its locks: a batch that waited for them does
            # not write into a minute the health roll-up may have summed up meanwhile (ROLLUP_LAG_S).
            now = _iso(self.clock())
            kiosks = {m.kiosk: m.site for m in batch}
            self._store.insert_many(
                db, "kiosks (kiosk, site, state, state_since, last_seen)",
                [(k, site, "unknown", now, now) for k, site in sorted(kiosks.items())],
                "ON CONFLICT(kiosk) DO UPDATE SET site = excluded.site, last_seen = excluded.last_seen")
            learned = self._learn_offsets(db, batch, now)
            self._health(db, health, now)
            self._store.insert_many(
                db, "kiosks (kiosk, site, state, state_since, last_seen, boot_id, version)",
                [(m.kiosk, m.site, m.payload["state"], now, now, m.payload["boot_id"], m.payload.get("version"))
                 for _, m in sorted(last["status"].items())],
                "ON CONFLICT(kiosk) DO UPDATE SET state_since = CASE WHEN kiosks.state = excluded.state "
                "THEN kiosks.state_since ELSE excluded.state_since END, state = excluded.state, "
                "boot_id = excluded.boot_id, version = COALESCE(excluded.version, kiosks.version)")
            self._store.insert_many(
                db, "kiosks (kiosk, site, state, state_since, last_seen, queue, queue_day, queue_waiting, "
                    "queue_avg_wait_s)",
                [(m.kiosk, m.site, "unknown", now, now, json.dumps(m.payload, separators=(",", ":")),
                  m.payload["day"], m.payload["waiting"], m.payload.get("avg_wait_s"))
                 for _, m in sorted(last["queue"].items())],
                "ON CONFLICT(kiosk) DO UPDATE SET queue = excluded.queue, queue_day = excluded.queue_day, "
                "queue_waiting = excluded.queue_waiting, queue_avg_wait_s = excluded.queue_avg_wait_s")
            new = self._records(db, records, now, sums)
            for msg in records:
                fresh = msg.payload["record_id"] in new
                new.discard(msg.payload["record_id"])  # a second copy in the same batch is a duplicate
                result.new_records += fresh
                result.duplicates += not fresh
                result.acks.setdefault((msg.site, msg.kiosk), []).append(msg.payload["record_id"])
            for boot_id in sorted(learned):
                self._correct_boot(db, boot_id, touched, sums)
            self._write_sums(db, sums)  # before the refresh: it recomputes the site-hours a correction touched
            self._refresh(db, touched)
            self._store.insert_many(
                db, "rejects (reason, count, last)", [(r, n, now) for r, n in sorted((rejects or {}).items())],
                "ON CONFLICT(reason) DO UPDATE SET count = rejects.count + excluded.count, last = excluded.last")
        return result

    def _summary_sites(self, db, batch: list[Inbound], records: list[Inbound]) -> set[str]:
        """The sites whose summaries this batch may change: its records', and those of the kiosks whose boot it may
        teach an offset (that boot's unsynchronised records then move to their corrected hour)."""
        teaching = {m.payload["at"]["boot_id"]: m.site for m in batch
                    if isinstance(m.payload.get("at"), dict) and m.payload["at"].get("clock_synced")}
        unknown = set(teaching) - set(self._offsets(db, set(teaching)))
        return {m.site for m in records} | {teaching[b] for b in unknown}

    def _learn_offsets(self, db, batch: list[Inbound], now: str) -> set[str]:
        """Remember each boot's clock offset from its synchronised stamps; returns the boots learned just now."""
        first: dict[str, tuple] = {}
        for msg in batch:
            stamp = msg.payload.get("at")
            if stamp and stamp["clock_synced"] and stamp["boot_id"] not in first:
                first[stamp["boot_id"]] = (stamp["boot_id"], msg.kiosk, _epoch(stamp["wall"]) - stamp["mono"], now)
        rows = self._store.insert_many(
            db, "boots (boot_id, kiosk, offset_s, learned)", [first[b] for b in sorted(first)],
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
                         None if online is None else int(online), *key[1:], now[:10]))
        if rows and self._store.partitioned:
            self._ensure_partitions(db, "health_history", [now[:10]])
            # The unique key holds within a day's partition only: a report received again after midnight (a
            # redelivery to another aggregator) is found in the days before. Batches with health reports take the
            # "health" lock (apply), so no other batch can add the same report between this look-up and the insert.
            seen = self._store.existing(db, "health_history", ("kiosk", "boot_id", "mono"), sorted(texts))
            rows = [r for r in rows if (r[0], r[10], r[11]) not in seen]
        new = {tuple(r) for r in self._store.insert_many(
            db, f"health_history ({_RAW_COLUMNS}, utc_day)", sorted(rows, key=lambda r: r[0]),
            "ON CONFLICT DO NOTHING RETURNING kiosk, boot_id, mono")}
        # A report applied already (by this aggregator or another) changes nothing; of the new ones, the latest of
        # each kiosk becomes its health. A health message proves the kiosk is connected, even if its retained
        # "online" was missed.
        latest = {}
        for msg in messages:
            key = (msg.kiosk, msg.payload["at"]["boot_id"], msg.payload["at"]["mono"])
            if key in new:
                latest[msg.kiosk] = (msg, texts[key])
        self._store.insert_many(
            db, "kiosks (kiosk, site, state, state_since, last_seen, health, health_at, version, boot_id)",
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

    def _offset(self, db, boot_id: str) -> float | None:
        return self._offsets(db, {boot_id}).get(boot_id)

    _HOUR_REFRESH = _summary_inserts("r.site = ? AND r.day = ? AND r.hour = ?")[0]

    _SUMMED = (*COUNTED, "desk_hours", "desk_vaccinated")

    def _write_sums(self, db, sums: _Sums) -> None:
        """The batch's counts into the site-hours, site-days and site-months, and its doses and waits into their
        day and month tables: one multi-row upsert per table, keys in order (the same order in every aggregator)."""
        hours = {k: c for k, c in sums.hours.items() if any(c.values())}
        days: collections.defaultdict = collections.defaultdict(collections.Counter)
        months: collections.defaultdict = collections.defaultdict(collections.Counter)
        for (day, site, _hour), counts in hours.items():
            days[day, site].update(counts)
            months[month_of(day), site].update(counts)
        for table, conflict, rows in (("site_hours", "day, site, hour", hours), ("site_days", "day, site", days),
                                      ("site_months", "month, site", months)):
            self._store.insert_many(
                db, f"{table} ({conflict}, {', '.join(self._SUMMED)})",
                [(*k, *(rows[k][c] for c in self._SUMMED)) for k in sorted(rows)],
                f"ON CONFLICT ({conflict}) DO UPDATE SET "
                + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in self._SUMMED))
        for period, suffix in (("day", ""), ("month", "_month")):
            doses = {k[1:]: n for k, n in sums.doses.items() if k[0] == period and n}
            waits = {k[1:]: n for k, n in sums.waits.items() if k[0] == period and n}
            self._store.insert_many(
                db, f"site_doses{suffix} ({period}, site, vaccine, dose_number, lot, n)",
                [(*k, doses[k]) for k in sorted(doses)],
                f"ON CONFLICT ({period}, site, vaccine, dose_number, lot) DO UPDATE SET n = site_doses{suffix}.n + "
                "excluded.n")
            self._store.insert_many(
                db, f"site_waits{suffix} ({period}, site, bucket, n)", [(*k, waits[k]) for k in sorted(waits)],
                f"ON CONFLICT ({period}, site, bucket) DO UPDATE SET n = site_waits{suffix}.n + excluded.n")

    def _refresh(self, db, touched: set[tuple[str, str, int]]) -> None:
        """Recompute the site-hours a clock correction changed (rare: the cost is one site-hour's records)."""
        for day, site, hour in sorted(touched):
            db.conn.execute("DELETE FROM site_hours WHERE day = ? AND site = ? AND hour = ?", (day, site, hour))
            db.conn.execute(self._HOUR_REFRESH, (site, day, hour))
        for day, site in sorted({(day, site) for day, site, _hour in touched}):
            # The site-month loses the day as it was and gains it as it is now.
            db.conn.execute(self._DAY_INTO_MONTH.format(sign="-"), (day, site))
            db.conn.execute("DELETE FROM site_days WHERE day = ? AND site = ?", (day, site))
            db.conn.execute(_DAYS_FROM_HOURS.format(where="day = ? AND site = ?"), (day, site))
            db.conn.execute(self._DAY_INTO_MONTH.format(sign=""), (day, site))

    _DAY_INTO_MONTH = (f"INSERT INTO site_months (month, site, {', '.join(_SUMMED)}) SELECT substr(day, 1, 7), site, "
                       + ", ".join(f"{{sign}}{c}" for c in _SUMMED) + " FROM site_days WHERE day = ? AND site = ? "
                       "ON CONFLICT (month, site) DO UPDATE SET "
                       + ", ".join(f"{c} = site_months.{c} + excluded.{c}" for c in _SUMMED))

    @staticmethod
    def _bump(sums: _Sums, day: str, site: str, dose: tuple | None, wait_s: int | None, by: int) -> None:
        """Add `by` to a vaccination's dose row and (once its wait is known) its wait bucket, of its day and of its
        month."""
        for period, key in (("day", day), ("month", month_of(day))):
            if dose is not None:
                sums.doses[period, key, site, dose[0] or "?", dose[1] or 0, dose[2] or "?"] += by
            if wait_s is not None:
                sums.waits[period, key, site, wait_s // WAIT_BUCKET_S] += by

    _RECORD_COLUMNS = ("record_id", "stream", "site", "kiosk", "day", "hour", "at_wall", "sent_wall", "mono",
                       "boot_id", "clock", "received", "payload", "print_kind", "print_state", "ref_checkin",
                       "print_copy", "vaccine", "dose_number", "lot", "desk", "called")

    def _record_row(self, db, msg: Inbound, now: str) -> dict:
        p, at = msg.payload, msg.payload["at"]
        wall, clock = at["wall"], "synced"
        if not at["clock_synced"]:
            offset = self._offset(db, at["boot_id"])
            wall, clock = (_iso(offset + at["mono"]), "corrected") if offset is not None else (wall, "unsynced")
        day, hour = self._local(wall)
        row = dict.fromkeys(self._RECORD_COLUMNS)
        row.update(record_id=p["record_id"], stream=msg.stream, site=msg.site, kiosk=msg.kiosk, day=day, hour=hour,
                   at_wall=wall, sent_wall=at["wall"], mono=at["mono"], boot_id=at["boot_id"], clock=clock,
                   received=now, payload=json.dumps(p, ensure_ascii=False, separators=(",", ":")),
                   **_facts(msg.stream, p))
        row["wait_s"] = None  # filled once the dose and its check-in are both in (_fill_wait)
        return row

    def _records(self, db, messages: list[Inbound], now: str, sums: _Sums) -> set[str]:
        """Store a batch's records in one statement and add what each new one counts; returns the new ids.

        What a record counts depends on the records before it (the print that makes a check-in a ticket, the first
        dose of a desk in an hour, the check-in a dose's wait starts at): those of the site stored before the batch
        are read first, in a few statements (_Before), and the batch's own are added to that picture one by one in
        the batch's order, which gives the counts one insert and a few look-ups per record used to give."""
        rows, ids = [], set()
        for msg in messages:
            if msg.payload["record_id"] not in ids:  # a second copy in one batch: the first one is the record
                ids.add(msg.payload["record_id"])
                rows.append(self._record_row(db, msg, now))
        if not rows:
            return set()
        before = _Before.read(db, rows)
        new = {r[0] for r in self._store.insert_many(
            db, f"records ({', '.join(self._RECORD_COLUMNS)})",
            [tuple(row[c] for c in self._RECORD_COLUMNS) for row in rows],
            "ON CONFLICT(record_id) DO NOTHING RETURNING record_id")}
        waits: dict[str, int] = {}
        for row in rows:
            if row["record_id"] in new:
                self._count(before, row, sums, waits)
        for chunk in _chunks(sorted(waits), 400):
            db.conn.execute("UPDATE records SET wait_s = CASE record_id " + "WHEN ? THEN ? " * len(chunk) + "END "
                            f"WHERE record_id IN ({', '.join('?' * len(chunk))})",
                            (*(v for rid in chunk for v in (rid, waits[rid])), *chunk))
        return new

    def _count(self, before: "_Before", row: dict, sums: _Sums, waits: dict[str, int]) -> None:
        """What one new record adds to the site-hours: itself, and the person its print or dose completes (a
        certificate or ticket is counted once per person, under the dose's or check-in's own hour); then it joins
        `before` for the records after it."""
        stream, rid, ref = row["stream"], row["record_id"], row["ref_checkin"]
        key = (row["day"], row["site"], row["hour"])
        if stream == "checkins":
            sums.hours[key].update({"checked_in": 1, "tickets": 1 if (rid, "ticket") in before.done else 0})
            before.checkins[rid] = row
            self._fill_wait(before, rid, sums, waits)
        elif stream == "corrections":
            sums.hours[key].update({"corrections": 1})
        elif stream == "vaccinations":
            desk = row["desk"]
            at_desk = (row["site"], row["day"], row["hour"], desk)
            sums.hours[key].update({"vaccinated": 1, "certificates": 1 if (ref, "certificate") in before.done else 0,
                           "desk_vaccinated": 1 if desk is not None else 0,
                           "desk_hours": 1 if desk is not None and at_desk not in before.desks else 0})
            if desk is not None:
                before.desks.add(at_desk)
            self._bump(sums, row["day"], row["site"], (row["vaccine"], row["dose_number"], row["lot"]), None, 1)
            if ref:
                before.doses.setdefault(ref, []).append(row)
                self._fill_wait(before, ref, sums, waits)
        elif stream == "print_events" and row["print_state"] == "done":
            kind = row["print_kind"]
            if row["print_copy"] > 0:
                sums.hours[key].update({f"{kind}_reprints": 1})
            owner = before.checkins.get(ref) if kind == "ticket" else next(iter(before.doses.get(ref, [])), None)
            if owner is not None and (ref, kind) not in before.done:  # the first copy that came out: one more
                sums.hours[owner["day"], owner["site"], owner["hour"]].update(  # person with a paper
                    {"tickets" if kind == "ticket" else "certificates": 1})
            before.done.add((ref, kind))

    def _fill_wait(self, before: "_Before", checkin_id: str, sums: _Sums, waits: dict[str, int]) -> None:
        """Wait (check-in → first call) of a vaccination, once both its check-in and it have arrived, in either
        order. Within one boot from the monotonic clock (a wall clock set by NTP in between does not count)."""
        checkin = before.checkins.get(checkin_id)
        dose = next((d for d in before.doses.get(checkin_id, []) if d["wait_s"] is None and d["called"]), None)
        if checkin is None or dose is None:
            return
        called = json.loads(dose["called"])
        if called["boot_id"] == checkin["boot_id"]:
            wait = called["mono"] - checkin["mono"]
        else:
            wait = _epoch(called["wall"]) - _epoch(checkin["sent_wall"])
        dose["wait_s"] = waits[dose["record_id"]] = max(0, round(wait))
        self._bump(sums, dose["day"], dose["site"], None, dose["wait_s"], 1)

    def _correct_boot(self, db, boot_id: str, touched: set, sums: _Sums) -> None:
        offset = self._offset(db, boot_id)
        rows = db.conn.execute("SELECT record_id, mono, day, hour, site, stream, vaccine, dose_number, lot, wait_s "
                               "FROM records WHERE boot_id = ? AND clock = 'unsynced'", (boot_id,)).fetchall()
        for record_id, mono, old_day, old_hour, site, stream, vaccine, dose_number, lot, wait_s in rows:
            wall = _iso(offset + mono)
            day, hour = self._local(wall)
            # The record moves from one day's and hour's figures to another's.
            touched.update({(old_day, site, old_hour), (day, site, hour)})
            if stream == "vaccinations" and day != old_day:
                self._bump(sums, old_day, site, (vaccine, dose_number, lot), wait_s, -1)
                self._bump(sums, day, site, (vaccine, dose_number, lot), wait_s, 1)
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

    # -- health history in tiers ---------------------------------------------------------------------------------
    def roll_up_health(self, now: float | None = None, max_chunks: int = 1000) -> dict[str, int]:
        """Sum up the health reports of every complete minute into health_minutes, and complete hours of those into
        health_hours, one chunk (ROLLUP_CHUNK_S) per transaction; returns the source rows summed up per tier.

        Safe to run in every aggregator at once, and to interrupt: a chunk and the watermark that says it is done
        commit together (a crash rolls both back), a chunk rewrites its buckets rather than adding to them, and the
        watermark row is locked for the chunk, so a second roller waits and then takes the next chunk."""
        now = self.clock() if now is None else now
        done = {}
        for tier in ("minute", "hour"):
            done[tier] = 0
            for _ in range(max_chunks):
                rows = self._roll_up_chunk(tier, now)
                if rows is None:
                    break
                done[tier] += rows
        return done

    def _roll_up_chunk(self, tier: str, now: float) -> int | None:
        """One chunk of `tier`'s roll-up: the source rows it summed up, or None when nothing is complete to do."""
        table, finer, source, column, prefix = _ROLLUPS[tier]
        # Not under the write lock of apply (concurrent=True): ingest goes on while a chunk is summed up.
        with self._store.transaction(concurrent=True) as db:
            # Lock this tier's watermark row (a no-op update takes the row lock on both engines).
            db.conn.execute("UPDATE health_tiers SET rolled_until = rolled_until WHERE tier = ?", (tier,))
            marks = {r[0]: r[1] for r in db.conn.execute("SELECT tier, rolled_until FROM health_tiers").fetchall()}
            if tier == "minute":
                complete = _floor(_iso(now - ROLLUP_LAG_S), prefix)
            elif marks["minute"] is None:
                return None
            else:  # hours of minutes that are all rolled up
                complete = _floor(marks["minute"], prefix)
            start = marks[tier]
            first = db.conn.execute(f"SELECT MIN({column}) FROM {source} WHERE {column} >= ?",
                                    (start or "",)).fetchone()[0]
            if first is None or _floor(first, prefix) >= complete:
                if (start or "") < complete:  # no reports until `complete`, and none can come: done up to there
                    self._rolled(db, tier, complete)
                return None
            start = _floor(first, prefix)  # skip a stretch without reports (central was down)
            end = min(_floor(_iso(_epoch(start) + ROLLUP_CHUNK_S[tier]), prefix), complete)
            if self._store.partitioned and tier == "minute":
                days = {start[:10], _iso(_epoch(end) - 1)[:10]}
                self._ensure_partitions(db, table, sorted(days))
            summed = db.conn.execute(_rollup_sql(tier), (start, end, start[:10], end[:10])).fetchall()
            self._rolled(db, tier, end)
            return sum(r[0] for r in summed)

    def _rolled(self, db, tier: str, until: str) -> None:
        """The watermark: `tier` is complete before `until` (committed with the chunk that made it so)."""
        db.conn.execute("UPDATE health_tiers SET rolled_until = ? WHERE tier = ?", (until, tier))

    def prune_health(self, raw_days: float, minute_days: float, hour_days: float,
                     now: float | None = None) -> dict[str, dict]:
        """Keep each tier for its days ([central] health_*_days) and never drop what is not rolled up yet; make the
        partitions of the next days (PostgreSQL). Returns per tier what went: {"rows": n} or {"days": [...]} (a
        partition per UTC day dropped whole: there a tier keeps whole days, up to one day more than asked)."""
        now = self.clock() if now is None else now
        removed = {}
        with self._store.transaction() as db:
            if self._store.partitioned:
                ahead = [_iso(now + d * 86400)[:10] for d in range(PARTITIONS_AHEAD_DAYS + 1)]
                for table in ("health_history", "health_minutes"):
                    self._ensure_partitions(db, table, ahead)
            marks = {r[0]: r[1] for r in db.conn.execute("SELECT tier, rolled_until FROM health_tiers").fetchall()}
            for tier, table, column, days, rolled in (
                    ("raw", "health_history", "received", raw_days, marks["minute"]),
                    ("minute", "health_minutes", "bucket", minute_days, marks["hour"]),
                    ("hour", "health_hours", "bucket", hour_days, None)):
                cut = _iso(now - days * 86400)
                if tier != "hour":
                    cut = min(cut, rolled or "")
                if not cut:
                    removed[tier] = {"rows": 0}
                    continue
                if self._store.partitioned and tier != "hour":
                    gone = self._store.drop_day_partitions(db, table, cut[:10])
                    self._partitions_ready -= {(table, d) for d in gone}
                    removed[tier], cut = {"days": gone}, cut[:10] + "T00:00:00.000+00:00"
                else:
                    removed[tier] = {"rows": db.conn.execute(f"DELETE FROM {table} WHERE {column} < ?",
                                                             (cut,)).rowcount}
                db.conn.execute("UPDATE health_tiers SET kept_from = ? WHERE tier = ? "
                                "AND (kept_from IS NULL OR kept_from < ?)", (cut, tier, cut))
        return removed

    def _ensure_partitions(self, db, table: str, days: list[str]) -> None:
        missing = [d for d in days if (table, d) not in self._partitions_ready]
        if missing:
            self._store.ensure_day_partitions(db, table, missing)
            self._partitions_ready |= {(table, d) for d in missing}

    def health_tiers(self) -> dict[str, dict]:
        """tier → rolled_until (minute, hour: complete before it) and kept_from (holds everything since; None:
        since the first report)."""
        return {r["tier"]: r for r in self._store.query("SELECT tier, rolled_until, kept_from FROM health_tiers")}

    # -- reads -------------------------------------------------------------------------------------------------
    def fleet(self) -> list[dict]:
        """Every kiosk with its site's place and its latest health decoded (None before the first).

        `silent_s` (seconds since any message) lets a reader distrust an "online" that the broker could not turn
        into "lost": a broker restarted without persistence forgets the Last Will of a kiosk that died meanwhile."""
        return self._fleet_rows("TRUE", ())

    def _fleet_rows(self, where: str, params: tuple) -> list[dict]:
        rows = self._store.query(
            "SELECT k.*, s.name AS site_name, s.district, s.province FROM kiosks k LEFT JOIN sites s "
            f"ON s.site = k.site WHERE {where} ORDER BY k.site, k.kiosk", params)
        now = dt.datetime.now(dt.timezone.utc).timestamp()
        for row in rows:
            row["health"] = json.loads(row["health"]) if row["health"] else None
            row["queue"] = json.loads(row["queue"]) if row["queue"] else None
            row["silent_s"] = round(max(0.0, now - _epoch(row["last_seen"])), 1)
        return rows

    def kiosk(self, kiosk: str) -> dict | None:
        """One kiosk as fleet() has it (one row read, not the country's)."""
        return next(iter(self._fleet_rows("k.kiosk = ?", (kiosk,))), None)

    def health_history(self, kiosk: str, limit: int = 120, since: str | None = None,
                       until: str | None = None) -> list[dict]:
        """The latest `limit` health rows of a kiosk (received in [since, until) if given, ISO UTC), oldest first
        (for small charts); payload not included."""
        where, params = "kiosk = ?", [kiosk]
        if since:
            where, params = where + " AND received >= ?", params + [since]
        if until:
            where, params = where + " AND received < ?", params + [until]
        rows = self._store.query(
            "SELECT id, received, outbox_backlog, outbox_oldest_s, cpu_temp_c, load, mem_used_pct, disk_used_pct, "
            f"camera_fps, printer_online FROM health_history WHERE {where} ORDER BY received DESC, id DESC LIMIT ?",
            (*params, limit))
        return rows[::-1]

    def health_series(self, kiosk: str, since: str, until: str, limit: int = HEALTH_ROWS_MAX) -> HealthSeries:
        """A kiosk's health in [since, until) (ISO UTC) from the finest tier that still holds all of it (raw reports
        for the last day, minutes for the week, hours for the month with the defaults); of a coarser tier, the
        buckets not rolled up yet are summed up here from the finer one. The latest `limit` rows."""
        kept = self.health_tiers()
        tier = next((t for t in HEALTH_TIERS if kept[t]["kept_from"] is None or kept[t]["kept_from"] <= since),
                    HEALTH_TIERS[-1])
        return HealthSeries(tier, self._tier_rows(tier, kiosk, since, until, kept, limit)[-limit:])

    def _tier_rows(self, tier: str, kiosk: str, since: str, until: str, kept: dict, limit: int) -> list[dict]:
        if tier == "raw":
            return self.health_history(kiosk, limit, since, until)
        table, finer, _source, _column, prefix = _ROLLUPS[tier]
        rolled = kept[tier]["rolled_until"] or since
        rows = self._store.query(
            f"SELECT bucket AS received, n, {', '.join(HEALTH_FIGURES)} FROM {table} WHERE kiosk = ? "
            "AND bucket >= ? AND bucket < ? ORDER BY bucket DESC LIMIT ?", (kiosk, since, min(until, rolled), limit))
        rows.reverse()
        if max(since, rolled) < until:
            rows += summarise(self._tier_rows(finer, kiosk, max(since, rolled), until, kept, limit), prefix)
        return rows

    COUNTED = COUNTED
    WAIT_BUCKET_S = WAIT_BUCKET_S
    # CAST: PostgreSQL sums BIGINTs as NUMERIC (a Decimal, which JSON would turn into a string).
    _SUMS = ", ".join(f"CAST(SUM(h.{c}) AS BIGINT) AS {c}" for c in COUNTED)

    def counts(self, level: str = "site", day: str | None = None, to: str | None = None) -> list[dict]:
        """Today's (or `day`'s, or the days `day`..`to`'s) totals per site, district or province, with people
        waiting now and average wait (the queue of the last day, as the kiosks last reported it).

        Keys: the level's name (`site`/`district`/`province`), checked_in, vaccinated, certificates, tickets,
        certificate_reprints, ticket_reprints, corrections, waiting, avg_wait_s. Sites unknown to the registry have
        district/province '?'."""
        if level not in ("site", "district", "province"):
            raise ValueError(f"unknown level {level!r}")
        day = day or self.today()
        to = to or day
        key = "h.site" if level == "site" else f"COALESCE(s.{level}, '?')"
        kkey = "k.site" if level == "site" else f"COALESCE(s.{level}, '?')"
        rows, params = self._covering("site_days", day, to)
        totals = self._store.query(
            f"SELECT {key} AS key, {self._SUMS} FROM ({rows}) h LEFT JOIN sites s ON s.site = h.site "
            f"GROUP BY {key} HAVING {self._ANY}", params)
        waiting = self._store.query(
            f"SELECT {kkey} AS key, CAST(SUM(k.queue_waiting) AS BIGINT) AS waiting, AVG(k.queue_avg_wait_s) AS avg_wait_s "
            f"FROM kiosks k LEFT JOIN sites s ON s.site = k.site WHERE k.queue_day = ? GROUP BY {kkey}", (to,))
        out: dict[str, dict] = {}
        zero = {**dict.fromkeys(COUNTED, 0), "waiting": 0, "avg_wait_s": None}
        for row in totals + waiting:
            entry = out.setdefault(row["key"], {level: row["key"], **zero})
            entry.update({k: (v or 0) if k != "avg_wait_s" else v for k, v in row.items() if k != "key"})
        return [out[k] for k in sorted(out)]

    def daily(self, day: str, to: str, sites: list[str]) -> list[dict]:
        """Per day of `day`..`to` that has any: the counts of `counts` summed over `sites` (trends)."""
        if not sites:
            return []
        return self._store.query(
            f"SELECT h.day AS day, {self._SUMS} FROM site_days h WHERE h.day BETWEEN ? AND ? "
            f"AND h.site IN ({', '.join('?' * len(sites))}) GROUP BY h.day ORDER BY h.day", (day, to, *sites))

    def wait_histogram(self, day: str, to: str) -> list[dict]:
        """Vaccinations per site and wait bucket (check-in → first call, `WAIT_BUCKET_S` wide) of `day`..`to`:
        site, bucket, n. Percentiles are read from it (to a bucket) without moving every row out."""
        rows, params = self._covering("site_waits", day, to)
        return self._store.query(
            f"SELECT site, bucket, CAST(SUM(n) AS BIGINT) AS n FROM ({rows}) w GROUP BY site, bucket HAVING SUM(n) > 0",
            params)

    def desk_hours(self, day: str, to: str) -> list[dict]:
        """Per site: vaccinations by a known desk and the desk-hours they took (a desk that vaccinated within a
        local hour counts one desk-hour), for throughput per desk and hour."""
        rows, params = self._covering("site_days", day, to)
        return self._store.query(
            "SELECT site, CAST(SUM(desk_vaccinated) AS BIGINT) AS vaccinated, CAST(SUM(desk_hours) AS BIGINT) AS desk_hours "
            f"FROM ({rows}) h GROUP BY site HAVING SUM(desk_hours) > 0", params)

    def doses(self, day: str, to: str, sites: list[str]) -> list[dict]:
        """Vaccinations per vaccine, dose number and lot of `day`..`to` over `sites` (unknown: '?' and 0)."""
        if not sites:
            return []
        rows, params = self._covering("site_doses", day, to)
        return self._store.query(
            f"SELECT vaccine, dose_number, lot, CAST(SUM(n) AS BIGINT) AS n FROM ({rows}) d "
            f"WHERE site IN ({', '.join('?' * len(sites))}) GROUP BY vaccine, dose_number, lot HAVING SUM(n) > 0",
            (*params, *sites))

    # A group whose figures are all zero (a day's rows subtracted from its month, an hour of first prints only) is
    # no row: the figures are counts, never negative.
    _ANY = "SUM(" + " + ".join(f"h.{c}" for c in _DAY_COLUMNS) + ") > 0"

    def _covering(self, daily: str, first: str, last: str) -> tuple[str, tuple]:
        """SQL of the summary rows whose sum is the days first..last of a daily summary (`daily`), and its
        parameters: whole months from its monthly roll-up, the other days from it (central.spans)."""
        keys, values = ", ".join(_KEYS[daily]), _VALUES[daily]
        selects, params = [], []
        for span in plan(first, last, self.today()):
            table, period = (daily, "day") if span.table == "day" else (MONTHLY[daily], "month")
            signed = ", ".join(f"{'-' if span.sign < 0 else ''}{v} AS {v}" for v in values)
            selects.append(f"SELECT {keys}, {signed} FROM {table} WHERE {period} BETWEEN ? AND ?")
            params += [span.lo, span.hi]
        return " UNION ALL ".join(selects), tuple(params)

    def hourly(self, day: str | None = None, level: str | None = None, key: str | None = None) -> list[dict]:
        """Per local hour of `day`: the counts of `counts`; optionally for one site/district/province
        (`level`, `key`)."""
        where, params = "h.day = ?", [day or self.today()]
        if level:
            if level not in ("site", "district", "province"):
                raise ValueError(f"unknown level {level!r}")
            where += " AND " + ("h.site = ?" if level == "site" else f"s.{level} = ?")
            params.append(key)
        return self._store.query(
            f"SELECT h.hour AS hour, {self._SUMS} FROM site_hours h LEFT JOIN sites s ON s.site = h.site "
            f"WHERE {where} GROUP BY h.hour ORDER BY h.hour", tuple(params))

    def hourly_by_site(self, day: str) -> list[dict]:
        """Per local hour and site of `day`: the counts of `counts` (one query for the whole dashboard)."""
        return self._store.query(
            f"SELECT h.hour AS hour, h.site AS site, {self._SUMS} FROM site_hours h WHERE h.day = ? "
            f"GROUP BY h.hour, h.site ORDER BY h.hour", (day,))

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

    def records_after(self, stream: str, day: str, after: str = "", limit: int = 100) -> list[dict]:
        """A local day's records of a stream in record_id order, those after `after` (keyset paging: a page does not
        shift while records of that day are still arriving), payload decoded."""
        rows = self._store.query(
            "SELECT * FROM records WHERE stream = ? AND day = ? AND record_id > ? ORDER BY record_id LIMIT ?",
            (stream, day, after, limit))
        for row in rows:
            row["payload"] = json.loads(row["payload"])
        return rows

    def record_count(self, stream: str | None = None, kiosk: str | None = None, day: str | None = None) -> int:
        where, params = "TRUE", []
        if stream:
            where, params = where + " AND stream = ?", params + [stream]
        if kiosk:
            where, params = where + " AND kiosk = ?", params + [kiosk]
        if day:
            where, params = where + " AND day = ?", params + [day]
        return self._store.query_one(f"SELECT count(*) AS n FROM records WHERE {where}", tuple(params))["n"]

    def record_ids(self, kiosk: str, stream: str) -> list[str]:
        return [r["record_id"] for r in self._store.query(
            "SELECT record_id FROM records WHERE kiosk = ? AND stream = ?", (kiosk, stream))]

    def data_version(self) -> int:
        """Moves when anything is committed (by this process or another): the dashboard's screens refresh on it."""
        return self._store.data_version()

    def rejects(self) -> dict[str, int]:
        return {r["reason"]: r["count"] for r in self._store.query("SELECT reason, count FROM rejects")}

    def site_totals(self) -> list[dict]:
        """Records stored per site and stream (all days): /metrics' per-site counters."""
        return self._store.query("SELECT site, stream, count(*) AS n FROM records GROUP BY site, stream "
                                 "ORDER BY site, stream")

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
