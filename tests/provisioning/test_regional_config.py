"""`vaxkiosk central regional-broker-config` and `broker-config --bridge-listen`: what they write and what they refuse.
How the brokers then behave, with real Mosquitto processes: tests/reliability/test_regional_bridge.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central import broker
from central.config import load
from central.registry import registry_from_config
from tests.conftest import vaxkiosk_json
from tests.provisioning.conftest import write_central_toml
from tests.support.net import free_port


@pytest.fixture
def national(tmp_path):
    """central.toml with sites in two would-be regions and one kiosk enrolled at each site."""
    broker_dir = tmp_path / "broker"
    config = write_central_toml(tmp_path / "central.toml", tmp_path / "central", "pw-central", broker_dir,
                                Path(""), "", "127.0.0.1", 8883, central_port=free_port())
    registry = registry_from_config(load(config))
    kiosks = {}
    for site in ("HN-01", "HN-02", "GL-01"):
        registry.add_site(site)
        kiosks[site] = registry.redeem(registry.create_code(site)[0]).kiosk_id
    yield config, broker_dir, registry, kiosks
    registry.close()


def cli(config: Path, *args: str) -> tuple[int, dict | None]:
    try:
        return vaxkiosk_json("central", *args, "--json", "--config", str(config))
    except (json.JSONDecodeError, IndexError):  # a refusal prints its reason on stderr, no JSON
        return 2, None


def test_broker_config_without_bridges_writes_what_it_wrote_before(national, tmp_path):
    config, broker_dir, _registry, _kiosks = national
    code, out = cli(config, "broker-config", "--conf", str(tmp_path / "a.conf"), "--central-listen", "127.0.0.1:1883",
                    "--listen", "1884")
    assert code == 0 and "bridge_password_file" not in out
    conf = (tmp_path / "a.conf").read_text()
    assert "bridge" not in conf and not (broker_dir / "bridge.passwd").exists()
    assert not (broker_dir / "regions").exists()


def test_regional_config_bridges_only_its_sites_and_keeps_only_its_kiosks(national, tmp_path):
    config, broker_dir, registry, kiosks = national
    # Before the national broker has its bridge listener there is no CA to check it with.
    code, _ = cli(config, "regional-broker-config", "--region", "north", "--site", "HN-01", "--national",
                  "127.0.0.1:8884", "--listen", "1885")
    assert code == 2
    code, out = cli(config, "broker-config", "--conf", str(tmp_path / "n.conf"), "--central-listen",
                    "127.0.0.1:1883", "--bridge-listen", "8884", "--tls-host", "national.example.vn")
    assert code == 0
    assert (broker_dir / "bridge.passwd").read_text() == ""  # the listener exists, no region may log in yet
    code, out = cli(config, "regional-broker-config", "--region", "north", "--site", "HN-01", "--site", "HN-02",
                    "--national", "national.example.vn:8884", "--tls-listen", "8883", "--tls-host", "hn.example.vn")
    assert code == 0 and out["bridge_user"] == "region-north"
    region = Path(out["dir"])
    conf = (region / "vaxkiosk.conf").read_text()
    topics = [line for line in conf.splitlines() if line.startswith("topic ")]
    assert len(topics) == 2 * 6 and all("/HN-01/+/" in t or "/HN-02/+/" in t for t in topics)
    for line in ("cleansession false", "local_cleansession false", "address national.example.vn:8884",
                 f"bridge_cafile {region / 'ca.pem'}", "bridge_insecure false", "try_private true"):
        assert line in conf.splitlines(), line
    # Its kiosks only, with the national ACL's per-kiosk topics.
    passwd = (region / "passwd").read_text()
    assert kiosks["HN-01"] in passwd and kiosks["HN-02"] in passwd and kiosks["GL-01"] not in passwd
    assert (region / "acl").read_text() == broker.kiosk_acl_text(
        [k for k in registry.broker_logins() if k.site_id in ("HN-01", "HN-02")])
    # The national broker's bridge login for it names exactly its sites.
    acl = (broker_dir / "bridge.acl").read_text()
    assert "user region-north" in acl and "GL-01" not in acl and "#" not in acl.replace("# ", "")
    password = next(line.split(" ", 1)[1] for line in conf.splitlines() if line.startswith("remote_password "))
    hashed = (broker_dir / "bridge.passwd").read_text().strip().split(":", 1)[1]
    assert broker.verify_password(password, hashed)

    # A site belongs to one region; unknown sites and bad names are refused; nothing is changed by a refusal.
    for bad in (["--region", "south", "--site", "HN-02"], ["--region", "south", "--site", "XX-99"],
                ["--region", "south/x", "--site", "GL-01"]):
        code, _ = cli(config, "regional-broker-config", *bad, "--national", "national.example.vn:8884",
                      "--listen", "1885")
        assert code == 2, bad
    assert not (broker_dir / "regions" / "south").exists()
    assert (broker_dir / "bridge.acl").read_text() == acl

    # Enrolment and revocation rewrite the region's files with the national ones.
    newcomer = registry.redeem(registry.create_code("HN-02")[0]).kiosk_id
    assert newcomer in (region / "passwd").read_text()
    registry.revoke(kiosks["HN-01"])
    assert kiosks["HN-01"] not in (region / "passwd").read_text()
    assert kiosks["HN-01"] not in (region / "acl").read_text()

    # Running it again rotates the bridge's password.
    code, _ = cli(config, "regional-broker-config", "--region", "north", "--site", "HN-01", "--site", "HN-02",
                  "--national", "national.example.vn:8884", "--tls-listen", "8883", "--tls-host", "hn.example.vn")
    assert code == 0 and (broker_dir / "bridge.passwd").read_text().strip().split(":", 1)[1] != hashed
