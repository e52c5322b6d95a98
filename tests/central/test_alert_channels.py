"""Alerts that reach people: a real kiosk's printer runs out of paper, central raises one alert and its shared
outbox delivers it to a real HTTP server (webhook) and a real SMTP server (aiosmtpd), both on loopback, retrying
through their failures; across a restart of central nothing is lost and nothing is sent twice; a snooze from the
dashboard holds back the next occurrence and is audited."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from central import alert_outbox
from tests.central.conftest import EdgeStatus, central_dict, wait_for
from tests.support.net import free_port


class Webhook:
    """A receiver on loopback: answers `fail_with` to every POST while set, records the ones it took (200)."""

    def __init__(self):
        self.fail_with: int | None = None
        self.taken: list[tuple[dict, dict]] = []  # (headers, body)
        self.refused = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.fail_with:
                    hook.refused += 1
                    self.send_response(hook.fail_with)
                else:
                    hook.taken.append((dict(self.headers), json.loads(body)))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/vaxkiosk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def codes(self) -> list[tuple[str, str]]:
        return [(b["kiosk"], b["code"]) for _, b in self.taken]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd's handler: refuses DATA with 451 (try again later) `refuse` more times, then keeps each message."""

    def __init__(self):
        self.refuse = 0
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def start(tmp_path, mosquitto, webhook, mailbox):
    from central.app import CentralApp
    from central.config import from_dict

    config = central_dict(tmp_path, mosquitto.port)
    config["alerts"]["notify_retry_seconds"] = 0.2
    config["alert_webhook"] = {"url": webhook.url, "bearer_token": "hook-secret"}
    config["alert_email"] = {"host": "127.0.0.1", "port": mailbox.port, "sender": "central@vaxkiosk.test",
                             "to": ["truc-ban@so-y-te.test", "ky-thuat@so-y-te.test"]}
    app = CentralApp(from_dict(config))
    app.start()
    return app, next(p for p in app.parts if p.name == "web")


def test_paper_out_reaches_webhook_and_mail_once_through_failures_and_restarts(tmp_path, mosquitto, kiosk_apps,
                                                                                webhook, mailbox):
    printer = EdgeStatus("printer", online=True, paper="ok")
    camera = EdgeStatus("camera", fps=15.0)
    kiosk_apps("GL-01", "gl-edge", printer, camera)
    webhook.fail_with, mailbox.refuse = 503, 2
    app, ops = start(tmp_path, mosquitto, webhook, mailbox)
    try:
        wait_for(lambda: ops.store.kiosk("gl-edge") is not None, 10, what="kiosk seen")
        printer.status.update(paper="out", online=False)  # what a real printer says with its paper out

        def attempts(channel: str) -> int:
            row = ops.ops_store.query_one("SELECT attempts FROM alert_notifications WHERE channel = ?", (channel,))
            return row["attempts"] if row else 0

        wait_for(lambda: attempts("webhook") >= 3 and mailbox.messages, 20, what="webhook retried, mail sent")
        assert webhook.refused >= 3 and not webhook.taken  # still failing: kept, not dropped
    finally:
        app.stop()  # central goes down with the webhook notification still pending

    webhook.fail_with = None
    app, ops = start(tmp_path, mosquitto, webhook, mailbox)
    try:
        wait_for(lambda: webhook.taken, 20, what="the pending notification sent after the restart")
        # A second fault after the restart: once its notification is through, the first was not sent again.
        camera.status.update(fps=0.0)
        wait_for(lambda: len(webhook.taken) == 2 and len(mailbox.messages) == 2, 20, what="camera alert sent")
        assert webhook.codes() == [("gl-edge", "printer_paper_out"), ("gl-edge", "camera_no_frames")]
        assert [m["Subject"] for m in mailbox.messages] == [
            "[vaxkiosk] Máy in hết giấy · Printer out of paper — Trạm Y tế Phường Yên Đỗ / gl-edge",
            "[vaxkiosk] Camera không có hình · Camera delivers no frames — Trạm Y tế Phường Yên Đỗ / gl-edge"]
    finally:
        app.stop()

    headers, body = webhook.taken[0]
    assert headers["Authorization"] == "Bearer hook-secret"
    assert headers["Idempotency-Key"] == body["notification_id"]
    assert body["site_name"] == "Trạm Y tế Phường Yên Đỗ" and body["title_vi"] == "Máy in hết giấy"
    first = mailbox.messages[0]
    assert first["To"] == "truc-ban@so-y-te.test, ky-thuat@so-y-te.test"
    assert first["Message-ID"] == f"<{body['notification_id'].replace('webhook', 'email')}@vaxkiosk-central>"
    text = first.get_content()
    assert text.index("Máy in hết giấy") < text.index("Printer out of paper")  # Vietnamese first
    # One fault, one alert: the offline the printer reported with its paper out raised nothing.
    codes = [r["code"] for r in ops.ops_store.query("SELECT code FROM alerts")]
    assert sorted(codes) == ["camera_no_frames", "printer_paper_out"]
    sent = ops.ops_store.query("SELECT channel, count(*) AS n FROM alert_notifications WHERE sent_at IS NOT NULL "
                               "GROUP BY channel")
    assert {r["channel"]: r["n"] for r in sent} == {"webhook": 2, "email": 2}


