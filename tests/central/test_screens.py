"""The dashboard in Debian's Chromium (Playwright): every page renders with a populated fleet, the live view follows
server-sent events without a reload, and a screenshot of each page is saved in test-artifacts/screens/central-*.png
(`make screens-docs` copies them to docs/screens/; a test run never writes into the repository's tracked files)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.central.conftest import (PASSWORD, EdgeStatus, check_in, outbox_empty, stop_kiosk, vaccinate,
                                   wait_for)
from tests.central.test_setup_codes import central_with_admin  # noqa: F401 - a fixture
from tests.central.test_web import file_correction
from tests.conftest import ARTIFACTS

SCREENS = ARTIFACTS / "screens"


@pytest.fixture
def page(browser):
    """A page of the session's one Chromium (tests/conftest.py): Playwright's sync API cannot run two at once."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    yield context.new_page()
    context.close()


def populate(kiosk_apps):
    printers = {}
    apps = []
    n = 0
    for j, (site, kid) in enumerate((site, f"{site.lower()}-k{i}") for site in ("GL-01", "GL-02", "HN-01")
                                    for i in range(1, 4)):
        printers[kid] = EdgeStatus("printer", online=True, paper="ok")
        app = kiosk_apps(site, kid, printers[kid], EdgeStatus("camera", fps=14.5 + j % 3, last_frame_age_s=0.1))
        ids = []
        for _ in range(3 + 2 * j):
            n += 1
            ids.append(check_in(app, n))
        for cid in ids[: j + 1]:
            vaccinate(app, cid)
        apps.append(app)
    printers["hn-01-k1"].status.update(paper="out")
    file_correction(apps[0], check_in(apps[0], 999), "missing_dose", "dose 2 missing")
    stop_kiosk(apps[-1])
    return apps, printers


