"""Run only by tests/test_suite_rules.py, in a pytest of its own (the name keeps it out of normal collection)."""

import os

import pytest


def test_probe():
    pytest.skip(os.environ["SKIP_PROBE_REASON"])
