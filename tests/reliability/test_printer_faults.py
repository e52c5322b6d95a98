"""Printer faults while citizens keep checking in: paper out, a roll running out half-way through a ticket, the
printer switched off, and the printer unplugged (its process killed) in the middle of jobs.

The virtual printer behaves like the hardware (docs/printing.md): it answers status, keeps what it received while
out of paper and prints it on a new roll, and loses its buffer when switched off. Expected: check-ins never wait for
the printer, the kiosk reports the printer not ok while it is faulty, and once it is back every ticket is on paper
at most once. A ticket the printer lost from its buffer when switched off or unplugged right after the kiosk sent it
is never lost silently: the printer stops answering the status query that follows every job, and the job fails
with "may not have printed", shown to staff.
"""

import time
from collections import Counter

import pytest

from tests.reliability.load import ScanLoad, seeded_rng
from tests.support.site import SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

FAULT_SECONDS = 3.0


def printer_ok(kiosk) -> bool | None:
    status, body = kiosk.request("GET", "/api/health")
    assert status == 200, body
    return body["parts"]["printer"]["ok"]


def test_paper_out_roll_end_switched_off_and_unplugged_printers_print_each_ticket_once(tmp_path):
    rng = seeded_rng("printer_faults")
    with SiteHarness(tmp_path) as site:
        kiosk, printer = site.kiosks[0], site.kiosks[0].printer
        tried = []
        with ScanLoad(kiosk, qr, interval=0.1) as load:
            for fault in ("paper_out", "cover_open", "offline"):
                printer.set_state(fault)
                tried.append(fault)
                wait_for(lambda: printer_ok(kiosk) is False, 10, what=f"kiosk sees the printer {fault}")
                pending_before = len(load.acknowledged)
                time.sleep(FAULT_SECONDS)
                assert len(load.acknowledged) > pending_before, f"check-ins stopped while the printer was {fault}"
                waiting = kiosk.query("SELECT count(*) AS n FROM print_jobs WHERE state = 'pending' "
                                      "AND last_error LIKE 'waiting: printer%'")[0]["n"]
                assert waiting > 0, f"no job shows it waits for the printer ({fault})"
                printer.set_state("online")
                wait_for(lambda: printer_ok(kiosk), 10, what=f"printer ok after {fault}")

            printer.set_state("roll:2")  # two more tickets, the third runs out half-way through
            tried.append("roll:2")
            wait_for(lambda: printer_ok(kiosk) is False, 20, what="kiosk sees the roll end")
            time.sleep(1)
            printer.set_state("online")  # new roll: the half-printed ticket comes out whole

            for _ in range(3):  # unplugged in the middle of jobs: the process dies with whatever it was receiving
                time.sleep(rng.uniform(0.2, 1.5))
                printer.proc.kill()
                tried.append("unplugged")
                time.sleep(rng.uniform(0.5, 2.0))
                printer.start()

        committed = set(kiosk.checkin_ids())
        assert set(load.acknowledged) <= committed
        wait_for(lambda: not kiosk.query("SELECT id FROM print_jobs WHERE state IN ('pending', 'printing')"), 60,
                 what="every print job finished")
        jobs = kiosk.ticket_jobs()
        states = Counter(j["state"] for j in jobs)
        printed = Counter(kiosk.ticket_numbers_printed())
        expected = Counter(range(1, len(committed) + 1))
        duplicated = sorted(n for n in expected if printed[n] > 1)
        # A printer switched off or unplugged just after taking a job's bytes loses them with its buffer: the worker
        # asks for the status after every job, and a printer that no longer answers fails the job with a reason
        # (never re-sent: it may have printed), so staff see it. No ticket may be lost without such a job.
        unconfirmed = [j for j in jobs if j["state"] == "failed"]
        lost = sorted(n for n in expected if printed[n] == 0)
        buffer_losing_faults = tried.count("offline") + tried.count("unplugged")
        print(f"printer_faults: faults {tried}; check-ins {len(committed)} (tried {load.tried}); jobs {dict(states)}; "
              f"receipts {sum(printed.values())}; duplicated {duplicated}; lost in the printer's buffer {lost}; "
              f"failed as unconfirmed {sorted(j['number'] for j in unconfirmed)}")
        assert states["done"] + states["failed"] == len(committed) == len(jobs)
        assert all("may not have printed" in (j["last_error"] or "") for j in unconfirmed), [dict(j) for j in unconfirmed]
        assert set(lost) <= {j["number"] for j in unconfirmed}, f"tickets lost without staff being told: {lost}"
        assert not duplicated, f"tickets printed twice: {duplicated}"
        assert len(unconfirmed) <= 2 * buffer_losing_faults, f"more unconfirmed jobs than the faults explain"
        assert not set(printed) - set(expected), "a receipt for no check-in"
        site.wait_drained(30)
