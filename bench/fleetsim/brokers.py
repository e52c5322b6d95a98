"""The brokers of the fleet bench, configured as central configures them (central/broker.py: every kiosk its own
password and ACL block, kiosks refused on central's listener; central/bridge.py: regional brokers).

`regions` 0: one broker, kiosks and central on their own listeners of it. `regions` R > 0: the country's layout of
issues 17 and 24, R regional brokers (each with the kiosks of its sites, the same per-kiosk ACL) bridged over TLS to a
national broker that central connects to, each bridge logged in as its region with an ACL naming its sites' topics.

One Mosquitto holds one open file per connected kiosk, and a process may not hold more than its hard RLIMIT_NOFILE
(20,000 on the reference machine, which lacks CAP_SYS_RESOURCE to raise it): a fleet larger than one broker can hold
needs regions.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.fleetsim.kiosks import kiosk_id, kiosk_password, region_of, site_of
from central import bridge, broker
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port

ROOT = broker.TOPIC_ROOT


@dataclass
class Brokers:
    # One per region: kiosk i connects to kiosk_ports[region_of(i, len(kiosk_ports))]. With a direct group, the
    # first is a kiosk listener of the national broker itself.
    kiosk_ports: list[int]
    central_port: int
    direct: bool = False
    procs: list[Mosquitto] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [m.proc.pid for m in self.procs if m.running]

    def stop(self) -> None:
        for m in reversed(self.procs):
            m.stop()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def _broker_dir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"vxk-fleet-{name}-", dir="/tmp"))
    path.chmod(0o755)  # Mosquitto reads its files after it has dropped root for its own user
    _run_dir(path)
    return path


def _run_dir(path: Path) -> Path:
    run = path / "run"
    run.mkdir()
    try:
        os.chown(run, pwd.getpwnam("mosquitto").pw_uid, -1)  # its log and persistence file
    except (KeyError, PermissionError):
        pass
    return run


def _start(run_dir: Path, conf: list[str], port: int) -> Mosquitto:
    return Mosquitto(run_dir, extra_config="\n".join(conf) + "\n", port=port, persistence=True,
                     own_listener=False).start()


def _kiosk_logins(indices: range | list[int], secret: str) -> list[broker.KioskLogin]:
    return [broker.KioskLogin(kiosk_id(i), site_of(i), broker.hash_password(kiosk_password(secret, kiosk_id(i))))
            for i in indices]


def start_brokers(kiosks: int, regions: int, secret: str, central_password: str, direct: bool = False) -> Brokers:
    """`direct` (with regions): a share of the sites, as large as a region's, connects straight to the national
    broker, so that one run compares bridged and unbridged lag under the same load."""
    if regions == 0:
        return _single(kiosks, secret, central_password)
    return _regional(kiosks, regions, secret, central_password, direct)


def _single(kiosks: int, secret: str, central_password: str) -> Brokers:
    """One broker: kiosks on one listener, central on another."""
    d = _broker_dir("broker")
    files = broker.BrokerFiles(d)
    files.write(_kiosk_logins(range(kiosks), secret), broker.hash_password(central_password))
    kiosk_port, central_port = free_port(), free_port()
    conf = broker.global_conf_lines()
    for listener in (broker.Listener(kiosk_port, "127.0.0.1"), broker.Listener(central_port, "127.0.0.1",
                                                                               kiosks=False)):
        conf += [""] + listener.lines(files)
    brokers = Brokers([kiosk_port], central_port, dirs=[d])
    brokers.procs.append(_start(d / "run", conf, kiosk_port))
    wait_port(central_port)
    return brokers


def _regional(kiosks: int, regions: int, secret: str, central_password: str, direct: bool = False) -> Brokers:
    """The files `vaxkiosk central broker-config --bridge-listen` and `regional-broker-config` write, made with the
    same functions (there is no registry here: the kiosks' passwords derive from `secret`)."""
    national = _broker_dir("national")
    files = broker.BrokerFiles(national)
    bridge.regions_dir(files).mkdir()
    ca_pem, ca_key = broker.make_ca(national / "tls")
    cert, key = broker.make_server_cert(national / "tls", ca_pem, ca_key, ["127.0.0.1"])
    logins = _kiosk_logins(range(kiosks), secret)
    groups = regions + direct  # group 0 is the direct one when there is one
    defined = []
    for r in range(regions):
        sites = sorted({site_of(i) for i in range(kiosks) if region_of(i, groups) == r + direct})
        password = broker.new_password()
        defined.append((bridge.define_region(files, f"r{r}", sites, set(sites), password), password))
    # As the registry does: every file from the one list of kiosks; each region's files get its own kiosks.
    files.write(logins, broker.hash_password(central_password))
    central_port, bridge_port = free_port(), free_port()
    listeners = [broker.Listener(central_port, "127.0.0.1", kiosks=False),
                 broker.Listener(bridge_port, "127.0.0.1", kiosks=False, bridges=True, cafile=str(ca_pem),
                                 certfile=str(cert), keyfile=str(key))]
    brokers = Brokers([], central_port, direct=direct, dirs=[national])
    if direct:
        listeners.append(broker.Listener(free_port(), "127.0.0.1"))
        brokers.kiosk_ports.append(listeners[-1].port)
    conf = broker.global_conf_lines()
    for listener in listeners:
        conf += [""] + listener.lines(files)
    brokers.procs.append(_start(national / "run", conf, central_port))
    wait_port(bridge_port)
    for region, password in defined:
        port = free_port()
        region_conf = bridge.write_regional_conf(files, region, [broker.Listener(port, "127.0.0.1")],
                                                 f"127.0.0.1:{bridge_port}", password, ca_pem)
        run = _run_dir(bridge.region_dir(files, region.name))
        brokers.procs.append(Mosquitto(run, extra_config=region_conf.read_text(), port=port, persistence=True,
                                       own_listener=False).start())
        brokers.kiosk_ports.append(port)
    # Kiosks connect only once every bridge is up: what they publish before would wait in their region.
    log = brokers.procs[0].log
    deadline = time.monotonic() + 60
    while not all(f"as {region.bridge_user} " in log.read_text(errors="replace") for region, _ in defined):
        if time.monotonic() > deadline:
            brokers.stop()
            raise RuntimeError(f"the regional bridges did not connect to the national broker: {log}")
        time.sleep(0.1)
    return brokers
