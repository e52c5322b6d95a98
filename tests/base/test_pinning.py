"""The rules of base.pinning, which need no server: which addresses a kiosk talks to at all, and how a key pin
typed by a technician is read. (Against real servers: tests/security/test_enrolment_trust.py.)"""

import pytest

from base.pinning import UntrustedCentral, check_url, normalise_pin, pin_groups

PIN = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("url", ["http://127.0.0.1:8081", "http://localhost", "http://[::1]:8081/x",
                                 "https://127.0.0.2", "https://central.example.vn"])
def test_https_anywhere_and_plain_http_only_to_this_machine(url):
    assert check_url(url).hostname


@pytest.mark.parametrize("url, code", [("http://127.0.0.2:8081", "insecure_central"),
                                       ("http://192.168.1.10", "insecure_central"),
                                       ("http://central.example.vn", "insecure_central"),
                                       ("http://localhost.evil.example", "insecure_central"),
                                       ("ftp://central.example.vn", "bad_url"),
                                       ("https://", "bad_url"), ("https://central:notaport", "bad_url")])
def test_everything_else_is_refused_before_any_connection(url, code):
    with pytest.raises(UntrustedCentral) as refused:
        check_url(url)
    assert refused.value.code == code


def test_a_pin_reads_as_printed_or_as_written():
    printed = pin_groups(PIN)  # what enrol-code and the set-up screen show
    assert printed.startswith("0123 4567 89AB CDEF") and len(printed.split()) == 16
    for typed in (PIN, PIN.upper(), printed, "SHA256:" + printed.replace(" ", ":")):
        assert normalise_pin(typed) == PIN
    for bad in ("", "sha256:", PIN[:-1], PIN + "0", "sha1:" + "0" * 40, PIN[:-1] + "g"):
        with pytest.raises(ValueError):
            normalise_pin(bad)