class Flaky:
    name = "flaky"

    def __init__(self, failures: int):
        self.failures, self.got = failures, []

    def send(self, alert: dict) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("far end down")
        self.got.append(alert)


def test_outbox_backs_off_and_keeps_a_channel_it_no_longer_has(tmp_path):
    from central.ops_store import open_ops_store

    store = open_ops_store(tmp_path / "ops.db")
    alert = {"id": 7, "code": "disk_full", "kiosk": "k1", "site": "GL-01", "detail": "disk 95% used"}
    with store.transaction() as db:
        assert alert_outbox.enqueue(db.conn, alert, ["flaky", "gone"], 100.0) == 2
        assert alert_outbox.enqueue(db.conn, alert, ["flaky"], 100.0) == 0  # queued once per alert and channel
    flaky = Flaky(failures=2)
    channels = {"flaky": flaky}
    assert alert_outbox.deliver_due(store, channels, 100.0, first_retry_s=5.0) == (0, 2)
    assert alert_outbox.deliver_due(store, channels, 104.9, first_retry_s=5.0) == (0, 0)  # not due before 105
    assert alert_outbox.deliver_due(store, channels, 105.0, first_retry_s=5.0) == (0, 2)  # 2nd failures: +10 s
    assert alert_outbox.deliver_due(store, channels, 114.9, first_retry_s=5.0) == (0, 0)
    assert alert_outbox.deliver_due(store, channels, 130.0, first_retry_s=5.0) == (1, 1)
    assert [a["notification_id"] for a in flaky.got] == ["alert-7-flaky"]
    assert alert_outbox.deliver_due(store, channels, 10_000.0, first_retry_s=5.0) == (0, 1)  # only "gone" left
    gone = store.query_one("SELECT * FROM alert_notifications WHERE channel = 'gone'")
    assert gone["sent_at"] is None and "not configured" in gone["last_error"]
    assert alert_outbox.pending_counts(store) == {"gone": 1}
    store.close()


def test_snooze_from_the_dashboard_holds_back_the_next_occurrence(tmp_path, mosquitto, kiosk_apps, webhook,
                                                                     mailbox):
    from tests.central.test_web import Browser

    printer = EdgeStatus("printer", online=True, paper="ok")
    camera = EdgeStatus("camera", fps=15.0)
    kiosk_apps("GL-01", "gl-snooze", printer, camera)
    app, ops = start(tmp_path, mosquitto, webhook, mailbox)
    try:
        printer.status.update(paper="out")
        wait_for(lambda: webhook.codes() == [("gl-snooze", "printer_paper_out")], 20, what="first paper alert sent")
        alert_id = ops.ops_store.query_one("SELECT id FROM alerts WHERE code = 'printer_paper_out'")["id"]
        b = Browser(ops.web_port)
        b.login()
        assert b.post(f"/alerts/{alert_id}/snooze", {"csrf": "forged", "hours": "4"})[0] == 400
        assert b.post(f"/alerts/{alert_id}/snooze", {"csrf": b.csrf("/alerts"), "hours": "5"})[0] == 400
        assert b.post(f"/alerts/{alert_id}/snooze", {"csrf": b.csrf("/alerts"), "hours": "4"})[0] == 200
        assert b.post(f"/alerts/{alert_id}/ack", {"csrf": b.csrf("/alerts")})[0] == 200
        page = b.get("/alerts")[2]
        assert "Tạm hoãn · Snoozed" in page and "Xác nhận · Acknowledged" in page

        printer.status.update(paper="ok")
        wait_for(lambda: not ops.ops_store.query("SELECT id FROM alerts WHERE cleared_at IS NULL"), 20,
                 what="paper alert cleared")
        printer.status.update(paper="out")  # the same fault again while snoozed: raised, not sent
        wait_for(lambda: ops.ops_store.query("SELECT id FROM alerts WHERE cleared_at IS NULL"), 20,
                 what="paper alert raised again")
        camera.status.update(fps=0.0)  # another fault is not snoozed: once it is through, the paper one was held
        wait_for(lambda: ("gl-snooze", "camera_no_frames") in webhook.codes(), 20, what="camera alert sent")
        assert webhook.codes() == [("gl-snooze", "printer_paper_out"), ("gl-snooze", "camera_no_frames")]
        again = ops.ops_store.query_one("SELECT * FROM alerts WHERE code = 'printer_paper_out' AND cleared_at IS NULL")
        assert again["id"] != alert_id and again["snoozed_until"] is not None
    finally:
        app.stop()
    audit = ops.ops_store.query("SELECT action, user_name, until_at, at FROM alert_actions ORDER BY id")
    assert [(a["action"], a["user_name"]) for a in audit] == [("snooze", "ops"), ("acknowledge", "ops")]
    assert audit[0]["until_at"] - audit[0]["at"] == 4 * 3600
