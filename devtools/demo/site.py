"""Setting up the demo's fleet the way operations and a technician do it, through the product's own commands:
central.toml, `central add-site`, `central broker-config`, `central enrol-code` + `provision --central --code`,
`staff add`; plus what stands in for the physical edge (a camera video, a virtual printer and a virtual GSM modem per
kiosk)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import random
import secrets
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from devtools.demo.processes import run_cli
from devtools.ports import free_port
from kiosk.store import Store

OPS_USER = "ops"
OPS_PASSWORD = "vaxkiosk-demo"  # loopback-only demo login, printed on start
STAFF_PIN = "2468"
STAFF_NAME = "Điều dưỡng Lan"
# Between check-in and the end of observation: a citizen still at the site.
IN_QUEUE = ("waiting", "called", "screened", "vaccinated", "observing")
OBSERVATION_MINUTES = 0.1  # 6 s instead of 30 min, so certificates print while you watch
CAMERA_FPS = 10  # enough for a card held still; fewer frames to draw at start-up (about 35 ms each)


@dataclass(frozen=True)
class DemoSite:
    id: str
    name: str
    district: str
    province: str
    seed: int
    sms_encoding: str  # the site's [sms] encoding: one site texts in Vietnamese with diacritics, one unaccented


SITES = (
    DemoSite("GL-01", "Trạm Y tế Phường Yên Đỗ", "Pleiku", "064", 7, "ucs2"),
    DemoSite("HN-01", "Trạm Y tế Phường Khương Mai", "Thanh Xuân", "001", 11, "gsm7"),
)


@dataclass
class KioskSetup:
    site: DemoSite
    kiosk_id: str
    config: Path
    data_dir: Path
    web_port: int
    printer_port: int
    printer_out: Path
    video: Path
    citizens: int  # valid cards in one loop of the video
    modem: Path  # the virtual modem's device path (drivers.virtual_modem), named by the kiosk's gammurc
    modem_record: Path  # every PDU the modem took, one JSON line each (devtools.demo.texts reads them back)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"


@dataclass
class CentralSetup:
    config: Path
    data_dir: Path
    broker_conf: Path
    broker_port: int  # kiosks' listener
    central_port: int  # central's own listener
    web_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"


@contextlib.contextmanager
def kiosk_store(k: KioskSetup):
    """The kiosk's database opened beside the running kiosk (as `vaxkiosk print-jobs` would), closed after."""
    store = Store(k.data_dir / "kiosk.db")
    try:
        yield store
    finally:
        store.close()


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def write_central(root: Path) -> CentralSetup:
    from werkzeug.security import generate_password_hash

    data_dir, broker_dir = root / "central", root / "broker"
    data_dir.mkdir(parents=True)
    broker_dir.mkdir()
    setup = CentralSetup(root / "central.toml", data_dir, broker_dir / "conf.d" / "vaxkiosk.conf",
                         free_port(), free_port(), free_port())
    sites = "".join(f'\n[[sites]]\nid = "{s.id}"\nname = {toml_string(s.name)}\n'
                    f'district = {toml_string(s.district)}\nprovince = "{s.province}"\n' for s in SITES)
    setup.config.write_text(
        f'[central]\ndata_dir = "{data_dir}"\n\n'
        f'[mqtt]\nport = {setup.central_port}\npassword = "{secrets.token_urlsafe(18)}"\nkeepalive = 10\n\n'
        f'[registry]\nbroker_dir = "{broker_dir}"\nbroker_pid_file = "{broker_dir / "mosquitto.pid"}"\n'
        f'central_url = "{setup.url}"\nbroker_host = "127.0.0.1"\nbroker_port = {setup.broker_port}\n\n'
        f'[web]\nport = {setup.web_port}\n\n'
        # Short alert delays: a kiosk stopped during the demo shows as lost within half a minute.
        f'[alerts]\nlost_after_seconds = 30\nsilent_after_seconds = 30\n'
        f'{sites}\n[[users]]\nname = "{OPS_USER}"\npassword_hash = "{generate_password_hash(OPS_PASSWORD)}"\n',
        encoding="utf-8")
    return setup


def register_sites(central: CentralSetup) -> None:
    for s in SITES:
        run_cli("central", "--config", str(central.config), "add-site", "--site", s.id, "--name", s.name,
                "--district", s.district, "--province", s.province)
    run_cli("central", "--config", str(central.config), "broker-config", "--conf", str(central.broker_conf),
            "--central-listen", f"127.0.0.1:{central.central_port}", "--listen", f"127.0.0.1:{central.broker_port}")


def broker_main_conf(central: CentralSetup) -> Path:
    """mosquitto.conf: where the broker keeps its pid, data and log, then the generated vaxkiosk.conf."""
    broker_dir = central.broker_conf.parent.parent
    conf = broker_dir / "mosquitto.conf"
    conf.write_text(
        f"pid_file {broker_dir / 'mosquitto.pid'}\npersistence_location {broker_dir}/\n"
        f"log_dest file {broker_dir / 'mosquitto.log'}\nlog_type error\nlog_type warning\nlog_type notice\n"
        # Run as whoever runs the demo (as root Mosquitto would switch to its own user, who cannot read our files).
        f"user {getpass.getuser()}\n"
        f"include_dir {central.broker_conf.parent}\n", encoding="utf-8")
    return conf


