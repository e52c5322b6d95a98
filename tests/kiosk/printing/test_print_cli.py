"""The printing CLI contract: print-sample writes bytes, escpos-render reads them back (or refuses them)."""

import pytest

import datetime as dt

from drivers.escpos_render import render_bytes
from kiosk.certificates import hcert
from kiosk.certificates.trustlist import trust_store
from kiosk.identity import parse
from tests.conftest import SAMPLE_QR, vaxkiosk_json

SIGNED_AT = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("profile,width", [("POS-5890", 384), ("TM-T88V", 512), ("TM-T20II", 576)])
def test_ticket_sample_renders_back_strictly(tmp_path, profile, width):
    out, png = tmp_path / "t.bin", tmp_path / "t.png"
    code, result = vaxkiosk_json("print-sample", "--kind", "ticket", "--payload", SAMPLE_QR, "--profile", profile,
                                 "--out", str(out))
    assert code == 0 and result["width"] == width and result["bytes"] == out.stat().st_size
    code, rendered = vaxkiosk_json("escpos-render", str(out), "--profile", profile, "--out", str(png))
    assert code == 0 and rendered["ok"] and rendered["width"] == width and png.exists()
    assert [run["text"] for run in rendered["text"]] == ["1"]
    assert b"Tr\xe1\xba\xa7n" not in out.read_bytes()  # the name is never sent as text


def test_escpos_render_exits_non_zero_on_bytes_the_profile_cannot_print(tmp_path):
    out = tmp_path / "t.bin"
    vaxkiosk_json("print-sample", "--kind", "ticket", "--payload", SAMPLE_QR, "--profile", "TM-T20II",
                  "--out", str(out))
    code, result = vaxkiosk_json("escpos-render", str(out), "--profile", "POS-5890", "--out",
                                 str(tmp_path / "x.png"))
    assert code != 0 and result["ok"] is False and "wide" in result["error"]["message_en"]


def test_a_scanned_code_that_is_not_an_id_card_is_refused(tmp_path):
    code, result = vaxkiosk_json("print-sample", "--kind", "ticket", "--payload", "hello", "--out",
                                 str(tmp_path / "t.bin"))
    assert code == 1 and result["ok"] is False and result["error"]["message_vi"]


@pytest.mark.parametrize("profile", ["POS-5890", "TM-T88V"])
def test_certificate_sample_qr_is_the_certificate_modules_payload(tmp_path, profile):
    out, png = tmp_path / "c.bin", tmp_path / "c.png"
    code, result = vaxkiosk_json("print-sample", "--kind", "certificate", "--payload", SAMPLE_QR, "--profile",
                                 profile, "--data-dir", str(tmp_path / "data"), "--out", str(out),
                                 "--at", SIGNED_AT.isoformat())
    assert code == 0 and result["qr"] and result["qr"][0].startswith("HC1:")
    code, rendered = vaxkiosk_json("escpos-render", str(out), "--profile", profile, "--out", str(png))
    assert code == 0 and rendered["qr"] == result["qr"]
    assert render_bytes(out.read_bytes(), profile)
    # The printed QR is a certificate the data dir's own key signed, for the person in the payload.
    verdict = hcert.verify(result["qr"][0], trust_store(tmp_path / "data"), SIGNED_AT)
    assert verdict.valid, verdict.reason
    assert verdict.to_json()["name"] == parse(SAMPLE_QR).full_name
