"""The operations sections of central.toml are checked like the kiosk's: a mistake names the key and stops the start."""

from __future__ import annotations

import pytest

from base.config import ConfigError
from central.ops_config import from_dict
from tests.conftest import vaxkiosk


def test_mistakes_name_the_key():
    with pytest.raises(ConfigError, match=r"sites\[0\]\.province = '999': expected a 3-digit province code"):
        from_dict({"sites": [{"id": "GL-01", "province": "999"}]})
    with pytest.raises(ConfigError, match=r"web\.prot: unknown key \(did you mean 'port'\?\)"):
        from_dict({"web": {"prot": 8090}})
    with pytest.raises(ConfigError, match="same id twice"):
        from_dict({"sites": [{"id": "A", "province": "064"}, {"id": "A", "province": "001"}]})
    with pytest.raises(ConfigError, match="password_hash"):
        from_dict({"users": [{"name": "ops"}]})
    config = from_dict({"sites": [{"id": "GL-01", "province": "064", "district": "Pleiku"}]})
    assert config.site_by_id["GL-01"].province_name == "Gia Lai"


def test_central_stops_on_a_bad_site(tmp_path):
    path = tmp_path / "central.toml"
    path.write_text(f'[central]\ndata_dir = "{tmp_path}"\n[[sites]]\nid = "GL 01"\nprovince = "064"\n',
                    encoding="utf-8")
    proc = vaxkiosk("central", "--config", str(path), timeout=30)
    assert proc.returncode == 78, proc.stderr.decode()
    assert b"sites[0].id = 'GL 01'" in proc.stderr


def test_password_hash_command():
    from werkzeug.security import check_password_hash

    proc = vaxkiosk("central", "password-hash", "--stdin", input="mật khẩu dài đủ\n".encode())
    assert proc.returncode == 0 and check_password_hash(proc.stdout.decode().strip(), "mật khẩu dài đủ")
    assert vaxkiosk("central", "password-hash", "--stdin", input=b"short\n").returncode == 1


def test_every_mistake_is_named_at_once():
    with pytest.raises(ConfigError) as e:
        from_dict({"web": {"prot": 8090}, "sites": [{"id": "GL-01", "province": "999"}], "users": [{"name": "ops"}]})
    for expected in ("web.prot: unknown key", "sites[0].province = '999'", "password_hash"):
        assert expected in str(e.value)


def test_store_url_selects_postgresql_or_keeps_sqlite_with_clear_messages(tmp_path):
    from central.config import from_dict as central_config

    default = central_config({"central": {"data_dir": str(tmp_path)}})
    assert default.store_location == tmp_path / "central.db" and default.ops_location == tmp_path / "ops.db"
    path = central_config({"central": {"data_dir": str(tmp_path)}, "store": {"url": "/srv/c/central.db"}})
    assert str(path.store_location) == "/srv/c/central.db" and path.ops_location == tmp_path / "ops.db"
    url = "postgresql://central:pw@10.0.0.5:5432/vaxkiosk"
    pg = central_config({"central": {"data_dir": str(tmp_path)}, "store": {"url": url}})
    assert pg.store_location == url and pg.ops_location == url  # registry, records and operations data all move
    for bad, why in [("mysql://x@h/db", "scheme 'mysql' is not supported"),
                     ("postgresql://central@10.0.0.5:5432/", "names its database"),
                     ("postgresql://central@host:notaport/db", "with a TCP port number"),
                     ("postgresql://a@h/db?sslmode=maybe&x", "a valid postgresql:// URL"),
                     (5432, "a string")]:
        with pytest.raises(ConfigError, match=rf"store\.url.*{why}"):
            central_config({"store": {"url": bad}}, source="central.toml")
    with pytest.raises(ConfigError, match=r"store\.url") as refused:
        central_config({"store": {"url": "postgresql://central:s3cret-pw@h:99999/db"}})
    assert "s3cret-pw" not in str(refused.value)  # the message lands in logs
    with pytest.raises(ConfigError, match=r"store\.uri: unknown key"):
        central_config({"store": {"uri": url}})
