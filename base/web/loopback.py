"""What counts as this machine: one set of rules for every server and link that trusts loopback more.

The kiosk's own browser is the citizen screen; a reverse proxy in front of central and the demo run on the same
machine. A request is from this machine when its socket's peer is a loopback address (waitress sets REMOTE_ADDR from
the socket; no proxy header is trusted) and its Host header names this machine: a page from a site whose DNS name
was re-pointed at 127.0.0.1 (DNS rebinding) reaches a loopback listener too, but under its own name.
"""

from __future__ import annotations

# Peers: the kiosk's browser opens http://127.0.0.1:PORT/; with host = "::" the same client shows up IPv4-mapped.
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
# Names of this machine: in a Host header, in a listener's configured host, in a URL a kiosk may use plain http to.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def names_loopback(host_header: str) -> bool:
    """Whether a Host header ("127.0.0.1:8080", "[::1]:8080", "localhost") names this machine."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in LOOPBACK_NAMES


def from_this_machine(request) -> bool:
    """A Flask/werkzeug request from this machine's own browser (or proxy), asked for by this machine's name."""
    return request.remote_addr in LOOPBACK_ADDRESSES and names_loopback(request.host or "")