def test_pages_in_chromium(central, kiosk_apps, page):
    SCREENS.mkdir(parents=True, exist_ok=True)
    apps, printers = populate(kiosk_apps)
    wait_for(lambda: ("hn-01-k1", "printer_paper_out") in central.active_alerts(), 15, what="paper alert")
    wait_for(lambda: all(outbox_empty(a) for a in apps[:-1]), 20, what="records delivered")
    base = f"http://127.0.0.1:{central.port}"
    page.goto(base + "/")
    assert "/login" in page.url
    page.screenshot(path=str(SCREENS / "central-login.png"))
    page.fill("input[name=name]", "ops")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.wait_for_selector("text=trực tuyến · online")
    page.wait_for_selector("#live-state:has-text('live')")
    page.screenshot(path=str(SCREENS / "central-fleet.png"), full_page=True)

    # Codes in words, Vietnamese first (issue 18, point 10): states, printer, paper; no raw ISO times.
    fleet_text = page.inner_text("main")
    assert "Trực tuyến · Online" in fleet_text and "Hết giấy · Out" in fleet_text and "Sẵn sàng · Ready" in fleet_text
    states = page.locator("td span.state").all_inner_texts()
    assert states and all(t in ("Trực tuyến · Online", "Mất kết nối · Lost", "Tắt · Offline") for t in states), states
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", fleet_text)
    # Live: another kiosk's printer runs out of paper; the open page shows it without a reload.
    assert page.locator("td.bad:has-text('out')").count() == 1
    printers["gl-01-k2"].status.update(paper="out")
    page.locator("td.bad:has-text('out')").nth(1).wait_for(timeout=15000)

    # The kiosk page's charts need a few points: wait for them instead of sleeping.
    wait_for(lambda: len(central.store.health_history("gl-01-k1")) >= 4, 20, what="health reports for the charts")
    page.click("a:has-text('gl-01-k1')")
    page.wait_for_selector("svg.spark polyline", state="attached")
    page.screenshot(path=str(SCREENS / "central-kiosk.png"), full_page=True)

    page.goto(base + "/alerts")
    page.wait_for_selector("text=Printer out of paper")
    page.locator("button:has-text('Xác nhận')").first.click()
    page.wait_for_selector("tr.acked")
    page.locator("button:has-text('Tạm hoãn')").first.click()  # snooze, kept in the actions log
    page.wait_for_selector("td:has-text('đến · until')")
    page.wait_for_selector("text=Tạm hoãn · Snoozed")
    page.screenshot(path=str(SCREENS / "central-alerts.png"), full_page=True)

    page.goto(base + "/numbers?level=district")
    page.wait_for_selector("svg.bars rect:not([height='0.0'])")
    page.screenshot(path=str(SCREENS / "central-numbers.png"), full_page=True)

    # A range of days with its daily trend, then a click down province → district → site.
    today = central.store.today()
    start = (dt.date.fromisoformat(today) - dt.timedelta(days=13)).isoformat()
    page.goto(base + f"/numbers?level=province&from={start}&to={today}")
    page.wait_for_selector("table.trend")
    page.screenshot(path=str(SCREENS / "central-numbers-range.png"), full_page=True)
    page.goto(base + "/numbers?level=province")
    page.click("tr.drill a:has-text('Gia Lai')")
    page.wait_for_selector("tr.drill a:has-text('Pleiku')")
    page.click("tr.drill a:has-text('Pleiku')")
    page.click("tr.drill a:has-text('Yên Đỗ')")
    page.wait_for_selector("table.doses td:has-text('FK1234')")
    assert "site=GL-01" in page.url and page.locator("table.numbers tbody tr").count() == 1
    page.screenshot(path=str(SCREENS / "central-numbers-site.png"), full_page=True)

    page.goto(base + "/corrections")
    page.wait_for_selector("text=dose 2 missing")
    page.wait_for_selector("text=Người dân cho biết: đã tiêm mũi 2")  # what it is about, in words
    row = page.inner_text("tbody tr")
    assert "Thiếu mũi tiêm · Missing dose" in row and "Chờ xử lý · Waiting" in row
    assert re.search(r"Gửi lúc · Filed: \d{2}/\d{2}/\d{4} \d{2}:\d{2}", row), row
    page.screenshot(path=str(SCREENS / "central-corrections.png"), full_page=True)
    page.select_option("select[name=state]", "approved")
    page.click("button:has-text('Lưu')")
    page.wait_for_selector("td[data-state=approved]:has-text('Đã duyệt · Approved')")
    missing = page.goto(base + "/kiosk/no-such-kiosk")
    assert missing.status == 404 and "Không tìm thấy trang này" in page.inner_text("main")
    assert "Not Found" not in page.content()
    for name in ("login", "fleet", "kiosk", "alerts", "numbers", "numbers-range", "numbers-site", "corrections"):
        assert (SCREENS / f"central-{name}.png").stat().st_size > 10_000


def test_device_pages_in_chromium(central_with_admin, page):
    """Never-seen kiosks on the fleet page, an admin revoking one, the outstanding set-up codes."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    ops = next(p for p in central_with_admin.parts if p.name == "web")
    base = f"http://127.0.0.1:{ops.web_port}"
    for site in ("GL-01", "GL-02"):
        code, _ = ops.registry.create_code(site)
        ops.registry.redeem(code)
    ops.registry.create_code("HN-01")
    page.goto(base + "/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.wait_for_selector("text=2 chưa từng kết nối · never seen")
    page.screenshot(path=str(SCREENS / "central-fleet-never-seen.png"), full_page=True)

    page.goto(base + "/setup-codes")
    page.wait_for_selector("table.outstanding td:has-text('HN-01')")
    page.screenshot(path=str(SCREENS / "central-setup-codes.png"), full_page=True)

    page.goto(base + "/")
    page.click("a:has-text('GL-02-k01')")
    page.fill("input[name=reason]", "Kiosk bị mất cắp · stolen")
    page.screenshot(path=str(SCREENS / "central-kiosk-revoke.png"), full_page=True)
    page.click("button:has-text('Thu hồi kiosk')")
    page.wait_for_selector("text=Kiosk GL-02-k01 revoked")
    assert ops.registry.device("GL-02-k01")["state"] == "revoked"
    page.goto(base + "/")
    page.wait_for_selector("text=1 chưa từng kết nối · never seen")
    for name in ("fleet-never-seen", "setup-codes", "kiosk-revoke"):
        assert (SCREENS / f"central-{name}.png").stat().st_size > 10_000
