"""Commands from central (message `cmd`, docs/protocol.md), each sent by name to one small handler.

The sync part's network thread decodes a command; its worker hands it to `Dispatcher.dispatch` between two rounds
of delivery. A handler does one thing with the rest of the kiosk (through the store and App.events, never a part's
internals); a command whose handler refuses it is logged, and the kiosk carries on.
"""

from __future__ import annotations

import logging
from typing import Callable

from base.refusal import Refusal
from kiosk.corrections import Corrections
from kiosk.sync.telemetry import Telemetry

log = logging.getLogger("vaxkiosk.sync")


def tell_screens(app, command: dict) -> None:
    """Screens and other parts follow commands through events (the store already holds any outcome)."""
    app.events.publish("central_command", {"command": command["command"], "cmd_id": command["cmd_id"],
                                           "args": command.get("args") or {}})


def health_report(app, telemetry: Telemetry, command: dict) -> None:
    telemetry.ask_health()


def queue_report(app, telemetry: Telemetry, command: dict) -> None:
    telemetry.ask_queue()


def reload(app, telemetry: Telemetry, command: dict) -> None:
    tell_screens(app, command)


def correction_outcome(app, telemetry: Telemetry, command: dict) -> None:
    try:
        Corrections(app.store, app.config.kiosk, app.clock).apply_outcome(command.get("args") or {})
    finally:
        tell_screens(app, command)


HANDLERS: dict[str, Callable[[object, Telemetry, dict], None]] = {
    "health_report": health_report,
    "queue_report": queue_report,
    "reload": reload,
    "correction_outcome": correction_outcome,
}


class Dispatcher:
    def __init__(self, app, telemetry: Telemetry):
        self.app, self.telemetry = app, telemetry

    def dispatch(self, command: dict) -> None:
        """`command`: a decoded `cmd` message (base.protocol checked that its name is one of HANDLERS)."""
        log.info("command %s (%s) from central", command["command"], command["cmd_id"])
        try:
            HANDLERS[command["command"]](self.app, self.telemetry, command)
        except Refusal as exc:
            log.warning("command %s from central refused: %s", command["command"], exc.code)
