"""The brokers of the fleet bench, configured as central configures them (central/broker.py: every kiosk its own
password and ACL block, kiosks refused on central's listener).

One Mosquitto holds one open file per connected kiosk, and a process may not hold more than its hard RLIMIT_NOFILE
(20,000 on the reference machine, which lacks CAP_SYS_RESOURCE to raise it). A fleet larger than one broker can hold
is spread over regional brokers, each with the kiosks of its sites, bridged to a national broker that central
connects to: the country's layout of issue 17. Bridges forward status, health, queue and records to the national
broker and bring acks and commands back (Mosquitto bridges bypass the ACLs, and each bridge logs in with its own
password on a listener of its own).
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
from central import broker
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port

BRIDGE_USER = "bridge"
ROOT = broker.TOPIC_ROOT
# (topic, direction, QoS): kiosk → central out, central → kiosk in (docs/protocol.md, "Topics").
BRIDGED = [(f"{ROOT}/+/+/status", "out", 1), (f"{ROOT}/+/+/health", "out", 0), (f"{ROOT}/+/+/queue", "out", 0),
           (f"{ROOT}/+/+/records/+", "out", 1), (f"{ROOT}/+/+/ack", "in", 1), (f"{ROOT}/+/+/cmd", "in", 1)]


@dataclass
class Brokers:
    kiosk_ports: list[int]  # one per region: kiosk i connects to kiosk_ports[region_of(i, regions)]
    central_port: int
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
    (path / "run").mkdir()
    try:
        os.chown(path / "run", pwd.getpwnam("mosquitto").pw_uid, -1)  # its log and persistence file
    except (KeyError, PermissionError):
        pass
    return path


def _start(run_dir: Path, conf: list[str], port: int) -> Mosquitto:
    return Mosquitto(run_dir, extra_config="\n".join(conf) + "\n", port=port, persistence=True,
                     own_listener=False).start()


def _kiosk_logins(indices: range | list[int], secret: str) -> list[broker.KioskLogin]:
    return [broker.KioskLogin(kiosk_id(i), site_of(i), broker.hash_password(kiosk_password(secret, kiosk_id(i))))
            for i in indices]


def start_brokers(kiosks: int, regions: int, secret: str, central_password: str) -> Brokers:
    if regions == 1:
        return _single(kiosks, secret, central_password)
    return _regional(kiosks, regions, secret, central_password)


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


def _regional(kiosks: int, regions: int, secret: str, central_password: str) -> Brokers:
    bridge_password = broker.new_password()
    national = _broker_dir("national")
    files = broker.BrokerFiles(national)
    files.write([], broker.hash_password(central_password))
    bridge_passwd, bridge_acl = national / "bridge.passwd", national / "bridge.acl"
    # World-readable is fine for the hash of a password that lives as long as this run.
    bridge_passwd.write_text(broker.password_file_text({BRIDGE_USER: broker.hash_password(bridge_password)}))
    bridge_acl.write_text(f"user {BRIDGE_USER}\ntopic readwrite {ROOT}/#\n")
    central_port, bridge_port = free_port(), free_port()
    conf = broker.global_conf_lines() + [""] + broker.Listener(central_port, "127.0.0.1", kiosks=False).lines(files)
    conf += ["", f"listener {bridge_port} 127.0.0.1", "allow_anonymous false", f"password_file {bridge_passwd}",
             f"acl_file {bridge_acl}", "use_username_as_clientid false"]
    brokers = Brokers([], central_port, dirs=[national])
    brokers.procs.append(_start(national / "run", conf, central_port))
    wait_port(bridge_port)
    for r in range(regions):
        d = _broker_dir(f"region{r}")
        brokers.dirs.append(d)
        files = broker.BrokerFiles(d)
        files.write(_kiosk_logins([i for i in range(kiosks) if region_of(i, regions) == r], secret), None)
        port = free_port()
        conf = broker.global_conf_lines() + [""] + broker.Listener(port, "127.0.0.1").lines(files)
        conf += ["", f"connection national-{r}", f"address 127.0.0.1:{bridge_port}",
                 f"remote_username {BRIDGE_USER}", f"remote_password {bridge_password}",
                 f"remote_clientid region-{r}", f"local_clientid region-{r}-local", "cleansession true",
                 "notifications false", "keepalive_interval 30"]
        conf += [f"topic {topic} {direction} {qos}" for topic, direction, qos in BRIDGED]
        brokers.procs.append(_start(d / "run", conf, port))
        brokers.kiosk_ports.append(port)
    # Kiosks connect only once every bridge is up: what they publish before would stay in their region.
    log = brokers.procs[0].log
    deadline = time.monotonic() + 60
    while not all(f"as region-{r} " in log.read_text(errors="replace") for r in range(regions)):
        if time.monotonic() > deadline:
            brokers.stop()
            raise RuntimeError(f"the regional bridges did not connect to the national broker: {log}")
        time.sleep(0.1)
    return brokers