def enrol_kiosk(central: CentralSetup, site: DemoSite, root: Path, citizens: int) -> KioskSetup:
    """Operations make a one-time set-up code; the technician provisions the kiosk with it over HTTP (central's
    POST /api/v1/enrol), then adds the site's devices (camera, printer) and a staff account. Central and the
    broker must be running (enrolment rewrites the password file and reloads the broker)."""
    folder = root / f"kiosk-{site.id}"
    folder.mkdir()
    created = json.loads(run_cli("central", "--config", str(central.config), "enrol-code", "--site", site.id,
                                 "--expires-in", "30m", "--json").strip().splitlines()[-1])
    config = folder / "kiosk.toml"
    provisioned = json.loads(run_cli("provision", "--central", central.url, "--code", created["code"],
                                     "--config", str(config), "--data-dir", str(folder / "data"),
                                     "--json").strip().splitlines()[-1])
    setup = KioskSetup(site, provisioned["kiosk_id"], config, folder / "data", free_port(), free_port(),
                       folder / "printer", folder / "camera.avi", citizens, folder / "ttyUSB-modem",
                       folder / "modem-pdus.jsonl")
    add_devices(setup)
    run_cli("staff", "add", "--config", str(config), "--name", STAFF_NAME, "--role", "staff", "--pin-stdin",
            stdin=STAFF_PIN + "\n")
    return setup


def add_devices(k: KioskSetup) -> None:
    """The technician's part of kiosk.toml, kept by provisioning: camera, printer, GSM modem, screens, demo timings."""
    from base.files import write_atomic
    from drivers.gsm_modem import write_gammurc
    from kiosk.config import toml_text

    data = tomllib.loads(k.config.read_text(encoding="utf-8"))
    data["kiosk"].update(observation_minutes=OBSERVATION_MINUTES, min_free_mb=10)
    data["camera"] = {"enabled": True, "source": str(k.video), "loop": True, "width": 640, "height": 480,
                      "fps": CAMERA_FPS, "repeat_seconds": 10.0}
    data["printer"] = {"enabled": True, "backend": "network", "host": "127.0.0.1", "port": k.printer_port,
                       "poll_seconds": 1.0}
    data["web"] = {"enabled": True, "port": k.web_port}
    gammurc = write_gammurc(k.config.parent / "gammurc", k.modem)
    data["sms"] = {"gammurc": str(gammurc), "encoding": k.site.sms_encoding, "retry_seconds": 2.0}
    # Health every 5 s: the dashboard shows printer and camera facts soon after the start.
    data["mqtt"].update(health_interval=5.0, queue_interval=2.0)
    write_atomic(k.config, toml_text(data))


def camera_payloads(seed: int, citizens: int) -> list[str | None]:
    """Citizens' cards in turn, with an invalid card (birth year disagrees with the number) and a QR that is not
    an ID card every few people, the way real queues bring them."""
    from devtools.simulation.cards import card_payload, random_identity

    rng = random.Random(seed)
    payloads: list[str | None] = []
    for i in range(citizens):
        payloads.append(card_payload(random_identity(rng)))
        if i % 6 == 2:
            bad = random_identity(rng)
            number = bad.id_number[:4] + f"{(int(bad.id_number[4:6]) + 50) % 100:02d}" + bad.id_number[6:]
            payloads.append(card_payload(bad).replace(bad.id_number, number, 1))
        if i % 6 == 5:
            payloads.append("https://vaccine.example.vn/dang-ky")  # a poster's QR, not a card
    return payloads


VIDEO_VERSION = 1  # bump when the payloads or the drawing change, so cached videos are drawn again


def video_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vaxkiosk" / "demo-videos"


def cached_video_path(k: KioskSetup) -> Path:
    return video_cache() / f"v{VIDEO_VERSION}-seed{k.site.seed}-{k.citizens}-citizens.avi"


def cached_video(k: KioskSetup) -> bool:
    """Copy into the kiosk's camera file to a video drawn by an earlier run, if there is one."""
    cached = cached_video_path(k)
    if not cached.exists():
        return False
    shutil.copyfile(cached, k.video)
    return True


def write_video(k: KioskSetup) -> None:
    """Draw the kiosk's camera video (the same people for the same seed) and keep a copy for the next run."""
    from devtools.simulation.cards import write_card_video

    write_card_video(k.video, camera_payloads(k.site.seed, k.citizens), size=(640, 480), fps=CAMERA_FPS,
                     seed=k.site.seed, hold_frames=8, gap_frames=4)
    cached = cached_video_path(k)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(k.video, tmp)
        tmp.replace(cached)
    except OSError:
        pass  # no cache (read-only home): the next run draws it again
