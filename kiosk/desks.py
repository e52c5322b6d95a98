"""What a staff desk keeps between citizens: the vaccine and lot it injected last today.

A vaccinator gives the same vaccine from the same vial lot to one citizen after another; the injection form starts
from what this desk recorded last today (a new day, or another desk, starts empty: a lot is never carried over to a
day it was not checked). Kept in SQLite, not the browser: a reloaded page or a second screen at the desk sees the
same. This module owns the table desk_defaults.
"""

from __future__ import annotations

from kiosk.store import Store


def remember(store: Store, site_id: str, desk: str, day: str, vaccine: str, lot: str, actor: str, wall: str) -> None:
    """The desk's last injection of `day` (the site's local date) gave `vaccine` from `lot`."""
    with store.transaction() as db:
        db.conn.execute(
            "INSERT INTO desk_defaults (site_id, desk, day, vaccine, lot, updated_by, updated_wall) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, desk, day) DO UPDATE SET vaccine=excluded.vaccine, "
            "lot=excluded.lot, updated_by=excluded.updated_by, updated_wall=excluded.updated_wall",
            (site_id, desk, day, vaccine, lot, actor, wall))


def remembered(store: Store, site_id: str, desk: str, day: str) -> dict | None:
    """{vaccine, lot} this desk gave last on `day`, or None."""
    return store.query_one("SELECT vaccine, lot FROM desk_defaults WHERE site_id=? AND desk=? AND day=?",
                           (site_id, desk, day))
