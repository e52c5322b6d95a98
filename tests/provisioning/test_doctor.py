"""`vaxkiosk doctor` against a file camera source, the virtual network printer and the test broker."""

from __future__ import annotations

import random

import pytest

from devtools.simulation.cards import card_frame, write_card_video, write_frame_folder
from tests.conftest import SAMPLE_QR, vaxkiosk, vaxkiosk_json, write_config
from tests.provisioning.conftest import SITE
from tests.support.virtual_printer import VirtualPrinterProcess, wait_until

HEALTHY = {"VAXKIOSK_CLOCK_SYNCED": "1"}


@pytest.fixture
def printer(tmp_path):
    virtual = VirtualPrinterProcess(tmp_path / "printer").start()
    yield virtual
    virtual.stop()


@pytest.fixture
def camera_folder(tmp_path):
    rng = random.Random(8)
    return write_frame_folder(tmp_path / "frames", [card_frame(SAMPLE_QR, rng) for _ in range(3)])


def kiosk_toml(tmp_path, central, enrolment, printer, camera: str, name="kiosk.toml") -> str:
    extra = (f'[camera]\nenabled = true\nsource = "{camera}"\n\n'
             f'[printer]\nenabled = true\nbackend = "network"\nport = {printer.port}\ntimeout = 1.0\n\n'
             f'[mqtt]\nenabled = true\nport = {central.broker.port}\nusername = "{enrolment.kiosk_id}"\n'
             f'password = "{enrolment.mqtt_password}"\n')
    path = write_config(tmp_path / name, tmp_path / "data", site=SITE, kiosk=enrolment.kiosk_id, extra=extra)
    return str(path)


def checks(out: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in out["checks"]}


@pytest.fixture
def enrolment(central):
    return central.registry.redeem(central.registry.create_code(SITE)[0])


def test_all_checks_pass_and_test_print_reaches_the_printer(central, enrolment, printer, camera_folder, tmp_path):
    config = kiosk_toml(tmp_path, central, enrolment, printer, str(camera_folder))
    code, out = vaxkiosk_json("doctor", "--config", config, "--json", "--test-print", env=HEALTHY)
    assert checks(out) == {"config": "pass", "disk": "pass", "clock": "pass", "camera": "pass", "decoder": "pass",
                           "printer": "pass", "broker": "pass"}, out
    assert code == 0 and out["ok"]
    decoder = next(c for c in out["checks"] if c["name"] == "decoder")
    assert "3 of 3 camera frames hold a code" in decoder["detail"]
    slip = wait_until(printer.receipts, what="the test slip")[0]
    assert f"VXK1:DOCTOR:{enrolment.kiosk_id}" in slip["qr"] + slip["qr_commands"]
    assert printer.errors() == ""  # every byte of the slip is valid ESC/POS for the profile

    # The human report says the same, with a result line in both languages.
    proc = vaxkiosk("doctor", "--config", config, env=HEALTHY)
    text = proc.stdout.decode()
    assert proc.returncode == 0 and "[OK  ] broker" in text and "ĐẠT / all checks passed" in text
    assert enrolment.mqtt_password not in text


def test_a_video_file_counts_as_a_camera(central, enrolment, printer, tmp_path):
    video = write_card_video(tmp_path / "desk.avi", [SAMPLE_QR], hold_frames=3, gap_frames=1)
    code, out = vaxkiosk_json("doctor", "--config", kiosk_toml(tmp_path, central, enrolment, printer, str(video)),
                              "--json", env=HEALTHY)
    assert checks(out)["camera"] == "pass" and code == 0


def test_failing_checks_are_reported_and_exit_non_zero(central, enrolment, printer, tmp_path):
    empty = tmp_path / "no-frames"
    empty.mkdir()
    printer.set_state("paper_out")
    config = kiosk_toml(tmp_path, central, enrolment, printer, str(empty))
    central.registry.revoke(enrolment.kiosk_id)
    code, out = vaxkiosk_json("doctor", "--config", config, "--json",
                              env={"VAXKIOSK_CLOCK_SYNCED": "0", "VAXKIOSK_FAKE_FREE_BYTES": str(1024 * 1024)})
    assert code == 1 and not out["ok"]
    assert checks(out) == {"config": "pass", "disk": "fail", "clock": "fail", "camera": "fail", "decoder": "pass",
                           "printer": "fail", "broker": "fail"}
    details = {c["name"]: c["detail"] for c in out["checks"]}
    assert "paper out" in details["printer"] and "holds no images" in details["camera"]
    assert "refused" in details["broker"]

    proc = vaxkiosk("doctor", "--config", config, env={"VAXKIOSK_CLOCK_SYNCED": "0"})
    assert proc.returncode == 1 and "LỖI / failed:" in proc.stdout.decode()


@pytest.mark.parametrize("fault, words", [("offline", "no status answer"), ("cover_open", "cover open")])
def test_printer_faults(central, enrolment, printer, camera_folder, tmp_path, fault, words):
    printer.set_state(fault)
    code, out = vaxkiosk_json("doctor", "--config", kiosk_toml(tmp_path, central, enrolment, printer,
                                                                str(camera_folder)), "--json", env=HEALTHY)
    printer_check = next(c for c in out["checks"] if c["name"] == "printer")
    assert code == 1 and printer_check["status"] == "fail" and words in printer_check["detail"]


def test_printer_switched_off_and_broker_down(central, enrolment, printer, camera_folder, tmp_path):
    config = kiosk_toml(tmp_path, central, enrolment, printer, str(camera_folder))
    printer.stop()
    central.broker.stop()
    code, out = vaxkiosk_json("doctor", "--config", config, "--json", env=HEALTHY)
    assert code == 1 and checks(out)["printer"] == "fail" and checks(out)["broker"] == "fail"
    assert "cannot connect" in next(c for c in out["checks"] if c["name"] == "broker")["detail"]


def test_broken_config_is_the_only_check_reported(tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[kiosk]\nsite_id = "GL 01"\nkiosk_id = "k1"\n[printr]\n')
    code, out = vaxkiosk_json("doctor", "--config", str(bad), "--json")
    assert code == 1 and [c["name"] for c in out["checks"]] == ["config"]
    assert "did you mean [printer]?" in out["checks"][0]["detail"]


def test_parts_not_enabled_are_skipped(tmp_path):
    config = write_config(tmp_path / "kiosk.toml", tmp_path / "data")
    code, out = vaxkiosk_json("doctor", "--config", str(config), "--json", env=HEALTHY)
    assert code == 0
    assert checks(out) == {"config": "pass", "disk": "pass", "clock": "pass", "camera": "skip", "decoder": "pass",
                           "printer": "skip", "broker": "skip"}
