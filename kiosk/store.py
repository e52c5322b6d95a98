"""The kiosk's single source of truth, kiosk.db: a base.store.Store with the kiosk's migrations.

Every part of the kiosk (scanner, web screens, printer worker, sync worker) reads its work from here and writes its
results back; no part calls another's internals. Migrations are only ever appended (deployed kiosks have run them).
Each table belongs to the module that owns its rules, and only that module writes SQL naming it: the list is in
docs/architecture.md ("Who owns each table") and tests/test_table_owners.py holds the code to it.
"""

from __future__ import annotations

from pathlib import Path

from base import store as base_store
from base.web.sessions import WEB_SESSIONS

# kiosk.sms: the number a citizen agreed to be texted at today, and the texts waiting for the modem. Both hold
# personal data for one day only (kiosk.sms.optin.purge), and neither is ever sent to central.
SMS_TABLES = """
CREATE TABLE sms_optins (
    checkin_id TEXT PRIMARY KEY REFERENCES checkins(id),
    site_id TEXT NOT NULL,
    day TEXT NOT NULL,                 -- the check-in's local day: the number is purged after it
    number TEXT NOT NULL,              -- E.164, +84...
    agreed_wall TEXT NOT NULL          -- when the citizen agreed on the screen
);
CREATE INDEX sms_optins_number ON sms_optins (number, day);
CREATE INDEX sms_optins_day ON sms_optins (day);
CREATE TABLE sms_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- sending order; its low byte is the parts' concatenation reference
    checkin_id TEXT NOT NULL REFERENCES checkins(id),
    day TEXT NOT NULL,
    kind TEXT NOT NULL,                -- soon | called | dose
    params TEXT NOT NULL,              -- JSON: what the text says (ticket, desk, dose, UVCI, next dose date)
    state TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | uncertain | failed | expired
    text TEXT,                         -- the words as first sent (a retry sends the same parts)
    encoding TEXT,                     -- ucs2 | gsm7
    parts_total INTEGER,
    parts_sent INTEGER NOT NULL DEFAULT 0,
    refs TEXT,                         -- the network's message references, one per part sent
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_wall TEXT NOT NULL,
    last_error TEXT,                   -- a stable code: cms_38, modem_gone, sim_not_ready, timeout, ...
    last_error_detail TEXT,
    created_wall TEXT NOT NULL,
    updated_wall TEXT NOT NULL
);
CREATE INDEX sms_outbox_due ON sms_outbox (state, next_try_wall, id);
CREATE INDEX sms_outbox_day ON sms_outbox (day);
CREATE UNIQUE INDEX sms_outbox_once ON sms_outbox (checkin_id, kind) WHERE kind IN ('soon', 'dose');
"""

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE checkins (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            day TEXT NOT NULL,                -- local calendar day, YYYY-MM-DD
            id_number TEXT NOT NULL,
            full_name TEXT,
            dob TEXT,
            sex TEXT,
            address TEXT,                     -- only when [kiosk] keep_address = true
            scan_kind TEXT NOT NULL,          -- cccd_qr | id_number | manual
            source TEXT NOT NULL,             -- camera | serial | screen | staff
            created_wall TEXT NOT NULL,
            created_mono REAL NOT NULL,
            created_boot_id TEXT NOT NULL,
            created_clock_synced INTEGER NOT NULL,
            UNIQUE (site_id, day, id_number)
        );
        CREATE TABLE tickets (
            checkin_id TEXT PRIMARY KEY REFERENCES checkins(id),
            site_id TEXT NOT NULL,
            day TEXT NOT NULL,
            number INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting',
            desk TEXT,
            state_wall TEXT NOT NULL,
            UNIQUE (site_id, day, number)
        );
        CREATE INDEX tickets_state ON tickets (site_id, day, state, number);
        CREATE TABLE state_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT,
            at_wall TEXT NOT NULL,
            at_mono REAL NOT NULL,
            at_boot_id TEXT NOT NULL,
            at_clock_synced INTEGER NOT NULL
        );
        CREATE INDEX state_changes_checkin ON state_changes (checkin_id);
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order
            record_id TEXT NOT NULL UNIQUE,
            stream TEXT NOT NULL,
            payload TEXT NOT NULL,                 -- JSON, exactly what is published
            created_wall TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_sent_wall TEXT,
            delivered_wall TEXT
        );
        CREATE INDEX outbox_pending ON outbox (delivered_wall, seq);
        CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- print order
            kind TEXT NOT NULL,                    -- ticket | certificate
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            subject_id TEXT,                       -- the vaccination record of a certificate
            copy INTEGER NOT NULL DEFAULT 0,       -- 0 = original, n = n-th reprint
            state TEXT NOT NULL DEFAULT 'pending', -- pending | printing | done | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_wall TEXT NOT NULL,
            updated_wall TEXT NOT NULL
        );
        CREATE INDEX print_jobs_pending ON print_jobs (state, id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_wall TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT,
            reason TEXT,
            detail TEXT
        );
        """,
    ),
    (
        "0002_vaccinations",
        """
        CREATE TABLE screenings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            outcome TEXT NOT NULL,            -- eligible | postponed | referred
            reason TEXT,
            actor TEXT NOT NULL,
            at_wall TEXT NOT NULL
        );
        CREATE TABLE vaccinations (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            dose_number INTEGER NOT NULL,
            vaccine TEXT NOT NULL,            -- key of kiosk.vaccines.VACCINES
            product TEXT NOT NULL,            -- EU DCC mp
            manufacturer TEXT NOT NULL,       -- EU DCC ma
            vaccine_type TEXT NOT NULL,       -- EU DCC vp
            lot TEXT NOT NULL,
            vaccinator TEXT NOT NULL,
            screening_outcome TEXT NOT NULL,
            uvci TEXT NOT NULL UNIQUE,        -- certificate identifier, the same on every reprint
            administered_wall TEXT NOT NULL,
            administered_mono REAL NOT NULL,
            administered_boot_id TEXT NOT NULL,
            administered_clock_synced INTEGER NOT NULL,
            observation_until TEXT NOT NULL,
            observation_end_wall TEXT,
            UNIQUE (checkin_id)
        );
        """,
    ),
    (
        "0003_certificates",
        """
        -- The site's name as it was on the day of the dose: a certificate printed later shows the same site.
        ALTER TABLE vaccinations ADD COLUMN site_name TEXT NOT NULL DEFAULT '';
        -- Reprints look up the copies of one certificate.
        CREATE INDEX print_jobs_subject ON print_jobs (subject_id, copy);
        """,
    ),
    (
        "0004_screens",
        """
        -- Citizens' correction requests (kiosk.corrections).
        CREATE TABLE corrections (
            id TEXT PRIMARY KEY,              -- random record id; central deduplicates by it
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            id_number TEXT NOT NULL,
            kind TEXT NOT NULL,               -- missing_dose | wrong_dose
            vaccination_id TEXT,              -- the dose a wrong_dose request is about
            reason TEXT NOT NULL,
            filed_wall TEXT NOT NULL,
            deadline_wall TEXT NOT NULL
        );
        CREATE INDEX corrections_site ON corrections (site_id, deadline_wall);
        -- Staff desk accounts (kiosk.staff_accounts): personal PINs, stored as scrypt hashes.
        CREATE TABLE staff_accounts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,               -- staff | technician
            pin_hash TEXT NOT NULL,           -- scrypt$n$r$p$salt_hex$hash_hex
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until_wall TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            created_wall TEXT NOT NULL
        );
        """,
    ),
    (
        "0005_correction_outcomes",
        """
        -- Central's decision on a correction (command correction_outcome), shown on the staff desk.
        ALTER TABLE corrections ADD COLUMN outcome_state TEXT;     -- approved | deferred | rejected
        ALTER TABLE corrections ADD COLUMN outcome_reason TEXT;
        ALTER TABLE corrections ADD COLUMN outcome_decided_at REAL;  -- central's decision time (epoch s)
        """,
    ),
    ("0006_web_sessions", WEB_SESSIONS),
    (
        "0007_identity_checks",
        """
        -- A check-in that staff find is not the card holder's gives the number back for the day
        -- (kiosk.checkin.CheckinService.release), so the real holder can check in: one check-in per person per
        -- site per day *holds* the number. SQLite cannot drop the old UNIQUE constraint, so the table is rebuilt
        -- (SQLite's documented procedure; migrate() runs with foreign keys off and checks them before commit).
        -- A migration that adds a column to checkins before this one must add it to both lists below.
        CREATE TABLE checkins_rebuilt (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            kiosk_id TEXT NOT NULL,
            day TEXT NOT NULL,
            id_number TEXT NOT NULL,
            full_name TEXT,
            dob TEXT,
            sex TEXT,
            address TEXT,
            scan_kind TEXT NOT NULL,
            source TEXT NOT NULL,
            created_wall TEXT NOT NULL,
            created_mono REAL NOT NULL,
            created_boot_id TEXT NOT NULL,
            created_clock_synced INTEGER NOT NULL,
            released_wall TEXT,               -- staff gave the number back: this check-in is not the holder's
            released_by TEXT
        );
        INSERT INTO checkins_rebuilt (id, site_id, kiosk_id, day, id_number, full_name, dob, sex, address, scan_kind,
                                      source, created_wall, created_mono, created_boot_id, created_clock_synced)
            SELECT id, site_id, kiosk_id, day, id_number, full_name, dob, sex, address, scan_kind,
                   source, created_wall, created_mono, created_boot_id, created_clock_synced FROM checkins;
        DROP TABLE checkins;
        ALTER TABLE checkins_rebuilt RENAME TO checkins;
        CREATE UNIQUE INDEX checkins_holder ON checkins (site_id, day, id_number) WHERE released_wall IS NULL;
        CREATE INDEX checkins_day ON checkins (site_id, day);
        CREATE INDEX checkins_id_number ON checkins (id_number);
        -- kiosk.verification: why a check-in waits for staff to see the card (typed entry, an entry that did not
        -- match it), and who resolved that.
        CREATE TABLE identity_flags (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            checkin_id TEXT NOT NULL REFERENCES checkins(id),
            kind TEXT NOT NULL,               -- typed | other_record | mismatch
            entry TEXT NOT NULL,              -- what was presented: cccd_qr | manual
            source TEXT NOT NULL,             -- camera | serial | screen | staff
            kiosk_id TEXT NOT NULL,
            at_wall TEXT NOT NULL,
            resolved_wall TEXT,
            resolved_by TEXT,
            resolution TEXT                   -- card_seen | released
        );
        CREATE INDEX identity_flags_checkin ON identity_flags (checkin_id, resolved_wall);
        -- Entries whose name or birth date did not match the record of their number: counted for the pause.
        -- Kept for an hour only (kiosk.verification.WINDOW): the next check-in or lookup deletes older ones.
        CREATE TABLE identity_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kiosk_id TEXT NOT NULL,
            id_number TEXT NOT NULL,
            at_wall TEXT NOT NULL
        );
        CREATE INDEX identity_attempts_number ON identity_attempts (id_number, at_wall);
        CREATE INDEX identity_attempts_kiosk ON identity_attempts (kiosk_id, at_wall);
        """,
    ),
    ("0008_sms", SMS_TABLES),
    (
        "0009_correction_reference",
        """
        -- What a correction is about (JSON of the record's about_* fields) and the reference the citizen was given
        -- (kiosk.corrections; base.corrections.new_reference). Requests filed before have neither.
        ALTER TABLE corrections ADD COLUMN about TEXT;
        ALTER TABLE corrections ADD COLUMN reference TEXT;
        CREATE UNIQUE INDEX corrections_reference ON corrections (reference);
        """,
    ),
    (
        "0010_desk_defaults",
        """
        -- kiosk.desks: the vaccine and lot a staff desk injected last on a day (its next injection form starts there).
        CREATE TABLE desk_defaults (
            site_id TEXT NOT NULL,
            desk TEXT NOT NULL,
            day TEXT NOT NULL,                -- the site's local date
            vaccine TEXT NOT NULL,
            lot TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_wall TEXT NOT NULL,
            PRIMARY KEY (site_id, desk, day)
        );
        """,
    ),
]


class Store(base_store.Store):
    """kiosk.db at `path`, migrated to this version's schema."""

    def __init__(self, path: str | Path):
        super().__init__(path, MIGRATIONS)
