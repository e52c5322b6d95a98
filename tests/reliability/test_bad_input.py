"""Bad input at every boundary of a running site, from seeded generators (tests/reliability/garbage.py): scanned text
(POST /api/scan and the serial scanner), the citizen's manual entry and record lookup, the staff desk's forms, MQTT
payloads to central, and kiosk and central configuration files.

Every case must get a clear answer (an error with a stable code, or a 4xx page), never a 5xx; the process keeps
running; the stored data does not change (checked by a digest of the tables that hold the site's facts). The number
of cases tried is printed.
"""

import hashlib
import http.cookiejar
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kiosk.identity import Identity, KioskCode, parse
from tests.conftest import vaxkiosk
from tests.reliability import garbage
from tests.reliability.load import seeded_rng
from tests.support.site import CENTRAL_USER, SiteHarness, qr, wait_for

pytestmark = pytest.mark.slow

CASES = 300
FACT_TABLES = ("checkins", "tickets", "print_jobs", "outbox", "screenings", "vaccinations", "corrections")


def digest(kiosk) -> str:
    """The site's facts in this kiosk's store, once the background work (printing, sync acks) has settled."""
    wait_for(lambda: kiosk.undelivered() == 0 and not kiosk.query(
        "SELECT id FROM print_jobs WHERE state IN ('pending', 'printing')"), 30, what="kiosk settled")
    digests = {}
    for table in FACT_TABLES:
        h = hashlib.sha256()
        for row in kiosk.query(f"SELECT * FROM {table} ORDER BY rowid"):
            h.update(repr(tuple(row)).encode())
        digests[table] = h.hexdigest()[:16]
    return digests


@pytest.fixture(scope="module")
def serial_master(tmp_path_factory):
    master, slave = os.openpty()
    link = tmp_path_factory.mktemp("serial") / "usb-HandheldScanner-if00"
    link.symlink_to(os.ttyname(slave))
    os.close(slave)
    yield master, link
    os.close(master)


@pytest.fixture(scope="module")
def site(tmp_path_factory, serial_master):
    sections = {"serial": {"enabled": True, "port": str(serial_master[1]), "reconnect_seconds": 0.2}}
    with SiteHarness(tmp_path_factory.mktemp("site"), kiosk_sections=sections) as running:
        kiosk = running.kiosks[0]
        kiosk.scan(qr(0))  # one citizen already checked in: the forms below have a real check-in to aim at
        yield running


def clear_error(error) -> bool:
    return isinstance(error, dict) and bool(error.get("code")) and bool(error.get("message_en"))


def test_scanned_text_through_api_scan(site):
    kiosk, rng = site.kiosks[0], seeded_rng("bad_input.scan")
    before, answers = digest(kiosk), {"not_text": 0}
    for _ in range(CASES):
        raw = garbage.scanned_text(rng)
        if isinstance(parse(raw), (Identity, KioskCode)):
            continue  # a damaged code that is still a valid card: not bad input
        status, answer = kiosk.post_json("/api/scan", {"text": raw})
        if status == 400:  # "\udfff" escapes: not Unicode text, refused before the scan path
            assert answer["error"]["code"] == "bad_request", (raw, answer)
            answers["not_text"] += 1
            continue
        assert answer["result"] == "error" and clear_error(answer["error"]), (raw, answer)
        assert answer["error"]["message_vi"]
        answers[answer["error"]["code"]] = answers.get(answer["error"]["code"], 0) + 1
    assert kiosk.proc.running and digest(kiosk) == before
    print(f"bad_input.scan: {sum(answers.values())} damaged or random codes; answers by error code {answers}")


def test_serial_lines(site, serial_master):
    kiosk, rng, master = site.kiosks[0], seeded_rng("bad_input.serial"), serial_master[0]
    sent = 0
    for _ in range(CASES):
        line = garbage.scanned_text(rng).encode("utf-8", "surrogatepass")
        if rng.random() < 0.3:
            line = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))  # line noise, not UTF-8
        line = line.replace(b"\r", b"")
        if isinstance(parse(line), (Identity, KioskCode)):
            continue
        os.write(master, line + b"\r")
        sent += 1
    os.write(master, qr(900).encode() + b"\r")  # then a good card: the scanner is still reading
    wait_for(lambda: kiosk.query("SELECT count(*) AS n FROM checkins WHERE source = 'serial'")[0]["n"] == 1, 20,
             what="the good serial scan after the garbage")
    after = kiosk.query("SELECT count(*) AS n FROM checkins")[0]["n"]
    assert kiosk.proc.running and after == 2, "garbage on the serial line made a check-in"
    print(f"bad_input.serial: {sent} bad lines (random, damaged cards, line noise), then a good card checked in")


