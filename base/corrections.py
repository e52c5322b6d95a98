"""A citizen's correction request, as both ends know it: filed at a kiosk (kiosk.corrections), decided at central
(central.corrections), the decision sent back as the command `correction_outcome` (docs/protocol.md)."""

from __future__ import annotations

import datetime as dt

KINDS = ("missing_dose", "wrong_dose")
# Central's decisions; "deferred" may be decided again.
OUTCOMES = ("approved", "deferred", "rejected")
MAX_REASON_CHARS = 300
# Central must answer within this time; the deadline travels with the request.
DEADLINE = dt.timedelta(hours=48)
