"""The dashboard in Debian's Chromium (Playwright): every page renders with a populated fleet, the live view follows
server-sent events without a reload, and a screenshot of each page is saved in docs/screens/central-*.png."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.central.conftest import PASSWORD, wait_for

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800}, locale="vi-VN")
        yield browser.new_page()
        browser.close()


def populate(ops, kiosks):
    fleet = [kiosks(site, f"{site.lower()}-k{i}") for site in ("GL-01", "GL-02", "HN-01") for i in range(1, 4)]
    n = 0
    for j, k in enumerate(fleet):
        ids = []
        for _ in range(3 + 2 * j):
            n += 1
            ids.append(k.check_in(n))
        for cid in ids[: j + 1]:
            k.vaccinate(cid)
        k.publish_outbox()
        k.queue()
        k.certificate_printed()
    for k in fleet[:6]:
        k.health()
    fleet[6].health(printer={"paper": "out"})
    fleet[7].health(disk={"used_pct": 94.0}, outbox={"backlog": 120, "oldest_age_s": 1800})
    fleet[8].shut_down()
    fleet[0].send("records/corrections", {"schema": 1, "type": "correction", "record_id": "e" * 32, "site": "GL-01",
                                          "kiosk": fleet[0].kiosk, "id_number": "064195001234",
                                          "problem": "dose 2 missing", "dose": 2}, qos=1)
    wait_for(lambda: len(ops.store.query("SELECT * FROM alerts WHERE cleared_at IS NULL")) >= 3, what="alerts")
    for _ in range(3):  # a little health history for the charts
        fleet[0].health(outbox={"backlog": 5, "oldest_age_s": 30})
        time.sleep(0.05)
    return fleet


def test_pages_in_chromium(ops, kiosks, page):
    fleet = populate(ops, kiosks)
    base = f"http://127.0.0.1:{ops.web_port}"
    page.goto(base + "/")
    assert "/login" in page.url
    page.screenshot(path=str(SCREENS / "central-login.png"))
    page.fill("input[name=name]", "ops")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Đăng nhập')")
    page.wait_for_selector("text=trực tuyến · online")
    page.wait_for_selector("#live-state:has-text('live')")
    page.screenshot(path=str(SCREENS / "central-fleet.png"), full_page=True)

    # Live: a kiosk's printer runs out of paper; the open page shows it without a reload.
    assert page.locator("td.bad:has-text('out')").count() == 1
    fleet[1].health(printer={"paper": "out"})
    page.locator("td.bad:has-text('out')").nth(1).wait_for(timeout=15000)

    page.click(f"a:has-text('{fleet[0].kiosk}')")
    page.wait_for_selector("svg.spark polyline")
    page.screenshot(path=str(SCREENS / "central-kiosk.png"), full_page=True)

    page.goto(base + "/alerts")
    page.wait_for_selector("text=Printer out of paper")
    page.locator("button:has-text('Xác nhận')").first.click()
    page.wait_for_selector("tr.acked")
    page.screenshot(path=str(SCREENS / "central-alerts.png"), full_page=True)

    page.goto(base + "/numbers?level=district")
    page.wait_for_selector("svg.bars rect:not([height='0.0'])")
    page.screenshot(path=str(SCREENS / "central-numbers.png"), full_page=True)

    page.goto(base + "/corrections")
    page.wait_for_selector("text=dose 2 missing")
    page.screenshot(path=str(SCREENS / "central-corrections.png"), full_page=True)
    page.select_option("select[name=state]", "approved")
    page.click("button:has-text('Lưu')")
    page.wait_for_selector("text=approved")
    wait_for(lambda: fleet[0].commands, what="outcome delivered")
    for name in ("login", "fleet", "kiosk", "alerts", "numbers", "corrections"):
        assert (SCREENS / f"central-{name}.png").stat().st_size > 10_000
