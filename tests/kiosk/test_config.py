"""The TOML configuration: valid files load; every mistake is named with its key, value and what was expected."""

import pytest

from base.config import ConfigError
from kiosk.config import from_dict, load
from tests.conftest import vaxkiosk


def test_minimal_file_loads_with_defaults(tmp_path):
    p = tmp_path / "k.toml"
    p.write_text('[kiosk]\nsite_id = "GL-01"\nkiosk_id = "k1"\n')
    c = load(p)
    assert c.kiosk.site_id == "GL-01" and c.camera.enabled is False and c.web.port == 8080
    assert c.kiosk.keep_address is False and c.printer.paper_mm == 80


@pytest.mark.parametrize("data, expected", [
    ({}, "[kiosk]: missing"),
    ({"kiosk": {"site_id": "GL-01"}}, "kiosk.kiosk_id: missing"),
    ({"kiosk": {"site_id": "GL 01", "kiosk_id": "k1"}}, "kiosk.site_id = 'GL 01': expected letters, digits"),
    ({"kiosk": {"site_id": "a/b", "kiosk_id": "k1"}}, "kiosk.site_id = 'a/b'"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1", "keep_adress": True}}, "did you mean 'keep_address'"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1"}, "camra": {}}, "did you mean [camera]"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1"}, "web": {"port": "80"}}, "web.port = '80': expected a whole number"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1"}, "web": {"port": 70000}}, "expected a TCP port"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1"}, "printer": {"paper_mm": 57}}, "expected one of 58, 80"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1"}, "camera": {"enabled": "yes"}}, "expected true or false"),
    ({"kiosk": {"site_id": "a", "kiosk_id": "k1", "min_free_mb": 0}}, "greater than 0"),
    ({"kiosk": "x"}, "must be a table"),
])
def test_mistakes_are_named(data, expected):
    with pytest.raises(ConfigError) as e:
        from_dict(data, source="k.toml")
    assert expected in str(e.value)
    assert str(e.value).startswith("k.toml")


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[kiosk\nsite_id=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(p)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(tmp_path / "nope.toml")


def test_kiosk_command_refuses_a_bad_file_with_a_readable_message(tmp_path):
    p = tmp_path / "k.toml"
    p.write_text('[kiosk]\nsite_id = "GL-01"\nkiosk_id = "k1"\n[web]\nprot = 8080\n')
    proc = vaxkiosk("kiosk", "--config", str(p), timeout=30)
    assert proc.returncode == 78
    assert b"web.prot: unknown key (did you mean 'port'?)" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_env_variable_names_the_file(tmp_path):
    p = tmp_path / "k.toml"
    p.write_text('[kiosk]\nsite_id = "GL-01"\nkiosk_id = "k1"\n[web]\nport = 1\nhost = 5\n')
    proc = vaxkiosk("kiosk", env={"VAXKIOSK_CONFIG": str(p)}, timeout=30)
    assert proc.returncode == 78 and b"web.host = 5: expected a string" in proc.stderr


def test_every_mistake_of_the_file_is_named_at_once(tmp_path):
    """A technician fixes the file in one go: mistakes in several sections, and an unknown section, all in one
    message (base.config.build_sections), from the command line too (issue 18, point 13)."""
    p = tmp_path / "k.toml"
    p.write_text('[kiosk]\nsite_id = "GL 01"\nkiosk_id = "k1"\n[web]\nprot = 8080\n[printer]\npaper_mm = 57\n'
                 '[camra]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load(p)
    for expected in ("kiosk.site_id = 'GL 01'", "web.prot: unknown key", "printer.paper_mm = 57", "[camra]"):
        assert expected in str(e.value)
    proc = vaxkiosk("kiosk", "--config", str(p), timeout=30)
    assert proc.returncode == 78
    assert b"kiosk.site_id" in proc.stderr and b"web.prot" in proc.stderr and b"printer.paper_mm" in proc.stderr
