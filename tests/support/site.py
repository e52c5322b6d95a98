"""A whole site on loopback for the reliability suite: Mosquitto, `vaxkiosk central`, N `vaxkiosk kiosk` processes
(web on, printer on a virtual network printer, sync on), each a real process a test can kill -9 and restart.

    with SiteHarness(tmp_path, kiosks=1) as site:
        site.scan(0, qr(1))                  # POST /api/scan on kiosk 0, the scanner's own path
        site.central_ids("k1")               # what central holds, read from its SQLite file

The counting helpers at the end (`kiosk_checkins`, `central_ids`, `ticket_numbers_printed`, `print_jobs`) are what
every reliability test ends with: nothing acknowledged lost, nothing duplicated.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from werkzeug.security import generate_password_hash

from tests.conftest import ROOT, write_config
from tests.support.mosquitto import Mosquitto
from tests.support.net import free_port, wait_port
from tests.support.process import Proc
from tests.support.sync import qr, wait_for
from tests.support.virtual_printer import VirtualPrinterProcess

__all__ = ["SiteHarness", "Proc", "qr", "wait_for", "CENTRAL_USER"]

CENTRAL_USER = ("ops", "mật-khẩu-thử")  # central's dashboard login in the harness


def _toml(settings: dict) -> str:
    def value(v):
        return str(v).lower() if isinstance(v, bool) else json.dumps(v) if isinstance(v, str) else str(v)
    return "\n".join(f"{k} = {value(v)}" for k, v in settings.items())


class Kiosk:
    """One kiosk of the site: its config, process, web port and virtual printer."""

    def __init__(self, folder: Path, kiosk_id: str, site_id: str, broker_port: int, env: dict, sections: dict):
        folder.mkdir(parents=True, exist_ok=True)
        self.id, self.site, self.folder = kiosk_id, site_id, folder
        self.web_port = free_port()
        self.printer = VirtualPrinterProcess(folder / "printer")
        tables = {
            "web": {"enabled": True, "port": self.web_port},
            "printer": {"enabled": True, "backend": "network", "port": self.printer.port, "poll_seconds": 0.2,
                        "timeout": 2.0},
            "mqtt": {"enabled": True, "port": broker_port, "keepalive": 3, "health_interval": 1.0,
                     "queue_interval": 0.5, "ack_timeout": 2.0, "reconnect_max_delay": 1.0},
        }
        for name, extra in sections.items():
            tables[name] = {**tables.get(name, {}), **extra}
        extra = "\n".join(f"[{name}]\n{_toml(t)}" for name, t in tables.items())
        self.config = write_config(folder / "kiosk.toml", folder / "data", site=site_id, kiosk=kiosk_id, extra=extra)
        self.db_path = folder / "data" / "kiosk.db"
        self.proc = Proc(["kiosk", "--config", str(self.config)], folder / "kiosk.log", env)

    def start(self) -> "Kiosk":
        self.proc.start()
        wait_port(self.web_port, timeout=30)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def post_json(self, path: str, body, timeout: float = 10.0) -> tuple[int, dict | str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", path, data, {"Content-Type": "application/json"}, timeout)

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None,
                timeout: float = 10.0) -> tuple[int, dict | str]:
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def scan(self, text: str, source: str = "camera") -> dict:
        """POST /api/scan; raises OSError when the kiosk is down (the scan was not acknowledged)."""
        status, body = self.post_json("/api/scan", {"text": text, "source": source})
        assert status == 200, (status, body)
        return body

    # -- counting, straight from the kiosk's SQLite file (read-only, WAL lets the running kiosk go on) ----------
    def query(self, sql: str, args=()) -> list[sqlite3.Row]:
        return _read(self.db_path, sql, args)

    def checkin_ids(self) -> list[str]:
        return [r["id"] for r in self.query("SELECT id FROM checkins")]

    def ticket_jobs(self) -> list[sqlite3.Row]:
        return self.query("SELECT p.id, p.state, p.last_error, t.number, p.checkin_id FROM print_jobs p "
                          "JOIN tickets t ON t.checkin_id = p.checkin_id WHERE p.kind = 'ticket'")

    def undelivered(self) -> int:
        return self.query("SELECT count(*) AS n FROM outbox WHERE delivered_wall IS NULL")[0]["n"]

    def integrity(self) -> str:
        return self.query("PRAGMA integrity_check")[0][0]

    def ticket_numbers_printed(self) -> list[int]:
        """The big number on every receipt the virtual printer produced (one entry per sheet of paper)."""
        return [_ticket_number(r) for r in self.printer.receipts()]


def _ticket_number(receipt: dict) -> int:
    # The number is the receipt's only ESC/POS text (the rest is raster, for the Vietnamese letters).
    numbers = [int(t["text"]) for t in receipt["text"] if t["text"].strip().isdigit()]
    assert len(numbers) == 1, f"receipt {receipt.get('seq')} carries no single ticket number: {receipt['text']}"
    return numbers[0]


def _read(path: Path, sql: str, args=()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


class SiteHarness:
    """Mosquitto + `vaxkiosk central` + kiosks k1..kN at one site, all real processes on loopback ports."""

    def __init__(self, tmp: Path, kiosks: int = 1, site: str = "GL-01", kiosk_env: dict | None = None,
                 kiosk_sections: dict | None = None, link_proxy: bool = False, store_url: str | None = None,
                 aggregators: int = 1):
        """`store_url`: central on that PostgreSQL database instead of SQLite files; `aggregators`: that many
        `vaxkiosk central` processes on one config (the first serves the dashboard, the others ingest only)."""
        self.tmp = Path(tmp)
        self.broker = Mosquitto(self.tmp / "mosquitto", persistence=True)
        # With link_proxy the kiosks reach the broker through a TCP proxy whose link the test can cut.
        self.link = LinkProxy(self.tmp / "link", self.broker.port) if link_proxy else None
        kiosk_broker_port = self.link.port if self.link else self.broker.port
        central_dir = self.tmp / "central"
        central_dir.mkdir(parents=True, exist_ok=True)
        self.central_db = central_dir / "data" / "central.db"
        self.store_url = store_url
        self.central_config = central_dir / "central.toml"
        self.central_web_port = free_port()
        store = f'[store]\nurl = "{store_url}"\n' if store_url else ""
        self.central_config.write_text(
            f'[central]\ndata_dir = "{central_dir / "data"}"\n{store}[mqtt]\nport = {self.broker.port}\nkeepalive = 3\n'
            f'[web]\nport = {self.central_web_port}\n'
            f'[[users]]\nname = "{CENTRAL_USER[0]}"\npassword_hash = "{generate_password_hash(CENTRAL_USER[1])}"\n',
            encoding="utf-8")
        self.centrals = [Proc(["central", "--config", str(self.central_config)], central_dir / f"central-{n}.log")
                         for n in range(aggregators)]
        self.central = self.centrals[0]
        self.kiosks = [Kiosk(self.tmp / f"k{n}", f"k{n}", site, kiosk_broker_port, kiosk_env or {},
                             kiosk_sections or {}) for n in range(1, kiosks + 1)]

    def __enter__(self) -> "SiteHarness":
        self.broker.start()
        if self.link:
            self.link.start()
        self.central.start()
        wait_port(self.central_web_port, timeout=30)
        for worker in self.centrals[1:]:
            self.start_aggregator(worker)
        for k in self.kiosks:
            k.printer.start()
            k.start()
        wait_for(lambda: all(self.central_kiosk_state(k.id) == "online" for k in self.kiosks), 30,
                 what="every kiosk online at central")
        return self

    def __exit__(self, *exc) -> None:
        for k in self.kiosks:
            k.proc.stop()
            k.printer.stop()
        for central in self.centrals:
            central.stop()
        if self.link:
            self.link.stop()
        self.broker.stop()

    def restart_broker(self, kill: bool = True) -> None:
        self.broker.stop(kill=kill)
        self.broker.start()

    def start_aggregator(self, central: Proc) -> None:
        """Start an ingest-only `vaxkiosk central` and wait until it has subscribed (its log says so)."""
        before = central.log_text().count("subscribed to the kiosks' topics")
        central.start()
        wait_for(lambda: central.log_text().count("subscribed to the kiosks' topics") > before, 30,
                 what="aggregator subscribed")

    # -- central's side, read from its SQLite file or its PostgreSQL database ------------------------------------
    def central_query(self, sql: str, args=()) -> list:
        if self.store_url:
            import psycopg

            from base.pgstore import Connection

            with psycopg.connect(self.store_url, autocommit=True, row_factory=psycopg.rows.dict_row) as raw:
                return Connection(raw).execute(sql, args).fetchall()
        if not self.central_db.exists():
            return []
        return _read(self.central_db, sql, args)

    def central_ids(self, kiosk: str, stream: str = "checkins") -> list[str]:
        return [r["record_id"] for r in self.central_query(
            "SELECT record_id FROM records WHERE kiosk = ? AND stream = ?", (kiosk, stream))]

    def central_kiosk_state(self, kiosk: str) -> str | None:
        rows = self.central_query("SELECT state FROM kiosks WHERE kiosk = ?", (kiosk,))
        return rows[0]["state"] if rows else None

    def wait_drained(self, timeout: float = 60) -> None:
        """Every kiosk's outbox acknowledged by central and central holding exactly what each kiosk committed."""
        for k in self.kiosks:
            wait_for(lambda: k.undelivered() == 0 and sorted(self.central_ids(k.id)) == sorted(k.checkin_ids()),
                     timeout, what=f"{k.id}: outbox drained into central")


class LinkProxy:
    """tests.support.tcp_proxy as a subprocess: `cut()` silences the kiosk ↔ broker link, `restore()` ends it."""

    def __init__(self, folder: Path, target_port: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.port, self.target_port = free_port(), target_port
        self.control = folder / "link"
        self.log = folder / "proxy.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LinkProxy":
        self.restore()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.tcp_proxy", str(self.port),
                                          str(self.target_port), str(self.control)], cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_port(self.port)
        return self

    def _write(self, word: str) -> None:
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(word + "\n")
        tmp.replace(self.control)

    def cut(self) -> None:
        self._write("cut")

    def restore(self) -> None:
        self._write("up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
