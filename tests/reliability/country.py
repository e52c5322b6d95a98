"""A country on one machine: regional Mosquitto brokers bridged to a national one, as operations set them up.

Everything runs what `vaxkiosk central` generates: the national broker from `broker-config --bridge-listen` (central's
listener and a TLS listener for bridges), each regional broker from `regional-broker-config` (kiosk listener, same
per-kiosk ACL, a TLS bridge to the national broker with its own login). Between each regional broker and the
national one sits a LinkProxy (tests.support.tcp_proxy), so a test can silence a region's uplink. Central's
aggregators (central.ingest, two of them sharing one store, with the registry's check) read on the national broker;
the kiosks are real kiosk apps (kiosk.app.App with its sync part) enrolled through central's registry, each logged in
on its own region's broker. Loopback only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from central import broker
from central.bridge import BRIDGE_USER_PREFIX
from central.config import load as load_central
from central.ingest import Ingest
from central.registry import registry_from_config
from central.store import CentralStore
from kiosk.app import App
from kiosk.config import load as load_kiosk
from kiosk.identity import parse
from tests.conftest import vaxkiosk_json
from tests.provisioning.conftest import broker_readable_dir, write_central_toml
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port
from tests.support.site import LinkProxy
from tests.support.sync import qr, sync_config, wait_for


def _run_dir(folder: Path) -> Path:
    run = folder / "run"
    run.mkdir(parents=True, exist_ok=True)
    try:  # Mosquitto started as root writes its log and persistence as its own user
        os.chown(run, pwd.getpwnam("mosquitto").pw_uid, -1)
    except (KeyError, PermissionError):
        pass
    return run


@dataclass
class Kiosk:
    kiosk_id: str
    site_id: str
    region: str
    password: str
    app: App | None = None
    made: list[str] = field(default_factory=list)  # check-in ids committed on the kiosk

    @property
    def sync(self):
        return self.app.part("sync")

    def undelivered(self) -> int:
        return self.app.store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"]


@dataclass
class Region:
    name: str
    sites: list[str]
    kiosk_port: int
    link: LinkProxy
    dir: Path | None = None
    broker: Mosquitto | None = None

    @property
    def conf(self) -> Path:
        return self.dir / "vaxkiosk.conf"

    def bridge_password(self) -> str:
        """What a thief of the regional machine finds in its config."""
        for line in self.conf.read_text().splitlines():
            if line.startswith("remote_password "):
                return line.split(" ", 1)[1]
        raise AssertionError("no remote_password in the regional config")

    def start(self) -> None:
        self.broker = Mosquitto(_run_dir(self.dir), extra_config=self.conf.read_text(), port=self.kiosk_port,
                                persistence=True, own_listener=False).start()


class Country:
    def __init__(self, tmp: Path, regions: dict[str, list[str]], kiosks_per_site: int = 2,
                 ack_timeout: float | dict[str, float] = 10.0, aggregators: int = 2):
        """`ack_timeout`: the kiosks' (seconds before they resend an unacknowledged record), or one per region."""
        self.tmp = tmp
        self.broker_dir = broker_readable_dir()
        self.central_port, self.bridge_port = free_port(), free_port()
        self.password = broker.new_password()
        self.pid_file = self.broker_dir / "mosquitto.pid"
        self.config = write_central_toml(tmp / "central.toml", tmp / "central", self.password, self.broker_dir,
                                         self.pid_file, "", "127.0.0.1", free_port(), central_port=self.central_port)
        self.regions = {name: Region(name, sites, free_port(), LinkProxy(tmp / f"link-{name}", self.bridge_port))
                        for name, sites in regions.items()}
        self.kiosks_per_site, self.ack_timeout, self.aggregators = kiosks_per_site, ack_timeout, aggregators
        self.kiosks: list[Kiosk] = []
        self.national: Mosquitto | None = None
        self.stores: list[CentralStore] = []
        self.ingests: list[Ingest] = []
        self.registry = None

    def kiosk_ack_timeout(self, region: str) -> float:
        return self.ack_timeout[region] if isinstance(self.ack_timeout, dict) else self.ack_timeout

    def bridge_connections(self, region: str) -> int:
        """How many times the region's bridge has logged in on the national broker (its log, notice level)."""
        return self.national.log.read_text(errors="replace").count(f" as {BRIDGE_USER_PREFIX}{region} ")

    def cli(self, *args: str) -> dict:
        code, out = vaxkiosk_json("central", *args, "--json", "--config", str(self.config))
        assert code == 0, out
        return out

    # -- set up as operations do -----------------------------------------------------------------------------
    def __enter__(self) -> "Country":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.registry = registry_from_config(load_central(self.config))
        for region in self.regions.values():
            for site in region.sites:
                self.registry.add_site(site, f"Điểm tiêm {site}")
                for _ in range(self.kiosks_per_site):
                    e = self.registry.redeem(self.registry.create_code(site)[0])
                    self.kiosks.append(Kiosk(e.kiosk_id, site, region.name, e.mqtt_password))
        self.cli("broker-config", "--conf", str(self.broker_dir / "vaxkiosk.conf"),
                 "--central-listen", f"127.0.0.1:{self.central_port}",
                 "--bridge-listen", f"127.0.0.1:{self.bridge_port}", "--tls-host", "127.0.0.1")
        for region in self.regions.values():
            out = self.cli("regional-broker-config", "--region", region.name,
                           *[a for s in region.sites for a in ("--site", s)],
                           "--national", f"127.0.0.1:{region.link.port}", "--listen", f"127.0.0.1:{region.kiosk_port}")
            region.dir = Path(out["dir"])
        self.national = Mosquitto(_run_dir(self.broker_dir), extra_config=(self.broker_dir / "vaxkiosk.conf").read_text(),
                                  port=self.central_port, persistence=True, own_listener=False).start()
        wait_port(self.bridge_port)
        self.pid_file.write_text(str(self.national.proc.pid))
        mqtt = load_central(self.config).mqtt
        for _ in range(self.aggregators):
            store = CentralStore(self.tmp / "central" / "central.db")
            self.stores.append(store)
            ingest = Ingest(store, mqtt, registry=self.registry.is_enrolled)
            self.ingests.append(ingest)
            ingest.start()
        for ingest in self.ingests:
            wait_for(ingest.connected.is_set, 10, what="central's aggregator connected")
        for region in self.regions.values():
            region.link.start()
            region.start()
        for k in self.kiosks:
            region = self.regions[k.region]
            k.app = App(load_kiosk(sync_config(self.tmp / "kiosks", region.kiosk_port, kiosk=k.kiosk_id,
                                               site=k.site_id, username=k.kiosk_id, password=k.password,
                                               ack_timeout=self.kiosk_ack_timeout(k.region))))
            k.app.start()
        for k in self.kiosks:
            wait_for(k.sync.connected.is_set, 10, what=f"kiosk {k.kiosk_id} connected to region {k.region}")
        # Their retained `online` status crossed the bridges: central sees every kiosk.
        wait_for(lambda: self.kiosk_states() == {k.kiosk_id: "online" for k in self.kiosks}, 60,
                 what="every kiosk online at central, through its region's bridge")

    def close(self) -> None:
        for k in self.kiosks:
            if k.app:
                k.app.stop()
        for ingest in self.ingests:
            ingest.stop()
        for store in self.stores:
            store.close()
        for region in self.regions.values():
            if region.broker:
                region.broker.stop()
            region.link.stop()
        if self.national:
            self.national.stop()
        if self.registry:
            self.registry.close()
        shutil.rmtree(self.broker_dir, ignore_errors=True)

    # -- what central holds ------------------------------------------------------------------------------------
    @property
    def store(self) -> CentralStore:
        return self.stores[0]

    def kiosk_states(self) -> dict[str, str]:
        return {r["kiosk"]: r["state"] for r in self.store._store.query("SELECT kiosk, state FROM kiosks")}

    def central_ids(self, kiosk_id: str) -> list[str]:
        return self.store.record_ids(kiosk_id, "checkins")

    def in_region(self, name: str) -> list[Kiosk]:
        return [k for k in self.kiosks if k.region == name]

    def wait_drained(self, timeout: float) -> float:
        """Seconds until every kiosk's outbox is acknowledged (central's acks came back through each bridge)."""
        started = time.monotonic()
        wait_for(lambda: all(k.undelivered() == 0 for k in self.kiosks), timeout, interval=0.2,
                 what="every kiosk's outbox acknowledged: " +
                      ", ".join(f"{k.kiosk_id} {k.undelivered()}" for k in self.kiosks if k.undelivered()))
        return time.monotonic() - started


class CheckinLoad:
    """Citizens checking in at every kiosk of the country, one check-in every `interval` s round the kiosks, on a
    thread of its own; at most `limit` check-ins in all."""

    def __init__(self, country: Country, interval: float = 0.05, limit: int = 20_000):
        self.country, self.interval, self.limit = country, interval, limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.count = 0

    def __enter__(self) -> "CheckinLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        kiosks = self.country.kiosks
        while not self._stop.is_set() and self.count < self.limit:
            k = kiosks[self.count % len(kiosks)]
            # Unique per country: the QR's six-digit tail is the load's own counter.
            k.made.append(k.app.checkins.check_in(parse(qr(self.count)), "camera").checkin["id"])
            self.count += 1
            self._stop.wait(self.interval)