def test_kiosk_json_apis(site):
    kiosk, rng = site.kiosks[0], seeded_rng("bad_input.json")
    before, tried, statuses = digest(kiosk), 0, {}
    endpoints = {"/api/scan": ("text", "source"), "/checkin/manual": ("id_number", "full_name", "dob"),
                 "/record/lookup": ("id_number", "full_name", "dob", "token"),
                 "/checkin/reprint": ("checkin_id", "kind")}
    for _ in range(CASES):
        path = rng.choice(list(endpoints))
        body = garbage.json_body(rng, endpoints[path])
        if path == "/checkin/manual" and _valid_manual(body):
            continue
        text = body.get("text") if isinstance(body, dict) else None
        if path == "/api/scan" and isinstance(text, str) and isinstance(parse(text), (Identity, KioskCode)):
            continue  # a damaged card that is still a valid one (an address letter changed): not bad input
        status, answer = kiosk.post_json(path, body)
        assert status < 500, (path, body, status, answer)
        assert isinstance(answer, dict), (path, body, answer)
        error = answer.get("error")
        assert clear_error(error) or answer.get("ok") is False or answer.get("found") is False, (path, body, answer)
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1
    assert kiosk.proc.running and digest(kiosk) == before
    print(f"bad_input.json: {tried} bodies to {', '.join(endpoints)}; answers by HTTP status {statuses}")


def _valid_manual(body: bytes) -> bool:
    from kiosk.identity import from_manual

    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return isinstance(from_manual(str(data.get("id_number", "")), str(data.get("full_name", "")),
                                  str(data.get("dob", ""))), Identity)


