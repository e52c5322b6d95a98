"""The operations side of central as one part: the fleet monitor (MQTT → ops.db, alerts, correction outcomes) and
the dashboard served by waitress. `vaxkiosk central` starts it next to the aggregator; `vaxkiosk central-ops` runs
it alone (a second machine for the dashboard, or before the aggregator is configured)."""

from __future__ import annotations

import logging
import threading

from central.monitor import Monitor
from central.ops_config import OpsConfig
from central.ops_store import OpsStore
from kiosk.events import EventBus

log = logging.getLogger("vaxkiosk.central.ops")


class OpsService:
    name = "ops"

    def __init__(self, config: OpsConfig):
        self.config = config
        self.store = OpsStore(config.db_path)
        self.events = EventBus()
        self.monitor = Monitor(config, self.store, self.events)
        self.server = None
        self._thread: threading.Thread | None = None

    @property
    def web_port(self) -> int | None:
        return self.server.effective_port if self.server else None

    def start(self) -> None:
        self.monitor.start()
        if self.config.web.enabled:
            from waitress import create_server

            from central.web import create_app

            web = self.config.web
            # Each open dashboard holds one thread for its event stream: enough threads for a room of screens.
            self.server = create_server(create_app(self), host=web.host, port=web.port, threads=24,
                                        channel_timeout=web.sse_seconds + 30, ident="vaxkiosk-central")
            self._thread = threading.Thread(target=self.server.run, name="ops-web", daemon=True)
            self._thread.start()
            log.info("dashboard on http://%s:%s/", web.host, self.server.effective_port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server.task_dispatcher.shutdown(timeout=5)
            if self._thread:
                self._thread.join(5)
        self.monitor.stop()
        self.store.close()

    def health(self) -> dict:
        return {"monitor": self.monitor.health(), "web_port": self.web_port}
