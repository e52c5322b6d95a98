"""Attack tests reuse the screens' fixtures: a real kiosk process (kiosk_server) and Debian's Chromium (browser,
page_at), imported here once so that one Chromium serves every module of the session."""

from tests.web.conftest import browser, kiosk_server, page_at  # noqa: F401 - fixtures
