"""Broker files as Mosquitto's own tools read and write them."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

from central import broker
from tests.conftest import ROOT
from tests.provisioning.conftest import SITE


def test_password_hashes_match_mosquitto_passwd(tmp_path):
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "k1", "Mật khẩu-1"], check=True)
    theirs = passwd.read_text().strip().split(":", 1)[1]
    assert broker.verify_password("Mật khẩu-1", theirs)
    assert not broker.verify_password("wrong", theirs)
    ours = broker.hash_password("Mật khẩu-1")
    assert ours.startswith("$7$101$") and broker.verify_password("Mật khẩu-1", ours)


def test_acl_gives_each_kiosk_its_own_topics_under_its_own_site():
    acl = broker.kiosk_acl_text([broker.KioskLogin("GL-01-k02", "GL-01", "h"),
                                 broker.KioskLogin("HN-01-k01", "HN-01", "h")])
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in acl.split("\n\n")[1:]}
    assert set(blocks) == {"user GL-01-k02", "user HN-01-k01"}
    own = blocks["user GL-01-k02"]
    assert all(line.startswith("topic ") and " vaxkiosk/v1/GL-01/GL-01-k02/" in line for line in own)
    assert "+" not in acl and "#" not in acl.replace("# ", "") and "pattern" not in acl
    assert "topic read vaxkiosk/v1/GL-01/GL-01-k02/ack" in own
    assert "topic write vaxkiosk/v1/GL-01/GL-01-k02/ack" not in own
    assert "topic write vaxkiosk/v1/GL-01/GL-01-k02/records/checkins" in own and len(own) == 3 + 4 + 2
    assert "user central" in broker.central_acl_text() and "user central" not in acl


def test_conf_has_the_settings_the_fleet_relies_on(tmp_path):
    files = broker.BrokerFiles(tmp_path)
    listeners = [broker.Listener(1883, "127.0.0.1", kiosks=False),
                 broker.Listener(8883, "", cafile="ca", certfile="c", keyfile="k")]
    conf = broker.broker_conf_text(files, listeners)
    central_block, kiosk_block = conf.split("\n\nlistener ")[1:]
    for line in ("per_listener_settings true", f"max_queued_messages {broker.MAX_QUEUED_MESSAGES}",
                 "persistent_client_expiration 1h", "message_size_limit 40960", "max_packet_size 41984"):
        assert line in conf.splitlines()
    assert "allow_anonymous false" in central_block and "allow_anonymous false" in kiosk_block
    # Central's listener knows only central; kiosk listeners only kiosks.
    assert f"password_file {files.central_password_file}" in central_block
    assert f"acl_file {files.central_acl_file}" in central_block
    assert f"password_file {files.password_file}" in kiosk_block and f"acl_file {files.acl_file}" in kiosk_block
    assert "use_username_as_clientid false" in central_block and "certfile" not in central_block
    assert "use_username_as_clientid true" in kiosk_block and "certfile c" in kiosk_block


def test_enrol_endpoint_refuses_malformed_requests_and_is_never_cached(central):
    def post(body: bytes):
        request = urllib.request.Request(central.url + "/api/v1/enrol", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, json.loads(exc.read())

    for body in (b"", b"[]", b'{"code": 5}', b'{"code": "   "}', json.dumps({"code": "x" * 100}).encode()):
        status, headers, out = post(body)
        assert (status, out["error"]["code"]) == (400, "bad_request")
        assert headers["Cache-Control"] == "no-store"
    code, _ = central.registry.create_code(SITE)
    status, headers, out = post(json.dumps({"code": code}).encode())
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert out["enrolment"]["mqtt"]["username"] == out["enrolment"]["kiosk_id"]


def test_installer_is_valid_bash_and_installs_files_that_exist():
    script = ROOT / "provisioning" / "install-pi.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    for relative in ("systemd/vaxkiosk-kiosk.service", "systemd/vaxkiosk-browser.service",
                     "systemd/vaxkiosk-central.service", "systemd/vaxkiosk-broker-reload.path",
                     "systemd/vaxkiosk-broker-reload.service", "systemd/mosquitto.service.d/vaxkiosk.conf",
                     "provisioning/udev/60-vaxkiosk.rules", "provisioning/udev/blacklist-usblp.conf"):
        assert f"$SRC/{relative}" in text and (ROOT / relative).exists(), relative


def test_dashboard_code_view_and_the_kiosk_camera_path(central):
    import cv2
    import numpy as np
    import segno

    from central.enrol_api import new_code_view
    from drivers.barcode import make_decoder
    from kiosk.identity import parse

    view = new_code_view(central.registry, SITE)
    assert view["qr_svg"].startswith("<svg") and view["code"] in view["qr_text"]
    assert parse(view["qr_text"]).kind == "enrolment"
    # The kiosk's decoder reads the enrolment text (URL, '|', dashes) back from its QR, byte for byte.
    modules = np.array([list(r) for r in segno.make(view["qr_text"], error="m").matrix], dtype=np.uint8)
    image = np.kron(np.pad(255 - 255 * modules, 4, constant_values=255), np.ones((5, 5), dtype=np.uint8))
    assert [c.text for c in make_decoder("zxing")(cv2.merge([image] * 3))] == [view["qr_text"]]


def test_concurrent_enrolments_from_two_processes_all_reach_the_password_file(central):
    """The CLI and the dashboard enrol at the same time: the password file still lists every active kiosk."""
    import threading

    from central.registry import Registry

    codes = [central.registry.create_code(SITE)[0] for _ in range(16)]
    other = Registry(central.registry.store.path, central.registry.broker_files,
                     central_password_hash=central.registry.central_password_hash)
    try:
        workers = [threading.Thread(target=lambda reg=reg, mine=codes[i::2]: [reg.redeem(c) for c in mine])
                   for i, reg in enumerate((central.registry, other))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
    finally:
        other.close()
    files = central.registry.broker_files
    users = {line.split(":", 1)[0] for line in files.password_file.read_text().splitlines()}
    assert users == {d["kiosk_id"] for d in central.registry.devices()} and len(users) == 16
    assert {line for line in files.acl_file.read_text().splitlines() if line.startswith("user ")} == {
        f"user {u}" for u in users}
    assert files.central_password_file.read_text().startswith("central:$7$")
