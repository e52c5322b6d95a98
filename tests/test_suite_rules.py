"""Rules of the suite itself: a skip fails the run unless its reason cannot apply to CI."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run_probe(reason: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/support/skip_probe.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SKIP_PROBE_REASON": reason})


def test_an_unexplained_skip_fails_the_run():
    proc = run_probe("could not import 'kiosk.certificates'")
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, proc.stdout
    assert "skips that fail the run" in proc.stdout and "kiosk.certificates" in proc.stdout


def test_a_skip_that_cannot_apply_to_ci_passes():
    proc = run_probe("picamera2 is installed: this test is about machines without it")
    assert proc.returncode == pytest.ExitCode.OK, proc.stdout
