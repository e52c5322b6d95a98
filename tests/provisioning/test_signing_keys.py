"""A kiosk's signing key is created at provisioning and put on central's trust list; any other kiosk verifies its
certificates offline from the cached list, and revoking the kiosk revokes its key."""

from __future__ import annotations

import json
import tomllib

from tests.conftest import SAMPLE_QR, vaxkiosk, vaxkiosk_json


def provision(central, tmp_path, name: str) -> tuple[str, dict]:
    code, _ = central.registry.create_code("GL-01")
    config = tmp_path / name / "kiosk.toml"
    config.parent.mkdir()
    proc = vaxkiosk("provision", "--central", central.url, "--code", code, "--config", str(config),
                    "--data-dir", str(tmp_path / name / "data"), "--json")
    assert proc.returncode == 0, proc.stderr
    return str(config), tomllib.loads(config.read_text())


def test_provisioned_kiosk_signs_and_others_verify_through_the_trust_list(central, tmp_path):
    signer_config, signer = provision(central, tmp_path, "signer")
    assert signer["certificates"]["trust_list_url"] == central.url + "/api/v1/trustlist"
    anchor = open(signer["certificates"]["trust_anchor"]).read()
    assert "BEGIN CERTIFICATE" in anchor
    # The trust list now holds the signer's certificate.
    certificates, revoked = central.registry.trust_entries()
    assert len(certificates) == 1 and revoked == []

    sample = tmp_path / "cert.bin"
    proc = vaxkiosk("print-sample", "--kind", "certificate", "--payload", SAMPLE_QR, "--config", signer_config,
                    "--out", str(sample))
    assert proc.returncode == 0, proc.stderr
    rc, rendered = vaxkiosk_json("escpos-render", str(sample), "--out", str(tmp_path / "cert.png"))
    hc1 = rendered["qr"][0]
    assert hc1.startswith("HC1:")

    # An inspector kiosk: its own identity and key, it knows the signer only through central's trust list.
    inspector_config, inspector = provision(central, tmp_path, "inspector")
    rc, unknown = vaxkiosk_json("verify-cert", "--config", inspector_config, hc1)
    assert rc == 1 and unknown["reason"] == "unknown_kid"
    refresh(inspector)
    rc, verdict = vaxkiosk_json("verify-cert", "--config", inspector_config, hc1)
    assert rc == 0 and verdict["valid"] is True and verdict["name"] == "Trần Thị Hồng Nhung"

    central.registry.revoke(signer["kiosk"]["kiosk_id"], "stolen")
    refresh(inspector)
    rc, verdict = vaxkiosk_json("verify-cert", "--config", inspector_config, hc1)
    assert rc == 1 and verdict["reason"] == "revoked"


def refresh(config: dict) -> None:
    from cryptography import x509

    from kiosk.certificates.trustlist import refresh as refresh_list

    anchors = x509.load_pem_x509_certificates(open(config["certificates"]["trust_anchor"], "rb").read())
    refresh_list(config["kiosk"]["data_dir"], config["certificates"]["trust_list_url"], anchors)


def test_enrolment_refuses_a_malformed_signing_certificate(central):
    import urllib.error
    import urllib.request

    code, _ = central.registry.create_code("GL-01")
    request = urllib.request.Request(central.url + "/api/v1/enrol", method="POST",
                                     data=json.dumps({"code": code, "signing_certificate": "not a PEM"}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        assert json.loads(exc.read())["error"]["code"] == "bad_certificate"
    # The code was not spent on the refused request.
    assert central.registry.store.query_one("SELECT used_wall FROM enrol_codes")["used_wall"] is None


def test_revoke_key_command_revokes_one_key(central, tmp_path):
    _config, kiosk = provision(central, tmp_path, "k")
    from base.signing import kid_of
    from base.trustlist import b64

    certificates, _ = central.registry.trust_entries()
    kid = b64(kid_of(certificates[0]))
    rc, out = vaxkiosk_json("central", *central.registry_args, "revoke-key", "--kid", kid, "--json")
    assert rc == 0 and out == {"ok": True, "kid": kid}
    assert central.registry.trust_entries()[1] == [kid_of(certificates[0])]
    proc = vaxkiosk("central", *central.registry_args, "revoke-key", "--kid", "AAAAAAAAAAA=")
    assert proc.returncode != 0 and b"No such signing key" in proc.stderr + proc.stdout
