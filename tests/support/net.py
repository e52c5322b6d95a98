"""Loopback-only networking helpers for tests."""

from devtools.ports import free_port, wait_port  # noqa: F401  (one picker and one wait for tests, benches, the demo)
