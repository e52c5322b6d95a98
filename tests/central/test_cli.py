"""`vaxkiosk central --config central.toml` as a process: strict config, ingest from real kiosk processes."""

import os
import subprocess
import sys

from central.store import CentralStore
from tests.conftest import ROOT, vaxkiosk
from tests.support.sync import KioskProcess, check_in_many, outbox_undelivered, sync_config, wait_for


def central_toml(tmp_path, port: int, extra: str = "") -> str:
    path = tmp_path / "central.toml"
    path.write_text(f'[central]\ndata_dir = "{tmp_path / "central"}"\n[mqtt]\nport = {port}\n{extra}',
                    encoding="utf-8")
    return str(path)


def test_a_config_mistake_stops_central_with_a_message_naming_the_key(tmp_path):
    proc = vaxkiosk("central", "--config", central_toml(tmp_path, 1883, "batch_mx = 5\n"), timeout=30)
    assert proc.returncode == 78
    assert b"mqtt.batch_mx: unknown key (did you mean 'batch_max'?)" in proc.stderr
    proc = vaxkiosk("central", "--config", central_toml(tmp_path, 1883, "[centrl]\n"), timeout=30)
    assert proc.returncode == 78 and b"[centrl]: unknown section (did you mean [central]?)" in proc.stderr


def test_two_central_processes_ingest_what_kiosk_processes_commit(tmp_path, mosquitto):
    config = central_toml(tmp_path, mosquitto.port, '[web]\nport = 8090\n')  # [web] belongs to the web app
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    centrals = [subprocess.Popen([sys.executable, "-m", "kiosk", "central", "--config", config],
                                 stderr=subprocess.PIPE, env=env) for _ in range(2)]
    kiosks = [KioskProcess(sync_config(tmp_path, mosquitto.port, kiosk=k)) for k in ("k1", "k2")]
    try:
        made = {k.config: check_in_many(k.config, 100) for k in kiosks}
        for k in kiosks:
            k.start()
        store = CentralStore(tmp_path / "central" / "central.db")
        wait_for(lambda: os.path.exists(tmp_path / "central" / "central.db"), 10, what="central database")
        try:
            wait_for(lambda: store.record_count("checkins") == 200, 30, what="200 records")
            assert set(store.record_ids("k1", "checkins")) == set(made[kiosks[0].config])
            wait_for(lambda: {k["kiosk"]: k["state"] for k in store.fleet()} == {"k1": "online", "k2": "online"},
                     10, what="both online")
        finally:
            store.close()
        for k in kiosks:
            wait_for(lambda: outbox_undelivered(k.config) == 0, 10, what="acknowledged")
    finally:
        for k in kiosks:
            k.kill()
        for proc in centrals:
            proc.terminate()
        codes = [proc.wait(15) for proc in centrals]
    assert codes == [0, 0], [p.stderr.read().decode()[-2000:] for p in centrals]
