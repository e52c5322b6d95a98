"""A central site set up the way operations do it, for attacks from the site LAN.

The broker runs exactly what `vaxkiosk central broker-config` generates (central's listener and a kiosk listener, both
on loopback ports); kiosks are enrolled through central's registry, which rewrites the password file and ACL and
reloads the broker. Attackers are real clients connecting from 127.0.0.2, which stands for a device on the site LAN
(a stolen kiosk's credentials, a laptop plugged into the site's switch).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import vaxkiosk_json
from tests.provisioning.conftest import broker_readable_dir
from tests.provisioning.mqtt_probe import Probe
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port
from tests.web.conftest import kiosk_server, page_at  # noqa: F401 - fixtures: a real kiosk process, Chromium pages

LAN = "127.0.0.2"  # a device on the site LAN
SITE, OTHER_SITE = "GL-01", "HN-01"
ROOT = "vaxkiosk/v1"


@dataclass
class BrokerSite:
    config: Path  # central.toml
    broker: Mosquitto
    kiosk_port: int
    central_port: int
    password: str  # central's own broker password ([mqtt] password)
    registry: object  # central.registry.Registry
    pid_file: Path

    def enrol(self, site: str = SITE):
        """A kiosk enrolled with a one-time code, as POST /api/v1/enrol does it: its Enrolment (id + password)."""
        return self.registry.redeem(self.registry.create_code(site)[0])

    def cli(self, *args: str) -> dict:
        code, out = vaxkiosk_json("central", *args, "--json", "--config", str(self.config))
        assert code == 0, out
        return out

    def kiosk(self, enrolment, port: int | None = None, client_id: str | None = None) -> Probe:
        """A client holding `enrolment`'s credentials, connecting from the LAN."""
        return Probe(enrolment.kiosk_id, enrolment.mqtt_password, port or self.kiosk_port, client_id=client_id,
                     bind_address=LAN)

    def central(self, client_id: str = "central-watch") -> Probe:
        """One of central's own clients, on central's listener."""
        return Probe("central", self.password, self.central_port, client_id=client_id)

    def restart_broker(self) -> None:
        self.broker.stop()
        self.broker.start()
        wait_port(self.central_port)
        self.pid_file.write_text(str(self.broker.proc.pid))


def write_central_toml(path: Path, data_dir: Path, broker_dir: Path, password: str, central_port: int,
                       kiosk_port: int) -> Path:
    path.write_text(f'[central]\ndata_dir = "{data_dir}"\n\n'
                    f'[mqtt]\nport = {central_port}\npassword = "{password}"\nkeepalive = 5\n\n'
                    f'[registry]\nbroker_dir = "{broker_dir}"\nbroker_pid_file = "{broker_dir / "mosquitto.pid"}"\n'
                    f'central_url = "http://127.0.0.1:9"\nbroker_host = "127.0.0.1"\nbroker_port = {kiosk_port}\n',
                    encoding="utf-8")
    return path


@pytest.fixture
def broker_site(tmp_path):
    from central import broker
    from central.config import load
    from central.registry import registry_from_config

    broker_dir = broker_readable_dir()
    central_port, kiosk_port = free_port(), free_port()
    password = broker.new_password()
    config = write_central_toml(tmp_path / "central.toml", tmp_path / "central", broker_dir, password,
                                central_port, kiosk_port)
    site = BrokerSite(config, None, kiosk_port, central_port, password, None, broker_dir / "mosquitto.pid")
    for site_id in (SITE, OTHER_SITE):
        site.cli("add-site", "--site", site_id)
    conf = broker_dir / "vaxkiosk.conf"
    site.cli("broker-config", "--conf", str(conf), "--central-listen", f"127.0.0.1:{central_port}",
             "--listen", f"127.0.0.1:{kiosk_port}")
    run_dir = broker_dir / "run"
    run_dir.mkdir()
    shutil.chown(run_dir, user="mosquitto")  # Mosquitto started as root writes its log and persistence as itself
    site.broker = Mosquitto(run_dir, extra_config=conf.read_text(), port=kiosk_port, persistence=True,
                            own_listener=False).start()
    wait_port(central_port)
    site.pid_file.write_text(str(site.broker.proc.pid))
    site.registry = registry_from_config(load(config))
    yield site
    site.broker.stop()
    site.registry.close()
    shutil.rmtree(broker_dir, ignore_errors=True)


# -- centrals for enrolment: the real one behind its TLS terminator, and a rogue one on the LAN ------------------

class RequestLog:
    """WSGI middleware: what reached the app behind it (method and path; never bodies, which hold codes)."""

    def __init__(self, app):
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        self.seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return self.app(environ, start_response)


def key_pin(certificate_pem: Path) -> str:
    """sha256 of the certificate's SubjectPublicKeyInfo, computed here (not by the code under test)."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    return "sha256:" + hashlib.sha256(cert.public_key().public_bytes(Encoding.DER,
                                                                      PublicFormat.SubjectPublicKeyInfo)).hexdigest()


@dataclass
class EnrolCentral:
    """A real central's enrolment side (registry, enrol and trust-list blueprints in waitress), served over https by
    a TLS terminator (`https=True`) or over plain http."""
    registry: object
    log: RequestLog
    url: str
    ca: Path | None = None  # the CA its certificate chains to
    pin: str = ""  # its key

    def code(self) -> str:
        return self.registry.create_code(SITE)[0]

    def qr(self, code: str, pin: str | None = None) -> str:
        pin = self.pin if pin is None else pin
        return f"VXK1:ENROL:{self.url}|{code}" + (f"|{pin}" if pin else "")

    def enrolled(self) -> list[str]:
        return [d["kiosk_id"] for d in self.registry.devices()]


@pytest.fixture
def enrol_centrals(tmp_path):
    """make(name, host, https) → an EnrolCentral at `host` (127.0.0.1: the real central; 127.0.0.2: a rogue one)."""
    from flask import Flask

    from central import broker
    from central.enrol_api import BrokerAccess, make_blueprint
    from central.registry import Registry
    from central.trustlist import trustlist_blueprint
    from tests.support.served import Served
    from tests.support.tls_terminator import TlsTerminator

    closers = []

    def make(name: str, host: str, https: bool = True) -> EnrolCentral:
        root = tmp_path / name
        registry = Registry(root / "central.db", broker.BrokerFiles(root / "broker"))
        registry.add_site(SITE, "Trạm Y tế Phường Yên Đỗ")
        app = Flask(name)
        log = RequestLog(app)
        served = Served(log, host=host)
        closers.extend([served.close, registry.close])
        central = EnrolCentral(registry, log, served.url)
        if https:
            ca, ca_key = broker.make_ca(root / "ca")
            cert, key = broker.make_server_cert(root / "tls", ca, ca_key, [host])
            tls = TlsTerminator(served.port, cert, key, host=host, log=root / "socat.log")
            central = EnrolCentral(registry, log, tls.url, ca, key_pin(cert))
            closers.append(tls.stop)
        # Kiosks are told of a broker where nothing listens: enrolment, not MQTT, is under test.
        app.register_blueprint(make_blueprint(registry, BrokerAccess("127.0.0.1", free_port()), central.url))
        app.register_blueprint(trustlist_blueprint(registry.trust_entries, *registry.trust_list_signer()))
        if https:
            tls.start()
        return central

    yield make
    for close in reversed(closers):
        close()
