"""The operations part of `vaxkiosk central`: the dashboard (waitress), alerts and correction outcomes, reading
the aggregator's store (central.store) and keeping its own small ops.db. Built by central.app."""

from __future__ import annotations

import logging
import threading

from base.events import EventBus
from base.web.serving import WebServer
from central import alert_channels
from central.ops_config import OpsConfig
from central.ops_store import open_ops_store
from central.ops_ticker import Ticker

log = logging.getLogger("vaxkiosk.central.ops")


class OpsService:
    name = "web"

    def __init__(self, config: OpsConfig, store, publisher, ops_location, registry=None, device_blueprints=()):
        """`store`: the aggregator's CentralStore; `publisher`: the ingest, whose connection carries commands to
        kiosks (`send_command`, `connected`); `registry` (central.registry, when central.toml has [registry]) and its
        device-facing blueprints (enrolment, trust list), served on the dashboard's port."""
        self.config = config
        self.registry = registry
        self.device_blueprints = list(device_blueprints)
        self.store = store
        self.publisher = publisher
        self.ops_store = open_ops_store(ops_location)
        self.channels = alert_channels.build(config.channels, self.ops_store)  # name → channel
        self.events = EventBus()
        self.ticker = Ticker(self)
        self.stopping = threading.Event()
        self.server: WebServer | None = None

    @property
    def web_port(self) -> int | None:
        return self.server.port if self.server else None

    def start(self) -> None:
        for s in self.config.sites:  # the aggregator's sites table gets the configured places
            self.store.upsert_site(s.id, s.name, s.district, s.province)
        from central.web import SERVER_THREADS, create_app

        web = self.config.web
        try:
            self.server = WebServer(create_app(self), web.host, web.port, SERVER_THREADS, "vaxkiosk-central")
        except OSError as exc:
            # Several `vaxkiosk central` processes on one machine share one config: the first to bind serves the
            # dashboard (and evaluates alerts), the others are ingest workers.
            log.warning("dashboard port %s:%s not available (%s): this process is an ingest worker only",
                        web.host, web.port, exc.strerror)
            return
        self.ticker.start()
        self.server.start("ops-web")
        log.info("dashboard on http://%s:%s/", web.host, self.server.port)

    def stop(self) -> None:
        self.stopping.set()  # ends the open event streams
        if self.server is not None:
            self.server.stop(timeout=5)
            self.ticker.stop()
        for channel in self.channels.values():
            if hasattr(channel, "close"):
                channel.close()
        self.ops_store.close()

    def health(self) -> dict:
        health = {"port": self.web_port, "commands_connected": self.publisher.connected.is_set()}
        for name, channel in self.channels.items():
            if hasattr(channel, "health"):
                health[f"alert_{name}"] = channel.health()
        return health


def build(app, publisher) -> OpsService | None:
    """The dashboard for this `vaxkiosk central` process (central.app.CentralApp), or None with [web] enabled =
    false. Its settings are the sections central.config hands over in `other`."""
    from central.enrol_api import device_blueprints
    from central.ops_config import from_dict

    config = from_dict(app.config.other, source=app.config.source)
    if not config.web.enabled:
        return None
    return OpsService(config, app.store, publisher, app.config.ops_location, registry=app.registry,
                      device_blueprints=device_blueprints(app.registry) if app.registry else ())
