"""waitress for the kiosk's screens, central's dashboard and the set-up screen, bounded against hostile clients
(docs/security.md).

waitress reads each request whole in its one loop thread before a worker thread runs it, and stops accepting
connections at `connection_limit`. As it comes, one client on the site's network can hold every connection by sending
its headers a byte at a time (the kiosk's own citizen screen then waits with everyone else), and can make it spool a
200 MB body to disk before the application's size limit is even looked at. Here:

- a request's headers and body must arrive within REQUEST_SECONDS of its first byte, and a connection with nothing
  to do closes after IDLE_SECONDS;
- one address holds at most PER_ADDRESS connections, the addresses other than loopback together at most
  REMOTE_CONNECTIONS; loopback (the citizen screen's browser, a reverse proxy in front of central) has
  LOOPBACK_RESERVE more of its own. When a budget is full, a new connection takes the place of the one that has
  been stalled longest (sending an unfinished request, or idle), so clients that send their request at once are
  served while a slow one waits its turn to be dropped;
- a body larger than limits.MAX_BODY is refused from its Content-Length (chunked: as soon as it passes the limit),
  unread, with 413 and a JSON error code; waitress's other refusals (bad request line, huge headers) carry a code too;
- waitress keeps reading a socket while its request runs (channel_request_lookahead), so an event stream learns at
  once that its client left (environ "waitress.client_disconnected"; base.web.sse).
"""

from __future__ import annotations

import logging
import threading
import time

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from base.web.limits import MAX_BODY, refusal_body
from base.web.loopback import LOOPBACK_ADDRESSES

log = logging.getLogger("vaxkiosk.web")

REQUEST_SECONDS = 10
IDLE_SECONDS = 30
PER_ADDRESS = 16
REMOTE_CONNECTIONS = 80
LOOPBACK_RESERVE = 20
# A connection stalled at least this long may be dropped to make room; a browser sends a request in milliseconds.
STALLED_SECONDS = 1.0

ERROR_CODES = {400: "bad_request", 413: "body_too_large", 431: "headers_too_large", 501: "not_implemented"}


class WebServer:
    """A WSGI app served by waitress with the bounds above, on a thread of its own: the kiosk's screens, central's
    dashboard and the first-boot set-up screen all start and stop theirs this one way.

    Binding happens at construction (OSError when the address is taken). waitress sends each chunk as soon as it is
    written, so an event reaches a screen at once."""

    def __init__(self, app, host: str, port: int, threads: int, ident: str):
        adj = Adjustments(host=host, port=port, threads=threads, ident=ident, channel_timeout=IDLE_SECONDS,
                          cleanup_interval=1, connection_limit=REMOTE_CONNECTIONS + LOOPBACK_RESERVE,
                          max_request_body_size=MAX_BODY + 1,  # waitress refuses from this size on
                          channel_request_lookahead=1)
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(threads)
        self._map: dict = {}
        # One server per listening socket (a host name with IPv4 and IPv6 addresses has two), one loop for all.
        self.servers = [BoundedServer(app, self._map, dispatcher=self.dispatcher, adj=adj, sockinfo=info)
                        for info in adj.listen]
        self._adj = adj
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    @property
    def port(self) -> int:
        return self.servers[0].effective_port

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def start(self, thread_name: str) -> None:
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            wasyncore.loop(timeout=self._adj.asyncore_loop_timeout, map=self._map,
                           use_poll=self._adj.asyncore_use_poll)
        except Exception as exc:  # noqa: BLE001 - reported through `error`; the process goes on without its screens
            self.error = str(exc)
            log.exception("web server stopped")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket from the loop's own thread (closing them from another races its select()); with its
        map empty the loop returns. Then the worker threads finish what they run, for at most `timeout`."""
        if self.running:
            self.servers[0].trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
            self._thread.join(timeout)
        else:
            wasyncore.close_all(self._map)
        self.dispatcher.shutdown(timeout=timeout)


class TimedParser(HTTPRequestParser):
    """waitress's parser for one request, made when the request's first byte arrives."""

    def __init__(self, adj):
        super().__init__(adj)
        self.started = time.monotonic()


class CodedErrorTask(ErrorTask):
    """waitress's own refusals (before the application sees the request) as JSON with a stable code."""

    def execute(self):
        error = self.request.error
        body = refusal_body(ERROR_CODES.get(error.code, "bad_request"))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class BoundedChannel(HTTPChannel):
    parser_class = TimedParser
    error_task_class = CodedErrorTask

    def stalled_since(self) -> float | None:
        """Since when (time.monotonic) this connection has held its slot without a request running: the first byte
        of a request still arriving, else its last byte in or out. None while a request runs."""
        if self.requests:
            return None
        if self.request is not None and not self.request.completed:
            return self.request.started
        idle_for = time.time() - self.last_activity  # waitress keeps last_activity in wall-clock time
        return time.monotonic() - idle_for


class BoundedServer(TcpWSGIServer):
    channel_class = BoundedChannel
    _last_refusal_log = 0.0

    def handle_accept(self):
        try:
            pair = self.accept()
            if pair is None:
                return
            conn, addr = pair
            if not self.make_room_for(addr[0]):
                conn.close()
                self.log_refusal(addr[0])
                return
            self.set_socket_options(conn)
        except OSError:
            return  # the client was gone before we got to it (as waitress itself does)
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def make_room_for(self, host: str) -> bool:
        if host in LOOPBACK_ADDRESSES:
            return True  # the reserve: waitress's connection_limit leaves LOOPBACK_RESERVE above REMOTE_CONNECTIONS
        remote = [c for c in self.active_channels.values() if c.addr[0] not in LOOPBACK_ADDRESSES]
        same = [c for c in remote if c.addr[0] == host]
        if len(same) >= PER_ADDRESS:
            return self.drop_most_stalled(same)
        if len(remote) >= REMOTE_CONNECTIONS:
            return self.drop_most_stalled(remote)
        return True

    def drop_most_stalled(self, channels) -> bool:
        cutoff = time.monotonic() - STALLED_SECONDS
        stalled = [(since, c) for c in channels if (since := c.stalled_since()) is not None and since < cutoff]
        if not stalled:
            return False
        min(stalled, key=lambda pair: pair[0])[1].handle_close()  # in the loop thread, which owns idle sockets
        return True

    def maintenance(self, now):
        super().maintenance(now)  # idle connections: channel_timeout
        cutoff = time.monotonic() - REQUEST_SECONDS
        for channel in list(self.active_channels.values()):
            request = channel.request
            if request is not None and not request.completed and request.started < cutoff:
                channel.will_close = True  # closed by the loop at its next turn

    def log_refusal(self, host: str) -> None:
        now = time.monotonic()
        if now - self._last_refusal_log > 60:  # a flood must not become a flood of log lines
            self._last_refusal_log = now
            log.warning("refusing connections from %s: its connections are all busy", host)
