"""Central's side for provisioning tests: a registry, a real Mosquitto using the generated password file and ACL,
and the enrolment blueprint served by waitress on a loopback port."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from central import broker
from central.enrol_api import BrokerAccess, make_blueprint
from central.registry import Registry
from central.trustlist import trustlist_blueprint
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port
from tests.support.served import Served

SITE = "GL-01"
SITE_NAME = "Trạm Y tế Phường Yên Đỗ"


@dataclass
class Central:
    registry: Registry
    broker: Mosquitto
    url: str
    password: str
    broker_dir: Path
    config_path: Path
    central_port: int  # the broker's listener for central's processes (the support class's port is for kiosks)

    @property
    def registry_args(self) -> list[str]:
        """The CLI options that point `vaxkiosk central ...` at this central."""
        return ["--config", str(self.config_path)]


def write_central_toml(path: Path, data_dir: Path, password: str, broker_dir: Path, pid_file: Path,
                       central_url: str, broker_host: str, broker_port: int, broker_ca: str = "",
                       central_port: int = 0) -> Path:
    """central.toml for `vaxkiosk central` and its registry subcommands; broker_port is what kiosks are told."""
    path.write_text(f'[central]\ndata_dir = "{data_dir}"\n\n'
                    f'[mqtt]\nport = {central_port or broker_port}\npassword = "{password}"\nkeepalive = 5\n\n'
                    f'[registry]\nbroker_dir = "{broker_dir}"\nbroker_pid_file = "{pid_file}"\n'
                    f'central_url = "{central_url}"\nbroker_host = "{broker_host}"\nbroker_port = {broker_port}\n'
                    f'broker_ca = "{broker_ca}"\n', encoding="utf-8")
    return path


def broker_readable_dir() -> Path:
    # Mosquitto started as root drops to its own user and re-reads the password file as that user on SIGHUP:
    # the files live where it can reach them, as in production (/var/lib/vaxkiosk-central/broker).
    path = Path(tempfile.mkdtemp(prefix="vxk-broker-", dir="/tmp"))
    path.chmod(0o755)
    return path


def start_broker(broker_dir: Path, extra: str = "") -> Mosquitto:
    run_dir = broker_dir / "run"
    run_dir.mkdir()
    try:
        os.chown(run_dir, pwd.getpwnam("mosquitto").pw_uid, -1)  # its log file
    except (KeyError, PermissionError):
        pass
    files = broker.BrokerFiles(broker_dir)
    # The support class writes its own first listener: it becomes a kiosk listener through the auth lines below.
    conf = broker.global_conf_lines() + broker.listener_auth_lines(files, kiosks=True)
    return Mosquitto(run_dir, extra_config="\n".join(conf) + "\n" + extra).start()


@pytest.fixture
def central(tmp_path):
    broker_dir = broker_readable_dir()
    pid_file = broker_dir / "mosquitto.pid"
    password = broker.new_password()
    registry = Registry(tmp_path / "central" / "central.db", broker.BrokerFiles(broker_dir, pid_file),
                        central_password_hash=broker.hash_password(password))
    registry.add_site(SITE, SITE_NAME)
    registry.sync_broker()
    central_port = free_port()
    files = registry.broker_files
    central_listener = broker.Listener(central_port, "127.0.0.1", kiosks=False)
    mosq = start_broker(broker_dir, "\n".join(central_listener.lines(files)) + "\n")
    wait_port(central_port)
    pid_file.write_text(str(mosq.proc.pid))
    app = Flask("central-test")
    app.register_blueprint(make_blueprint(registry, BrokerAccess("127.0.0.1", mosq.port)))
    app.register_blueprint(trustlist_blueprint(registry.trust_entries, *registry.trust_list_signer()))
    server = Served(app)
    config_path = write_central_toml(tmp_path / "central.toml", tmp_path / "central", password, broker_dir, pid_file,
                                     server.url, "127.0.0.1", mosq.port, central_port=central_port)
    yield Central(registry, mosq, server.url, password, broker_dir, config_path, central_port)
    server.close()
    mosq.stop()
    registry.close()
    shutil.rmtree(broker_dir, ignore_errors=True)
