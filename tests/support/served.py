"""A WSGI app served by waitress in a thread of the test process, on a free port of a loopback address."""

from __future__ import annotations

import threading

from waitress.server import create_server

from tests.support.net import wait_port


class Served:
    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = create_server(app, host=host, port=0, threads=4)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_port(self.port, host=host)
        self.url = f"http://{host}:{self.port}"

    def close(self) -> None:
        # Closed from inside waitress's own loop: closing its sockets from here would break the select() it sits in.
        self.server.trigger.pull_trigger(self.server.close)
        self.thread.join(10)
        self.server.task_dispatcher.shutdown()
