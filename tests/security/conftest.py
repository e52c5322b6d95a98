"""Attack tests reuse the screens' fixtures: a real kiosk process (kiosk_server) and pages of the session's one
Chromium (page_at; `browser` itself is in tests/conftest.py)."""

from tests.web.conftest import kiosk_server, page_at  # noqa: F401 - fixtures
