"""The printer worker inside a real kiosk App, printing to the virtual network printer over loopback."""

import json
import queue

import pytest

from kiosk.app import App
from kiosk.config import load
from kiosk.identity import parse
from kiosk.printing import jobs
from kiosk.printing.worker import PrinterWorker
from tests.conftest import write_config
from tests.support.virtual_printer import VirtualPrinterProcess
from tests.support.waiting import wait_for


def person(i: int):
    # 064 Gia Lai, 1 = woman born in the 1900s, 95 = 1995: a valid number for every i.
    return parse(f"0641950012{i:02d}||Nguyễn Thị Thử Nghiệm|12081995|Nữ|Tổ 5, Pleiku, Gia Lai|03062021")


@pytest.fixture
def vprinter(tmp_path):
    printer = VirtualPrinterProcess(tmp_path / "printer", profile="TM-T88V")
    yield printer
    printer.stop()


def kiosk_app(tmp_path, port: int, backend: str = "network") -> App:
    extra = (f'[printer]\nenabled = true\nbackend = "{backend}"\nport = {port}\nprofile = "TM-T88V"\n'
             f'paper_mm = 80\npoll_seconds = 0.1\ntimeout = 3\n')
    return App(load(write_config(tmp_path / "kiosk.toml", tmp_path / "data", extra=extra)))


def drain(q: queue.Queue) -> list:
    events = []
    while True:
        try:
            events.append(q.get_nowait())
        except queue.Empty:
            return events


def test_paper_runs_out_in_the_middle_of_20_tickets_and_all_print_exactly_once(tmp_path, vprinter):
    vprinter.start(state="roll:5")  # paper for 5 tickets; it runs out half-way through the 6th
    app = kiosk_app(tmp_path, vprinter.port)
    for i in range(20):
        assert app.checkins.check_in(person(i), "staff").created
    events = app.events.subscribe()
    app.start()
    try:
        wait_for(lambda: app.health()["printer"]["state"] == "paper_out", 30, what="paper out reported")
        health = app.health()["printer"]
        assert health["ok"] is False and health["jobs"]["pending"] >= 13
        waiting = jobs.next_pending(app.store)
        wait_for(lambda: (jobs.get(app.store, waiting["id"])["last_error"] or "").startswith(
            "waiting: printer paper_out"), 30, what="the waiting job says why")
        assert len(vprinter.receipts()) == 5
        assert any(e.type == "printer" and e.data.get("state") == "paper_out" for e in drain(events))

        vprinter.set_state("online")  # new roll
        wait_for(lambda: jobs.counts(app.store)["done"] == 20, 30, what="all jobs done")
        wait_for(lambda: len(vprinter.receipts()) >= 20, 30, what="20 receipts")
        assert app.health()["printer"]["state"] == "ok"
    finally:
        app.stop()
    receipts = vprinter.receipts()
    assert [r["text"][0]["text"] for r in receipts] == [str(n) for n in range(1, 21)]  # once each, in order
    assert vprinter.errors() == ""
    assert all(r["width"] <= 512 for r in receipts)


def test_a_printer_that_is_off_never_blocks_check_in_and_jobs_wait(tmp_path, vprinter):
    vprinter.start(state="offline")
    app = kiosk_app(tmp_path, vprinter.port)
    app.start()
    try:
        for i in range(3):
            assert app.checkins.check_in(person(i), "camera").created
        wait_for(lambda: app.health()["printer"]["state"] == "unknown", 30, what="no answer reported as unknown")
        assert jobs.counts(app.store)["pending"] == 3
        vprinter.set_state("online")
        wait_for(lambda: jobs.counts(app.store)["done"] == 3, 30, what="jobs printed after power-on")
    finally:
        app.stop()
    assert [r["text"][0]["text"] for r in vprinter.receipts()] == ["1", "2", "3"]


