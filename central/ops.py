"""The operations part of `vaxkiosk central`: the dashboard (waitress), alerts and correction outcomes, reading
the aggregator's store (central.store) and keeping its own small ops.db. Built by central.app.build_web."""

from __future__ import annotations

import logging
import threading

from central.ops_config import OpsConfig
from central.ops_store import open_ops_store
from central.ops_ticker import Ticker
from kiosk.events import EventBus

log = logging.getLogger("vaxkiosk.central.ops")


class OpsService:
    name = "web"

    def __init__(self, config: OpsConfig, store, mqtt, data_dir, health_history_days: float = 2.0,
                 registry=None, device_blueprints=()):
        """`store`: the aggregator's CentralStore; `mqtt`: central's [mqtt] settings (for commands to kiosks);
        `registry` (central.registry, when central.toml has [registry]) and its device-facing blueprints (enrolment,
        trust list), served on the dashboard's port."""
        self.config = config
        self.registry = registry
        self.device_blueprints = list(device_blueprints)
        self.store = store
        self.mqtt = mqtt
        self.health_history_days = health_history_days
        self.ops_store = open_ops_store(f"{data_dir}/ops.db")
        self.events = EventBus()
        self.ticker = Ticker(self)
        self.stopping = threading.Event()
        self.server = None
        self._thread: threading.Thread | None = None

    @property
    def web_port(self) -> int | None:
        return self.server.effective_port if self.server else None

    def start(self) -> None:
        # The aggregator's sites table gets the configured places (the registry, when merged, may fill it too).
        for s in self.config.sites:
            self.store.upsert_site(s.id, s.name, s.district, s.province)
        from central.web import SERVER_THREADS, create_app
        from kiosk.web.serving import create_server

        web = self.config.web
        try:
            self.server = create_server(create_app(self), web.host, web.port, SERVER_THREADS, "vaxkiosk-central")
        except OSError as exc:
            # Several `vaxkiosk central` processes on one machine share one config: the first to bind serves the
            # dashboard (and evaluates alerts), the others are ingest workers.
            log.warning("dashboard port %s:%s not available (%s): this process is an ingest worker only",
                        web.host, web.port, exc.strerror)
            return
        self.ticker.start()
        self._thread = threading.Thread(target=self.server.run, name="ops-web", daemon=True)
        self._thread.start()
        log.info("dashboard on http://%s:%s/", web.host, self.server.effective_port)

    def stop(self) -> None:
        self.stopping.set()  # ends the open event streams
        if self.server is not None:
            from waitress import wasyncore

            # Close every socket from the server's own loop thread (closing them from here races its select());
            # with its map empty the loop returns.
            server = self.server
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            if self._thread:
                self._thread.join(5)
            server.task_dispatcher.shutdown(timeout=5)
            self.ticker.stop()
        self.ops_store.close()
        if self.registry is not None:
            self.registry.close()

    def health(self) -> dict:
        return {"port": self.web_port, "commands_connected": self.ticker.connected.is_set()}


def build(app) -> OpsService | None:
    """central.app.build_web: the dashboard for this `vaxkiosk central` process, or None with [web] enabled = false."""
    from central.ops_config import from_dict

    from central.enrol_api import blueprints_from_config
    from central.registry import registry_from_config

    config = from_dict(app.config.other, source=app.config.source)
    if not config.web.enabled:
        return None
    registry = registry_from_config(app.config)
    return OpsService(config, app.store, app.config.mqtt, app.config.central.data_dir,
                      app.config.central.health_history_days, registry=registry,
                      device_blueprints=blueprints_from_config(app.config, registry) if registry else ())
