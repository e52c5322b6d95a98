"""Target population per district, for the numbers pages' coverage: `[numbers] coverage = "coverage.csv"`.

The file is UTF-8 CSV (a spreadsheet's byte-order mark is fine) with the header `province,district,target_population`:
the province's 3-digit code (base/provinces.csv), the district as [[sites]] names it, the number of people the
campaign targets there (a positive whole number). Coverage is the vaccinations of the day or range per 100 people
of that target (a province's target is the sum of its listed districts'). A wrong file is refused whole, every
problem named with its line: a figure shown against a wrong target misleads more than no figure.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from base.provinces import provinces

HEADER = ["province", "district", "target_population"]


class CoverageError(ValueError):
    """The coverage file cannot be used; the message names every problem."""


def load(path: Path, sites) -> dict[tuple[str, str], int]:
    """(province, district) → target population, from the file at `path`; `sites`: the configured [[sites]] (a
    district must be one of theirs, so that a misspelt name is an error rather than a district never shown)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CoverageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CoverageError(f"{path}: not UTF-8 text (save the spreadsheet as CSV UTF-8)") from None
    return parse(text, sites, str(path))


def parse(text: str, sites, source: str = "<coverage>") -> dict[tuple[str, str], int]:
    known = provinces()
    districts: dict[str, set[str]] = {}
    for s in sites:
        districts.setdefault(s.province, set()).add(s.district)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))  # a spreadsheet's byte-order mark
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        raise CoverageError(f"{source}: line 1 must be the header {','.join(HEADER)}")
    targets: dict[tuple[str, str], int] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            problems.append(f"line {line}: {len(row)} fields, expected {len(HEADER)} ({','.join(HEADER)})")
            continue
        province, district, target = (c.strip() for c in row)
        if province not in known:
            problems.append(f"line {line}: province {province[:20]!r} is not a 3-digit code of base/provinces.csv")
            continue
        if district not in districts.get(province, set()):
            listed = ", ".join(sorted(districts.get(province, set()))) or "none"
            problems.append(f"line {line}: no [[sites]] entry in province {province} has district {district[:40]!r} "
                            f"(its districts: {listed})")
            continue
        if not (target.isascii() and target.isdigit() and int(target) > 0):
            problems.append(f"line {line}: target_population must be a positive whole number, not {target[:20]!r}")
            continue
        if (province, district) in targets:
            problems.append(f"line {line}: {province} {district} is listed twice")
            continue
        targets[(province, district)] = int(target)
    if problems:
        raise CoverageError(f"{source}: " + "; ".join(problems))
    return targets


def percent(vaccinated: int, target: int | None) -> float | None:
    """Vaccinations per 100 of the target population, to one decimal (None without a target)."""
    return round(100 * vaccinated / target, 1) if target else None
