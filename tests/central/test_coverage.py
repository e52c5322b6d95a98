"""Coverage against a target population per district (`[numbers] coverage`): the CSV is read as spreadsheets write
it, every problem of a wrong file is named with its line and stops the configuration, and the numbers pages and API
show vaccinations per 100 of the target at district and province level."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from base.config import ConfigError
from central.coverage import CoverageError, parse, percent
from central.ops_config import Site, from_dict
from tests.central.conftest import SITES, run_plan, start_central, wait_for
from tests.central.test_web import Browser

CONFIGURED = [Site(s["id"], s["province"], s["name"], s["district"]) for s in SITES]


def test_a_coverage_file_is_read_as_a_spreadsheet_saves_it():
    text = "\ufeffProvince,District,Target_Population\r\n064,Pleiku,2000\r\n\r\n064, Ia Grai ,500\r\n001,Cầu Giấy,8\r\n"
    assert parse(text, CONFIGURED) == {("064", "Pleiku"): 2000, ("064", "Ia Grai"): 500, ("001", "Cầu Giấy"): 8}
    assert percent(3, 8) == 37.5 and percent(3, None) is None


def test_every_problem_of_a_coverage_file_is_named_with_its_line():
    with pytest.raises(CoverageError, match="line 1 must be the header province,district,target_population"):
        parse("tinh,huyen,dan_so\n064,Pleiku,2000\n", CONFIGURED)
    text = ("province,district,target_population\n"
            "064,Pleiku,2000\n"
            "999,Pleiku,10\n"           # not a province
            "064,Plieku,10\n"           # misspelt district
            "064,Ia Grai,1.5\n"
            "064,Ia Grai,0\n"
            "064,Ia Grai\n"
            "064,Pleiku,30\n"           # twice
            "001,Cầu Giấy,-4\n")
    with pytest.raises(CoverageError) as caught:
        parse(text, CONFIGURED, "coverage.csv")
    message = str(caught.value)
    assert message.startswith("coverage.csv: line 3: province '999' is not a 3-digit code")
    for expected in ("line 4: no [[sites]] entry in province 064 has district 'Plieku' (its districts: Ia Grai, Pleiku)",
                     "line 5: target_population must be a positive whole number, not '1.5'",
                     "line 6: target_population must be a positive whole number, not '0'",
                     "line 7: 2 fields, expected 3", "line 8: 064 Pleiku is listed twice",
                     "line 9: target_population must be a positive whole number, not '-4'"):
        assert expected in message


def test_a_wrong_or_missing_coverage_file_stops_the_configuration(tmp_path):
    (tmp_path / "coverage.csv").write_text("province,district,target_population\n064,Nowhere,5\n", encoding="utf-8")
    data = {"sites": SITES, "numbers": {"coverage": "coverage.csv"}}
    with pytest.raises(ConfigError, match=r"\[numbers\] coverage: .*coverage.csv: line 2: no \[\[sites\]\] entry"):
        from_dict(data, source=str(tmp_path / "central.toml"))
    with pytest.raises(ConfigError, match=r"\[numbers\] coverage: .*missing.csv: cannot be read"):
        from_dict({**data, "numbers": {"coverage": "missing.csv"}}, source=str(tmp_path / "central.toml"))
    (tmp_path / "coverage.csv").write_bytes("province,district,target_population\n064,Pleiku,5\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        from_dict(data, source=str(tmp_path / "central.toml"))
    # Relative to the configuration file's folder, not to wherever central was started.
    (tmp_path / "coverage.csv").write_text("province,district,target_population\n064,Pleiku,5\n", encoding="utf-8")
    assert from_dict(data, source=str(tmp_path / "central.toml")).targets == {("064", "Pleiku"): 5}
    assert from_dict({"sites": SITES}).targets == {}


def test_a_province_has_a_target_only_when_each_of_its_districts_on_the_page_has_one():
    from central.numbers import _zero, rollup

    def site(district: str, vaccinated: int) -> dict:
        return {**_zero(), "province": "064", "province_name": "Gia Lai", "district": district,
                "vaccinated": vaccinated, "_hist": {}, "_desk_vaccinated": 0}

    targets = {("064", "Pleiku"): 40, ("064", "Ia Grai"): 10}
    both = [site("Pleiku", 4), site("Pleiku", 2), site("Ia Grai", 3)]
    assert [(r["target_population"], r["coverage_pct"]) for r in rollup(both, "province", targets=targets)] == [
        (50, 18.0)]
    # Filtered to one district: the province row is that district's people against that district's target.
    assert [(r["target_population"], r["coverage_pct"]) for r in rollup(both[:2], "province", targets=targets)] == [
        (40, 15.0)]
    untargeted = both + [site("Chư Sê", 5)]
    assert [(r["target_population"], r["coverage_pct"]) for r in rollup(untargeted, "province", targets=targets)] == [
        (None, None)]
    assert [r["coverage_pct"] for r in rollup(untargeted, "district", targets=targets)] == [None, 30.0, 15.0]


def test_the_numbers_pages_show_coverage_of_the_target(tmp_path, mosquitto, store_location, kiosk_apps):
    (tmp_path / "coverage.csv").write_text("province,district,target_population\n064,Pleiku,40\n064,Ia Grai,10\n",
                                           encoding="utf-8")
    app = start_central(tmp_path, mosquitto.port, store_location,
                        sections={"numbers": {"coverage": str(tmp_path / "coverage.csv")}})
    try:
        run_plan(kiosk_apps, {("GL-01", "cov-a"): (6, 5), ("GL-02", "cov-b"): (2, 1), ("HN-01", "cov-c"): (1, 1)})
        ops = next(p for p in app.parts if p.name == "web")
        browser = Browser(ops.web_port)
        browser.login()
        get_json = lambda path: json.loads(browser.get(path)[2])  # noqa: E731

        def districts():
            rows = get_json("/api/numbers?level=district")["rows"]
            return rows if sum(r["vaccinated"] for r in rows) == 7 else None

        got = {r["district"]: r for r in wait_for(districts, 20, what="7 vaccinations at central")}
        assert (got["Pleiku"]["target_population"], got["Pleiku"]["coverage_pct"]) == (40, 12.5)  # 5 of 40
        assert (got["Ia Grai"]["target_population"], got["Ia Grai"]["coverage_pct"]) == (10, 10.0)
        assert (got["Cầu Giấy"]["target_population"], got["Cầu Giấy"]["coverage_pct"]) == (None, None)
        province = {r["province"]: r for r in get_json("/api/numbers?level=province")["rows"]}
        assert (province["064"]["target_population"], province["064"]["coverage_pct"]) == (50, 12.0)  # 6 of 50
        assert province["001"]["coverage_pct"] is None
        assert "coverage_pct" not in get_json("/api/numbers?level=site")["rows"][0]

        _, _, page = browser.get("/numbers?level=district")
        row = re.search(r'<tr class="drill">(?:(?!</tr>).)*?>Pleiku</a>.*?</tr>', page, re.S).group(0)
        assert "12.5 %" in row and "40" in row
        _, _, csv_text = browser.get("/numbers.csv?level=province")
        header, *lines = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
        assert header[-2:] == ["target_population", "coverage_pct"]
        assert next(line for line in lines if line[1] == "064")[-2:] == ["50", "12.0"]
        assert "coverage_pct" not in browser.get("/numbers.csv?level=site")[2].splitlines()[0]
    finally:
        app.stop()
