"""`vaxkiosk demo` as a user runs it: real broker, central, kiosks, virtual printers and modems and scripted staff,
counted."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from devtools.demo.summary import KioskCount, problems
from tests.conftest import ROOT, vaxkiosk


@pytest.fixture(scope="module")
def video_cache(tmp_path_factory) -> dict:
    """The demo keeps the camera videos it draws in $XDG_CACHE_HOME; the tests draw their own, not the user's."""
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}


def listening(url: str) -> bool:
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def screen_urls(text: str) -> list[str]:
    return re.findall(r"(http://127\.0\.0\.1:\d+)/", text)


@pytest.fixture(scope="module")
def timed_demo(tmp_path_factory, video_cache):
    """One timed run (it also draws the camera videos into the tests' cache) → (the process, its folder)."""
    tmp_path = tmp_path_factory.mktemp("timed")
    return vaxkiosk("demo", "--for", "30", "--dir", str(tmp_path / "demo"), timeout=240, env=video_cache), tmp_path


def test_timed_demo_adds_up_and_leaves_nothing_running(timed_demo):
    proc, tmp_path = timed_demo
    out = proc.stdout.decode()
    assert proc.returncode == 0, out[-3000:] + proc.stderr.decode()[-3000:]
    assert "OK: check-ins = tickets printed" in out
    result = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert result["problems"] == []
    kiosks = result["kiosks"]
    assert {k["site"] for k in kiosks} == {"GL-01", "HN-01"}
    for k in kiosks:
        assert k["checkins"] >= 5, k  # a 30 s video holds 10 citizens; the camera must have read most of them
        assert k["checkins"] == k["tickets_printed"] == k["central_checkins"]
        assert k["vaccinations"] == k["certificates_printed"] == k["central_vaccinations"] == k["central_certificates"]
        assert k["checkins"] == k["central_tickets"]
        # The staff reprint (devtools.demo.staff): central counts the reprints on their own, not as more people.
        assert k["certificates_reprinted"] >= 1 and k["certificates_reprinted"] == k["central_certificate_reprints"]
        assert k["tickets_reprinted"] == k["central_ticket_reprints"]
        assert k["vaccinations"] == k["checkins"]  # the staff drained the queue
        assert k["outbox_pending"] == k["print_jobs_open"] == k["in_queue"] == k["texts_open"] == 0
        assert k["texts_received"] == k["texts_marked_sent"] > 0
    # The texts the sites would have sent: every other citizen opted in; numbers masked; one site in UCS-2 with its
    # diacritics, the other in unaccented GSM-7.
    texts = result["texts"]
    by_site = {k["site"]: texts[k["kiosk"]] for k in kiosks}
    assert {t["encoding"] for t in by_site["GL-01"]} == {"ucs2"}
    assert {t["encoding"] for t in by_site["HN-01"]} == {"gsm7"}
    assert any(t["text"].startswith("Bạn đã tiêm mũi 1") for t in by_site["GL-01"])
    assert any(t["text"].startswith("Ban da tiem mui 1") for t in by_site["HN-01"])
    assert all(re.fullmatch(r"09\d•{4}\d{3}", t["number"]) for sent in texts.values() for t in sent)
    assert "Texts from" in out and not re.search(r"09\d{8}", out)
    # The invalid cards in the video were refused, with their reason, and no ID number appears in full.
    log = (tmp_path / "demo" / "logs" / "kiosk-GL-01.log").read_text(encoding="utf-8")
    assert "camera scan refused: id_year_mismatch" in log and "camera scan refused: unsupported_code" in log
    assert not re.search(r"camera scan: \d{12}", log)
    # Every screen the demo announced is gone: it stopped what it started.
    urls = screen_urls(out)
    assert len(urls) >= 7  # central + 3 screens × 2 kiosks
    assert not any(listening(u) for u in urls)
    # Receipts are real PNG images, a certificate carries a signed HC1 QR.
    receipts = sorted((tmp_path / "demo" / "kiosk-GL-01" / "printer").glob("receipt-*.png"))
    assert receipts and receipts[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sigterm_stops_every_process_the_demo_started(tmp_path, video_cache, timed_demo):
    """After the timed run: the same videos come from the cache (no drawing), then SIGTERM mid-run."""
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "demo", "--for", "30", "--dir", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **video_cache})
    lines = []
    try:
        for raw in proc.stdout:
            lines.append(raw.decode())
            if "Running for 30 s" in lines[-1]:
                break
        head = "".join(lines)
        assert "drawing the camera videos" not in head, head  # drawn once, reused
        urls = screen_urls(head)
        assert len(urls) >= 7 and all(listening(u) for u in urls), head
        proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read().decode()
        assert proc.wait(60) == 130, rest  # a timed run cut short is not a success
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped every process the demo started" in rest and "had to kill" not in rest
    assert not any(listening(u) for u in urls)


def count(**changes) -> KioskCount:
    fields = dict(kiosk="GL-01-k01", site="GL-01", checkins=5, tickets_printed=5, central_checkins=5,
                  vaccinations=4, certificates_printed=4, central_vaccinations=4, central_certificates=4,
                  central_tickets=5, tickets_reprinted=1, certificates_reprinted=2, central_ticket_reprints=1,
                  central_certificate_reprints=2, in_queue=0, outbox_pending=0, print_jobs_open=0, print_jobs_failed=0,
                  texts_marked_sent=3, texts_received=3, texts_open=0, texts_failed=0)
    return KioskCount(**{**fields, **changes})


def test_summary_names_what_does_not_add_up():
    assert problems([count()]) == []
    assert problems([count(central_checkins=4)]) == [
        "GL-01-k01: check-ins 5, tickets printed 5, at central 4: they should be equal"]
    assert problems([count(certificates_printed=3)])[0].startswith("GL-01-k01: vaccinations 4, certificates printed 3")
    # Reprints are their own figure: central counting them as certificates (or not at all) does not add up.
    assert problems([count(central_certificates=6)]) == [
        "GL-01-k01: central counts 6 certificates, the kiosk printed 4"]
    assert problems([count(central_certificate_reprints=0)]) == [
        "GL-01-k01: central counts 0 certificate reprints, the kiosk printed 2"]
    assert problems([count(outbox_pending=2)]) == ["GL-01-k01: 2 outbox entries not delivered to central"]
    # Nothing at all is not a success: 0 = 0 = 0 says the path never ran.
    empty = count(checkins=0, tickets_printed=0, central_checkins=0, vaccinations=0, certificates_printed=0,
                  central_vaccinations=0, central_certificates=0, central_tickets=0, tickets_reprinted=0,
                  certificates_reprinted=0, central_ticket_reprints=0, central_certificate_reprints=0)
    assert len(problems([empty])) == 2
    assert "central" in problems([count(central_checkins=None)])[0]  # central did not answer
    assert problems([count(texts_received=2)]) == ["GL-01-k01: 3 texts marked sent, the modem took 2"]
    assert problems([count(texts_open=1)]) == ["GL-01-k01: 1 texts not sent"]
