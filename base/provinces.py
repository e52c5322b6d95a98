"""The 63 provinces and their 3-digit codes (provinces.csv, beside this file): the first three digits of a citizen's
ID number (kiosk.identity checks them) and the province of a vaccination site (central's [[sites]])."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def provinces() -> dict[str, str]:
    """code → province name, in the file's order."""
    with resources.files("base").joinpath("provinces.csv").open(encoding="utf-8") as f:
        return {row["code"]: row["province"] for row in csv.DictReader(f)}
