"""Builds cases.json, the conformance cases of tests/kiosk/certificates/test_dcc_conformance.py, from a git copy of
https://github.com/eu-digital-green-certificates/dgc-testdata (Apache-2.0, see LICENSE and NOTICE here).

    cd tests/kiosk/certificates/data/dgc-testdata && python build_cases.py GIT_DIR [COMMIT] > cases.json

GIT_DIR is the repository's git directory (a bare clone works), COMMIT defaults to HEAD. Every JSON file of that
commit whose EXPECTEDRESULTS carry EXPECTEDVERIFY or EXPECTEDEXPIRATIONCHECK is kept, and of each case only what a
verifier reads: PREFIX (the HC1 text), TESTCTX.CERTIFICATE (the DSC, stored once per distinct certificate),
TESTCTX.VALIDATIONCLOCK and TESTCTX.DESCRIPTION as written upstream, and the EXPECTEDVERIFY,
EXPECTEDEXPIRATIONCHECK and EXPECTEDKEYUSAGE verdicts. The QR images, hex dumps and other verdicts are left out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

UPSTREAM = "https://github.com/eu-digital-green-certificates/dgc-testdata"
SELECTING = ("EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK")
KEPT = SELECTING + ("EXPECTEDKEYUSAGE",)


def git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def build(git_dir: str, commit: str = "HEAD") -> dict:
    sha = git(git_dir, "rev-parse", f"{commit}^{{commit}}").decode().strip()
    committed = git(git_dir, "show", "-s", "--format=%cI", sha).decode().strip()
    paths = [p for p in git(git_dir, "ls-tree", "-r", "--name-only", sha).decode().splitlines() if p.endswith(".json")]
    certificates: dict[str, str] = {}
    cases = []
    for path in sorted(paths):
        data = json.loads(git(git_dir, "show", f"{sha}:{path}"))
        expected = data.get("EXPECTEDRESULTS") if isinstance(data, dict) else None
        if not isinstance(expected, dict) or not any(k in expected for k in SELECTING):
            continue
        context = data["TESTCTX"]
        der = base64.b64decode(context["CERTIFICATE"])
        ref = hashlib.sha256(der).hexdigest()[:16]
        certificates[ref] = base64.b64encode(der).decode("ascii")
        verdicts = {k: expected[k] for k in KEPT if k in expected}
        assert all(isinstance(v, bool) for v in verdicts.values()), (path, verdicts)
        cases.append({"path": path, "description": context.get("DESCRIPTION"), "prefix": data["PREFIX"],
                      "certificate": ref, "clock": context.get("VALIDATIONCLOCK"), "expected": verdicts})
    return {"upstream": UPSTREAM, "commit": sha, "committed": committed, "license": "Apache-2.0",
            "certificates": dict(sorted(certificates.items())), "cases": cases}


def dumps(built: dict) -> str:
    """JSON with one certificate and one case per line: small, and a rebuild from a newer commit diffs by case."""
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    head = ",\n".join(f"{one(k)}:{one(v)}" for k, v in built.items() if k not in ("certificates", "cases"))
    certificates = ",\n".join(f" {one(k)}:{one(v)}" for k, v in built["certificates"].items())
    cases = ",\n".join(f" {one(case)}" for case in built["cases"])
    return f"{{{head},\n\"certificates\":{{\n{certificates}}},\n\"cases\":[\n{cases}]}}\n"


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    sys.stdout.write(dumps(build(*sys.argv[1:])))
