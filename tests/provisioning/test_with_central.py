"""The whole path with the real processes: `vaxkiosk central` (aggregator with the registry), a kiosk provisioned
with a code running `vaxkiosk kiosk` (its sync part), and the records arriving at central; a revoked kiosk stops
counting at central as well as at the broker."""

from __future__ import annotations

import os
import subprocess
import sys

from central.store import CentralStore
from kiosk.config import load
from tests.conftest import ROOT, vaxkiosk_json
from tests.provisioning.conftest import SITE
from tests.support.sync import KioskProcess, check_in_many, wait_for


def start_central(config_path) -> subprocess.Popen:
    log = (config_path.parent / "central.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "kiosk", "central", "--config", str(config_path)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_provisioned_kiosk_appears_online_at_central_and_its_records_arrive(central, tmp_path):
    code, created = vaxkiosk_json("central", "enrol-code", "--site", SITE, "--json", *central.registry_args)
    assert code == 0
    kiosk_config = tmp_path / "kiosk" / "kiosk.toml"
    code, out = vaxkiosk_json("provision", "--qr-text", created["qr_text"], "--config", str(kiosk_config), "--json",
                              "--data-dir", str(tmp_path / "kiosk" / "data"))
    assert code == 0, out
    with kiosk_config.open("a") as f:
        f.write("\n[web]\nenabled = false\n")  # the screens are not under test here
    kiosk_id = out["kiosk_id"]

    aggregator = start_central(central.config_path)
    kiosk = KioskProcess(kiosk_config).start()
    store = CentralStore(tmp_path / "central" / "central.db")
    try:
        wait_for(lambda: (store.kiosk(kiosk_id) or {}).get("state") == "online", 30, what="kiosk online at central")
        assert store.kiosk(kiosk_id)["site"] == SITE
        check_in_many(kiosk_config, 3)
        wait_for(lambda: store.record_count("checkins", kiosk=kiosk_id) == 3, 30, what="3 check-ins at central")

        # Revoked: the broker cuts the kiosk off (no Last Will: a revoked user may not publish); the fleet view says
        # so and central gets nothing more from it.
        code, _ = vaxkiosk_json("central", "revoke", "--kiosk", kiosk_id, "--json", *central.registry_args)
        assert code == 0
        assert store.kiosk(kiosk_id)["state"] == "revoked"
        check_in_many(kiosk_config, 2, start=3)
        assert kiosk.proc.poll() is None  # the kiosk keeps checking citizens in; only its link is gone
        # The kiosk keeps retrying with its refused password; a new kiosk enrolled meanwhile is a barrier that
        # shows central is still ingesting.
        other = central.registry.redeem(central.registry.create_code(SITE)[0])
        other_config = tmp_path / "other" / "kiosk.toml"
        other_config.parent.mkdir()
        other_config.write_text(kiosk_config.read_text().replace(kiosk_id, other.kiosk_id).replace(
            str(tmp_path / "kiosk" / "data"), str(tmp_path / "other" / "data")).replace(
            load(kiosk_config).mqtt.password, other.mqtt_password))
        second = KioskProcess(other_config).start()
        try:
            check_in_many(other_config, 1, start=10)
            wait_for(lambda: store.record_count("checkins", kiosk=other.kiosk_id) == 1, 30, what="barrier record")
        finally:
            second.stop()
        assert store.record_count("checkins", kiosk=kiosk_id) == 3
        assert store.kiosk(kiosk_id)["state"] == "revoked"
    finally:
        store.close()
        kiosk.stop()
        aggregator.terminate()
        aggregator.wait(15)
