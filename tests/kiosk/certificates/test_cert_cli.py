"""`vaxkiosk print-sample --kind certificate` → `escpos-render` → `vaxkiosk verify-cert`, as a technician or an
inspector runs them (real subprocesses). Every signature and verification takes an explicit clock (`--at`)."""

from __future__ import annotations

import datetime as dt

import pytest
import segno

from tests.conftest import SAMPLE_QR, vaxkiosk, vaxkiosk_json, write_config
from tests.support.dcc_issuer import PS256, ExternalIssuer

pytestmark = pytest.mark.dates

SIGNED_AT = "2026-11-25T09:30:00+07:00"
LATER = "2026-12-01T08:00:00Z"  # when the inspector checks it
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)


def dev_env(tmp_path, name="dev") -> dict:
    """A development machine: no configuration file, data in $VAXKIOSK_DATA."""
    return {"VAXKIOSK_DATA": str(tmp_path / name), "VAXKIOSK_CONFIG": "", "HOME": str(tmp_path / "home")}


def print_sample(tmp_path, env, *extra) -> dict:
    """The sample certificate printed to ESC/POS bytes, rendered to paper, the QR read off the paper."""
    out = tmp_path / "certificate.bin"
    rc, printed = vaxkiosk_json("print-sample", "--kind", "certificate", "--payload", SAMPLE_QR, "--profile",
                                "TM-T88V", "--out", str(out), "--at", SIGNED_AT, *extra, env=env)
    assert rc == 0, printed
    rc, paper = vaxkiosk_json("escpos-render", str(out), "--profile", "TM-T88V", "--out",
                              str(tmp_path / "certificate.png"), env=env)
    assert rc == 0 and paper["qr"] == printed["qr"]
    return {"qr_payload": paper["qr"][0], "png": tmp_path / "certificate.png"}


def test_print_sample_then_verify_on_the_same_machine(tmp_path):
    sample = print_sample(tmp_path, dev_env(tmp_path))
    assert (tmp_path / "dev" / "signing" / "dsc.pem").exists()  # created on first use in $VAXKIOSK_DATA
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, sample["qr_payload"], env=dev_env(tmp_path))
    assert rc == 0 and out["valid"] is True and out["reason"] == "ok"
    assert out["name"] == "Trần Thị Hồng Nhung" and out["dob"] == "1995-08-12" and out["kid"]
    assert (out["issued"], out["expires"]) == ("2026-11-25T02:30:00+00:00", "2027-11-25T02:30:00+00:00")
    assert out["doses"][0]["ci"].startswith("URN:UVCI:01:VN:VXK/DEV/") and out["doses"][0]["dn"] == 1
    assert out["doses"][0]["dt"] == "2026-11-25"  # the signing day in Vietnam
    rc, from_image = vaxkiosk_json("verify-cert", "--at", LATER, "--image", str(sample["png"]),
                                   env=dev_env(tmp_path))
    assert rc == 0 and from_image["doses"] == out["doses"]


def test_another_machine_does_not_trust_it_until_given_the_certificate(tmp_path):
    sample = print_sample(tmp_path, dev_env(tmp_path))
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, sample["qr_payload"], env=dev_env(tmp_path, "other"))
    assert (rc, out["valid"], out["reason"]) == (1, False, "unknown_kid")
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "--trust", str(tmp_path / "dev" / "signing" / "dsc.pem"),
                            sample["qr_payload"], env=dev_env(tmp_path, "other"))
    assert (rc, out["valid"]) == (0, True)


def test_the_validation_clock(tmp_path):
    sample = print_sample(tmp_path, dev_env(tmp_path))
    text = sample["qr_payload"]

    def reason_at(at):
        rc, out = vaxkiosk_json("verify-cert", "--at", at, text, env=dev_env(tmp_path))
        assert rc == (0 if out["valid"] else 1)
        return out["reason"]

    assert reason_at("2040-01-01T00:00:00Z") == "expired"
    assert reason_at("2020-01-01") == "not_yet_valid"
    # Valid until exp itself, in any zone the inspector's clock is written in.
    assert reason_at("2027-11-25T09:30:00+07:00") == "ok"
    assert reason_at("2027-11-25T02:30:00") == "ok"  # no zone: UTC
    assert reason_at("2027-11-25T09:30:01+0700") == "expired"
    proc = vaxkiosk("verify-cert", "--at", "yesterday", text, env=dev_env(tmp_path))
    assert proc.returncode == 2 and b"ISO 8601" in proc.stderr


def test_print_sample_refuses_to_sign_before_2026(tmp_path):
    rc, out = vaxkiosk_json("print-sample", "--kind", "certificate", "--payload", SAMPLE_QR, "--out",
                            str(tmp_path / "c.bin"), "--at", "1970-01-01T00:05:00Z", env=dev_env(tmp_path))
    assert (rc, out["ok"], out["error"]["code"]) == (1, False, "clock_not_set")
    assert out["error"]["message_vi"].startswith("Đồng hồ của kiosk chưa đúng")
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "dev" / "signing").exists()


def test_a_ps256_certificate_from_another_issuer_with_an_external_pem_trust_file(tmp_path):
    issuer = ExternalIssuer(PS256, country="DE", now=NOW)
    trust = tmp_path / "de-dsc.pem"
    trust.write_bytes(issuer.pem())
    for kid_in, cwt in (("protected", False), ("unprotected", True)):
        text = issuer.issue(NOW - dt.timedelta(days=1), kid_in=kid_in, cwt_tag=cwt)
        rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "--trust", str(trust), text, env=dev_env(tmp_path))
        assert (rc, out["valid"], out["name"], out["dob"]) == (0, True, "Müller Anna", "1980-02-29")
    # Several --trust files; a QR image of the foreign certificate.
    other = ExternalIssuer(-7, country="FR", now=NOW)
    other_pem = tmp_path / "fr-dsc.pem"
    other_pem.write_bytes(other.pem())
    png = tmp_path / "fr.png"
    segno.make_qr(other.issue(NOW), error="q").save(png, scale=3)
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "--trust", str(trust), "--trust", str(other_pem),
                            "--image", str(png), env=dev_env(tmp_path))
    assert (rc, out["valid"]) == (0, True)


def test_not_a_certificate(tmp_path):
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "064195001234", env=dev_env(tmp_path))
    assert (rc, out["valid"], out["reason"], out["name"]) == (1, False, "not_hc1", None)
    blank = tmp_path / "blank.png"
    segno.make_qr("not a certificate").save(blank, scale=3)
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "--image", str(blank), env=dev_env(tmp_path))
    assert (rc, out["reason"]) == (1, "not_hc1")
    from PIL import Image

    Image.new("L", (200, 200), 255).save(tmp_path / "white.png")
    rc, out = vaxkiosk_json("verify-cert", "--at", LATER, "--image", str(tmp_path / "white.png"),
                            env=dev_env(tmp_path))
    assert (rc, out["reason"]) == (1, "no_qr_in_image")


def test_with_a_kiosk_configuration_the_kiosk_data_dir_is_used(tmp_path):
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "kiosk-data")
    sample = print_sample(tmp_path, dev_env(tmp_path), "--config", str(config))
    assert (tmp_path / "kiosk-data" / "signing" / "dsc.pem").exists() and not (tmp_path / "dev").exists()
    rc, _ = vaxkiosk_json("verify-cert", "--at", LATER, sample["qr_payload"],
                          env={**dev_env(tmp_path), "VAXKIOSK_CONFIG": str(config)})
    assert rc == 0
