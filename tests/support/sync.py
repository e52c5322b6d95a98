"""Real kiosks and a real aggregator around a test's Mosquitto: kiosk processes (`python -m kiosk kiosk`), the
central ingest in the test process, and fast check-ins written straight into a kiosk's store."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.conftest import write_config
from tests.support.process import Proc
from tests.support.waiting import wait_for

from kiosk.checkin import CheckinService
from kiosk.config import load
from kiosk.identity import parse
from kiosk.store import Store


def sync_config(tmp: Path, port: int, kiosk: str = "k1", site: str = "GL-01", **mqtt) -> Path:
    settings = {"enabled": True, "host": "127.0.0.1", "port": port, "keepalive": 5, "health_interval": 1.0,
                "queue_interval": 0.5, "ack_timeout": 3.0, "max_inflight": 100, "reconnect_max_delay": 1.0,
                **mqtt}
    lines = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else v}"
                      for k, v in settings.items())
    folder = tmp / kiosk
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder / "kiosk.toml", folder / "data", site=site, kiosk=kiosk,
                        extra=f"[web]\nenabled = false\n[mqtt]\n{lines}\n")


class KioskProcess(Proc):
    """`python -m kiosk kiosk --config ...`, the real appliance process, with its log beside its config."""

    def __init__(self, config: Path, env: dict | None = None):
        super().__init__(["kiosk", "--config", str(config)], config.parent / "kiosk.log", env)
        self.config = config


@contextlib.contextmanager
def central(tmp: Path, port: int, store=None, **mqtt):
    """The aggregator (central.store + central.ingest) in this process; yields (store, ingest). `store`: a
    postgresql:// URL or a path (default: central.db in `tmp`/central)."""
    from central.config import MqttSection
    from central.ingest import Ingest
    from central.store import CentralStore

    store = CentralStore(store or tmp / "central" / "central.db")
    ingest = Ingest(store, MqttSection(port=port, keepalive=5, **mqtt))
    ingest.start()
    try:
        wait_for(ingest.connected.is_set, 10, what="central connected")
        yield store, ingest
    finally:
        ingest.stop()
        store.close()


def qr(i: int) -> str:
    # Hà Nội code 001, male born 1990, a unique six-digit tail (as tests.support.burst).
    return f"001090{i:06d}||Nguyễn Văn Thử|01011990|Nam|Hà Nội|01012021"


def check_in_many(config: Path, count: int, start: int = 0) -> list[str]:
    """Real check-ins (the check-in service, one transaction each) on a kiosk's store, from the test process.

    synchronous=NORMAL on this connection only: thousands of fsyncs would make the test slow, not more real."""
    settings = load(config)
    store = Store(settings.db_path)
    try:
        store.db.conn.execute("PRAGMA synchronous=NORMAL")
        service = CheckinService(store, settings.kiosk)
        return [service.check_in(parse(qr(i)), "camera").checkin["id"] for i in range(start, start + count)]
    finally:
        store.close()


def outbox_undelivered(config: Path) -> int:
    store = Store(load(config).db_path)
    try:
        return store.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")["n"]
    finally:
        store.close()
