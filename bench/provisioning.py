"""Figures for docs/performance.md (provisioning): how long enrolment and revocation take on this machine.

    PYTHONPATH=. python bench/provisioning.py [--runs 5] [--fleet 2000]

Starts a real Mosquitto with the generated password file + ACL and the enrolment blueprint under waitress (loopback),
then per run: `vaxkiosk provision --central URL --code CODE` as a subprocess (what a technician types; includes
Python start-up), `vaxkiosk doctor` on the new config, the kiosk's first MQTT login, and `Registry.revoke` until the broker has closed the kiosk's live
connection. Prints medians; the runs are side by side in one process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from central import broker  # noqa: E402
from central.enrol_api import BrokerAccess, make_blueprint  # noqa: E402
from central.registry import Registry  # noqa: E402
from kiosk.config import load  # noqa: E402
from tests.provisioning.conftest import broker_readable_dir, start_broker  # noqa: E402
from tests.provisioning.mqtt_probe import Probe  # noqa: E402
from tests.support.served import Served  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fleet", type=int, default=0, help="kiosks enrolled before the runs (password file size)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vxk-bench-"))
    broker_dir = broker_readable_dir()
    pid_file = broker_dir / "mosquitto.pid"
    registry = Registry(work / "registry.db", broker.BrokerFiles(broker_dir, pid_file),
                        central_password_hash=broker.hash_password("bench"))
    registry.add_site("GL-01", "Trạm Y tế")
    registry.add_site("FLEET", "other sites")
    with registry.store.transaction() as db:  # a big fleet at once: one password file write instead of N
        for _ in range(args.fleet):
            registry._register(db, "FLEET", "bundle")
    registry.sync_broker()
    mosq = start_broker(broker_dir)
    pid_file.write_text(str(mosq.proc.pid))
    app = Flask("bench")
    app.register_blueprint(make_blueprint(registry, BrokerAccess("127.0.0.1", mosq.port)))
    server = Served(app)
    provision_s, login_s, revoke_s, doctor_s = [], [], [], []
    try:
        for i in range(args.runs):
            code, _ = registry.create_code("GL-01")
            config = work / f"kiosk-{i}.toml"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kiosk", "provision", "--central", server.url, "--code", code,
                            "--config", str(config), "--data-dir", str(work / "data")], check=True,
                           capture_output=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
            provision_s.append(time.perf_counter() - start)
            settings = load(config).mqtt
            start = time.perf_counter()
            # doctor with config, disk, clock, decoder and broker checks (no camera or printer on this machine)
            subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--config", str(config)], capture_output=True,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "VAXKIOSK_CLOCK_SYNCED": "1"})
            doctor_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            probe = Probe(settings.username, settings.password, settings.port).connect()
            login_s.append(time.perf_counter() - start)
            assert probe.accepted
            start = time.perf_counter()
            registry.revoke(settings.username)
            assert probe.disconnected.wait(10)
            revoke_s.append(time.perf_counter() - start)
            probe.client.loop_stop()
    finally:
        server.close()
        mosq.stop()
        registry.close()
    print(f"runs: {args.runs}, other kiosks in the password file: {args.fleet}")
    print(f"provision (CLI subprocess, code → config written): median {statistics.median(provision_s) * 1000:.0f} ms")
    print(f"doctor (CLI subprocess; config, disk, clock, decoder, broker): median "
          f"{statistics.median(doctor_s) * 1000:.0f} ms")
    print(f"first MQTT login with the new credentials:        median {statistics.median(login_s) * 1000:.1f} ms")
    print(f"revoke → live connection closed by the broker:    median {statistics.median(revoke_s) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