class Browser:
    """A browser's cookie jar and CSRF token against a live web app (the kiosk's staff desk, central's dashboard)."""

    def __init__(self, base_url: str, login_path: str):
        self.base = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())
        self.csrf = self.csrf_from(login_path)

    def csrf_from(self, path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path)[1]).group(1)

    def get(self, path):
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path, form: dict):
        data = urllib.parse.urlencode(form, encoding="utf-8", errors="surrogatepass").encode()
        return self._open(urllib.request.Request(self.base + path, data=data, method="POST"))

    def _open(self, req):
        try:
            with self.opener.open(req, timeout=10) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def test_staff_forms(site):
    kiosk, rng = site.kiosks[0], seeded_rng("bad_input.staff")
    proc = vaxkiosk("staff", "add", "--config", str(kiosk.config), "--name", "Lê Thị Mai", "--role", "technician",
                    "--pin-stdin", input=b"482913\n")
    assert proc.returncode == 0, proc.stderr
    checkin_id = kiosk.checkin_ids()[0]
    before, statuses, tried = digest(kiosk), {}, 0

    browser = Browser(kiosk.url(""), "/staff/login")
    for _ in range(CASES // 3):  # the login form: nobody gets in, nothing breaks (lock-outs are 423, fine)
        status, _ = browser.post("/staff/login", {"csrf": rng.choice((browser.csrf, garbage.text(rng, 40))),
                                                  "name": garbage.text(rng, 40), "pin": garbage.text(rng, 12)})
        assert status in (400, 401, 423), status
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1

    staff = Browser(kiosk.url(""), "/staff/login")
    assert staff.post("/staff/login", {"csrf": staff.csrf, "name": "Lê Thị Mai", "pin": "482913"})[0] == 302
    staff.csrf = staff.csrf_from(f"/staff/checkin/{checkin_id}")  # a new session, a new token
    forms = {"screen": ("outcome", "reason"), "inject": ("vaccine", "lot", "dose_number", "vaccinator"),
             "move": ("to_state", "reason"), "reprint": ("kind", "reason"), "finish": ("early_reason",),
             "recall": ("back",), "no-show": ("back",)}
    for _ in range(CASES):
        action = rng.choice(list(forms))
        target = checkin_id if rng.random() < 0.7 else garbage.text(rng, 40).replace("/", "")
        form = {f: "zz" + garbage.text(rng, 60) for f in forms[action] if rng.random() < 0.9}
        form["csrf"] = staff.csrf
        status, _ = staff.post(f"/staff/checkin/{urllib.parse.quote(target, safe='', errors='surrogatepass')}/{action}",
                               form)
        assert status < 500, (action, form, status)
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1
    for _ in range(CASES // 3):  # a technician's account actions on accounts that do not exist, or no action at all
        # ("x" first: a garbage text of Unicode digits is an account id to Flask, maybe the fuzzer's own account)
        account = rng.choice((str(rng.randrange(1000, 10 ** 9)), "x" + garbage.text(rng, 20).replace("/", "")))
        action = rng.choice(("unlock", "reset-pin", "remove", garbage.text(rng, 20).replace("/", "")))
        path = "/staff/tech/accounts/" + "/".join(urllib.parse.quote(x, safe="", errors="surrogatepass")
                                                  for x in (account, action))
        status, _ = staff.post(path, {"csrf": staff.csrf})
        assert status in (302, 400, 404, 405), (path, status)
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1
    for _ in range(CASES // 3):
        status, _ = staff.get("/staff/search?" + urllib.parse.urlencode({"q": garbage.scanned_text(rng)},
                                                                         errors="surrogatepass"))
        assert status == 200
        tried += 1
    assert kiosk.proc.running and digest(kiosk) == before
    print(f"bad_input.staff: {tried} login attempts, staff forms and searches; answers by HTTP status {statuses}")


def test_central_dashboard_forms_and_api(site):
    rng = seeded_rng("bad_input.central_web")
    base = f"http://127.0.0.1:{site.central_web_port}"
    records = site.central_query("SELECT count(*) AS n FROM records")[0]["n"]
    visitor, statuses, tried = Browser(base, "/login"), {}, 0
    for _ in range(CASES // 3):
        status, _ = visitor.post("/login", {"csrf": rng.choice((visitor.csrf, garbage.text(rng, 40))),
                                            "name": garbage.text(rng, 70), "password": garbage.text(rng, 30)})
        assert status in (400, 401, 429), status
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1
    ops = Browser(base, "/login")
    assert ops.post("/login", {"csrf": ops.csrf, "name": CENTRAL_USER[0], "password": CENTRAL_USER[1]})[0] == 302
    ops.csrf = ops.csrf_from("/corrections")
    record_id = site.central_ids(site.kiosks[0].id)[0]
    for _ in range(CASES):
        roll = rng.random()
        if roll < 0.4:
            target = record_id if rng.random() < 0.5 else garbage.text(rng, 40)
            path = f"/corrections/{urllib.parse.quote(target, safe='', errors='surrogatepass')}"
            form = {"state": garbage.text(rng, 20), "reason_code": garbage.text(rng, 20), "reason": garbage.text(rng)}
        elif roll < 0.6:
            path, form = f"/alerts/{rng.choice((0, 1, 2 ** 40, 7))}/ack", {}
        elif roll < 0.8:
            path, form = "/setup-codes", {"site": garbage.text(rng, 30)}
        else:
            # The day and range arguments every page takes, and any other key.
            key = rng.choice(("day", "from", "to", "level", garbage.text(rng, 8)))
            query = urllib.parse.urlencode({key: garbage.text(rng, 30)}, errors="surrogatepass")
            status, _ = ops.get(rng.choice(("/api/fleet", "/api/sites", "/api/numbers", "/metrics", "/", "/numbers",
                                            "/numbers.csv", "/alerts", "/corrections")) + "?" + query)
            assert status < 500, (query, status)
            statuses[status] = statuses.get(status, 0) + 1
            tried += 1
            continue
        form["csrf"] = ops.csrf
        status, _ = ops.post(path, form)
        assert status < 500, (path, form, status)
        statuses[status] = statuses.get(status, 0) + 1
        tried += 1
    assert site.central.running
    assert site.central_query("SELECT count(*) AS n FROM records")[0]["n"] == records
    print(f"bad_input.central_web: {tried} logins, dashboard forms and API queries; answers by HTTP status {statuses}")


def test_mqtt_payloads_to_central(site):
    import paho.mqtt.client as mqtt

    rng = seeded_rng("bad_input.mqtt")
    kiosk = site.kiosks[0]
    records_before = site.central_query("SELECT count(*) AS n FROM records")[0]["n"]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rogue-k1")
    client.connect("127.0.0.1", site.broker.port)
    client.loop_start()
    leaves = ["records/checkins", "records/vaccinations", "records/corrections", "records/print_events",
              "records/nosuch", "health", "queue", "status", "ack", "records"]
    tried = 0
    try:
        for _ in range(CASES):
            who = rng.choice(("k1", "k9", "k1/extra", "..", "Đ", "a" * 70))
            topic = f"vaxkiosk/v1/{site.kiosks[0].site}/{who}/{rng.choice(leaves)}"
            payload = (garbage.json_body(rng, ("schema", "site", "kiosk", "record_id", "at", "payload", "seq"))
                       if rng.random() < 0.8 else bytes(rng.randrange(256) for _ in range(rng.randrange(500))))
            client.publish(topic, payload, qos=1).wait_for_publish(5)
            tried += 1
    finally:
        client.loop_stop()
        client.disconnect()
    wait_for(lambda: sum(r["count"] for r in site.central_query("SELECT count FROM rejects")) > 0, 10,
             what="central counting rejects")
    assert site.central.running
    assert site.central_query("SELECT count(*) AS n FROM records")[0]["n"] == records_before
    kiosk.scan(qr(950))  # a real record still goes through
    site.wait_drained(30)
    rejects = {r["reason"]: r["count"] for r in site.central_query("SELECT reason, count FROM rejects")}
    print(f"bad_input.mqtt: {tried} payloads on kiosk topics; central rejected by reason {rejects}, "
          f"stored none, kept ingesting")


def test_kiosk_and_central_config_files(tmp_path):
    from base.config import ConfigError
    from central.config import load as load_central
    from kiosk.config import load as load_kiosk

    rng = seeded_rng("bad_input.config")
    valid_kiosk = (f'[kiosk]\nsite_id = "GL-01"\nkiosk_id = "k1"\ndata_dir = "{tmp_path / "data"}"\nmin_free_mb = 1\n'
                   '[printer]\nenabled = true\nport = 9100\npaper_mm = 80\n[mqtt]\nenabled = true\nport = 1883\n'
                   'keepalive = 30\n[camera]\nenabled = false\nfps = 30\n')
    valid_central = f'[central]\ndata_dir = "{tmp_path / "central"}"\n[mqtt]\nport = 1883\nbatch_max = 500\n'
    refused = {"kiosk": 0, "central": 0}
    accepted = 0
    path = tmp_path / "case.toml"
    for n in range(CASES):
        which, valid, load = (("kiosk", valid_kiosk, load_kiosk) if n % 2 else
                              ("central", valid_central, load_central))
        path.write_text(garbage.toml_document(rng, valid), encoding="utf-8", errors="surrogatepass")
        try:
            load(path)
            accepted += 1  # the damage happened to leave a valid file (e.g. a duplicated comment-free line)
        except ConfigError as exc:
            assert str(exc).startswith(str(path)), exc  # says which file, then what is wrong
            refused[which] += 1
    # The processes themselves: a bad file stops them at once with exit 78 (EX_CONFIG) and the reason on stderr.
    path.write_text(valid_kiosk.replace("fps = 30", "fps = -1"))
    run = vaxkiosk("kiosk", "--config", str(path), timeout=30)
    assert run.returncode == 78 and b"camera.fps" in run.stderr, run.stderr
    path.write_text(valid_central.replace("batch_max = 500", 'batch_max = "many"'))
    run = vaxkiosk("central", "--config", str(path), timeout=30)
    assert run.returncode == 78 and b"batch_max" in run.stderr, run.stderr
    assert sum(refused.values()) > CASES // 2
    print(f"bad_input.config: {CASES} damaged files; refused with a clear message {refused}, "
          f"still valid after the damage {accepted}; vaxkiosk kiosk/central exit 78 on a bad file")
