"""The real processes: `vaxkiosk kiosk` with a network printer configured, `vaxkiosk checkin`, the virtual printer."""

import json
import os
import signal
import subprocess
import sys

from tests.conftest import ROOT, SAMPLE_QR, vaxkiosk, vaxkiosk_json, write_config
from tests.support.virtual_printer import VirtualPrinterProcess
from tests.support.waiting import wait_for


def test_a_check_in_prints_its_ticket_through_the_kiosk_process(tmp_path):
    printer = VirtualPrinterProcess(tmp_path / "printer", profile="POS-5890").start()
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "data",
                          extra=f'[printer]\nenabled = true\nport = {printer.port}\nprofile = "POS-5890"\n'
                                f'paper_mm = 58\npoll_seconds = 0.2\n\n[web]\nenabled = false\n')
    log = open(tmp_path / "kiosk.log", "wb")
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--config", str(config)],
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        code, result = vaxkiosk_json("checkin", "--config", str(config), SAMPLE_QR)
        assert code == 0 and result["ticket"] == 1
        receipts = wait_for(lambda: printer.receipts(), 30, what="the ticket on paper")
        assert [run["text"] for run in receipts[0]["text"]] == ["1"] and receipts[0]["width"] == 384
        def done_jobs():
            lines = vaxkiosk("print-jobs", "--config", str(config)).stdout.decode().splitlines()
            return [job for job in map(json.loads, lines) if job["state"] == "done"]

        jobs = wait_for(done_jobs, 30, what="job marked done")
        assert len(jobs) == 1 and jobs[0]["attempts"] == 1
    finally:
        kiosk.send_signal(signal.SIGTERM)
        kiosk.wait(30)
        log.close()
        printer.stop()
    assert kiosk.returncode == 0
    kiosk_log = (tmp_path / "kiosk.log").read_text(encoding="utf-8")
    assert "064195001234" not in kiosk_log and "Nhung" not in kiosk_log  # no personal data in the log