def test_a_job_interrupted_by_a_crash_is_failed_not_printed_twice_and_staff_can_reprint(tmp_path):
    app = kiosk_app(tmp_path, 9100, backend="memory")
    checkin = app.checkins.check_in(person(1), "staff").checkin
    job = jobs.next_pending(app.store)
    jobs.mark_printing(app.store, job["id"], "2026-11-25T07:00:00.000+00:00")  # the process died here
    worker = PrinterWorker(app.store, app.config, app.events, app.clock)
    worker.start()
    try:
        assert worker.interrupted == [job["id"]]
        failed = jobs.get(app.store, job["id"])
        assert failed["state"] == "failed" and "may or may not have printed" in failed["last_error"]

        again = jobs.request_reprint(app.store, job["id"], "staff:lan", "citizen has no ticket", app.clock.stamp())
        assert again["copy"] == 1 and again["kind"] == "ticket" and again["checkin_id"] == checkin["id"]
        wait_for(lambda: jobs.get(app.store, again["id"])["state"] == "done", 30, what="reprint printed")
    finally:
        worker.stop()
    audit = app.store.query("SELECT * FROM audit_log WHERE action='print.reprint'")
    assert len(audit) == 1 and audit[0]["actor"] == "staff:lan" and audit[0]["reason"] == "citizen has no ticket"
    assert json.loads(audit[0]["detail"])["copy"] == 1
    # The memory backend got exactly one job: the reprint, marked as one.
    assert worker.printer.memory_output.count(b"\x1dV") == 1
    assert jobs.counts(app.store) == {"pending": 0, "printing": 0, "done": 1, "failed": 1}
    app.store.close()


def test_a_certificate_job_without_its_record_fails_with_a_reason_and_does_not_block_tickets(tmp_path):
    app = kiosk_app(tmp_path, 9100, backend="memory")
    checkin = app.checkins.check_in(person(2), "staff").checkin
    with app.store.transaction() as db:
        db["print_jobs"].insert({"kind": "certificate", "checkin_id": checkin["id"], "subject_id": "missing",
                                 "copy": 0, "state": "pending", "created_wall": "x", "updated_wall": "x"})
    app.checkins.check_in(person(3), "staff")
    worker = PrinterWorker(app.store, app.config, app.events, app.clock)
    worker.start()
    try:
        wait_for(lambda: jobs.counts(app.store)["pending"] == 0, 30, what="queue drained")
    finally:
        worker.stop()
    states = [r["state"] for r in app.store.query("SELECT state FROM print_jobs ORDER BY id")]
    assert states == ["done", "failed", "done"]
    app.store.close()


def test_a_certificate_job_prints_the_certificate_modules_signed_qr(tmp_path, vprinter):
    from kiosk.certificates import hcert
    from kiosk.certificates.trustlist import trust_store
    from kiosk.vaccination import Injection, VaccinationService

    vprinter.start()
    app = kiosk_app(tmp_path, vprinter.port)
    checkin = app.checkins.check_in(person(5), "staff").checkin
    vaccinations = VaccinationService(app.store, app.config.kiosk, app.clock)
    app.checkins.call_next("desk-1", "staff:lan")
    vaccinations.record_screening(checkin["id"], "eligible", "staff:lan")
    dose = vaccinations.record_injection(checkin["id"], Injection("comirnaty", "FK1234", 1, "Lê Thị Mai"),
                                         "staff:lan")
    vaccinations.finish(checkin["id"], "staff:lan", early_reason="test: observation shortened")
    app.start()
    try:
        wait_for(lambda: jobs.counts(app.store)["done"] == 2, 30, what="ticket and certificate printed")
    finally:
        app.stop()
    ticket, certificate = vprinter.receipts()
    assert ticket["qr"] == [] and [run["text"] for run in ticket["text"]] == ["1"]
    assert len(certificate["qr"]) == 1 and certificate["qr"][0].startswith("HC1:")
    assert certificate["qr"] == certificate["qr_commands"]  # the picture decodes to exactly what was sent
    # ... and what was sent is this dose's certificate, signed by this kiosk's key.
    verdict = hcert.verify(certificate["qr"][0], trust_store(app.config.kiosk.data_dir), app.clock.now())
    assert verdict.valid, verdict.reason
    assert verdict.to_json()["doses"][0]["ci"] == dose["uvci"] and verdict.to_json()["name"] == checkin["full_name"]


def test_technician_test_print_goes_through_the_worker_between_jobs(tmp_path, vprinter):
    vprinter.start()
    app = kiosk_app(tmp_path, vprinter.port)
    events = app.events.subscribe()
    app.start()
    try:
        assert app.checkins.check_in(person(1), "staff").created
        app.part("printer").test_print()
        wait_for(lambda: len(vprinter.receipts()) >= 2, 30, what="ticket and test slip printed")
        wait_for(lambda: any(e.data.get("test_print") == "done" for e in drain(events)), 30, what="test print event")
    finally:
        app.stop()
    receipts = vprinter.receipts()
    assert len(receipts) == 2 and vprinter.errors() == ""
    assert "VXK1:DOCTOR:k1" in [q for r in receipts for q in r["qr"]]
