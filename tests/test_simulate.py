"""`campaign simulate`: every letter a campaign will send, read against the notices."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import main
from tests.conftest import CAMPAIGNS

PROVINCES = 31


def simulate(name: str, start: str, end: str, *extra: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["simulate", str(CAMPAIGNS / f"{name}.yaml"), "--from",
                                       start, "--to", end, "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.fixture(scope="module")
def sourcing() -> list[dict[str, Any]]:
    return simulate("sourcing_2017", "2017-09-20", "2018-02-28")


@pytest.mark.parametrize("report, due", [("cross_province_leads", "2017-10-31"),
                                         ("summary", "2018-01-31")])
def test_sourcing_2017_reminds_each_province_before_the_deadline_and_chases_it_after(
        sourcing: list[dict[str, Any]], report: str, due: str) -> None:
    by_kind: dict[str, set[str]] = defaultdict(set)
    for letter in sourcing:
        if letter["report"] != report:
            continue
        assert letter["due"] == due
        if letter["kind"] == "reminder":
            assert letter["date"] < due
        if letter["kind"] == "overdue":
            assert letter["date"] > due
        by_kind[letter["kind"]].add(letter["recipient"])
    assert len(by_kind["reminder"]) == len(by_kind["overdue"]) == PROVINCES
    assert "xpcc_amr" not in by_kind["reminder"]


def test_sourcing_2017_letters_carry_the_fields_a_reader_needs(
        sourcing: list[dict[str, Any]]) -> None:
    letter = next(lt for lt in sourcing if lt["recipient"] == "zhejiang_amr")
    assert {"date", "kind", "campaign", "report", "recipient", "recipient_name", "due"} <= set(
        letter)
    assert letter["recipient_name"].startswith("浙江省") and letter["campaign"] == "sourcing_2017"


def test_a_province_that_reported_3_leads_is_told_it_is_2_short(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("submissions:\n  - {report: cross_province_leads, body: zhejiang_amr,"
                    " date: 2017-10-25, count: 3}\n", encoding="utf-8")
    letters = simulate("sourcing_2017", "2017-10-20", "2017-11-05", "--data", str(data))
    zhejiang = [lt for lt in letters if lt["owing_body"] == "zhejiang_amr"
                and lt["report"] == "cross_province_leads"]
    overdue = [lt for lt in zhejiang if lt["kind"] == "overdue"]
    assert overdue and all(lt["shortfall"] == 2 for lt in overdue)
    beijing = [lt for lt in letters
               if lt["owing_body"] == "beijing_amr" and lt["kind"] == "overdue"]
    assert beijing and all(lt["shortfall"] == 5 for lt in beijing)


def test_a_province_that_met_its_quota_is_not_chased(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("submissions:\n  - {report: cross_province_leads, body: zhejiang_amr,"
                    " date: 2017-10-25, count: 6}\n", encoding="utf-8")
    letters = simulate("sourcing_2017", "2017-10-26", "2017-11-30", "--data", str(data))
    assert not [lt for lt in letters if lt["owing_body"] == "zhejiang_amr"
                and lt["report"] == "cross_province_leads"]


def test_foreign_investment_2017_chases_the_return_due_on_each_15th_and_the_final_report() -> None:
    letters = simulate("foreign_investment_2017", "2017-09-08", "2018-01-31")
    dues = {lt["due"] for lt in letters if lt["kind"] == "reminder"}
    assert dues == {"2017-10-15", "2017-11-15", "2017-12-15", "2017-12-31"}
    recipients = {lt["recipient"] for lt in letters if lt["kind"] == "reminder"}
    assert {"beijing_lgo", "xpcc_lgo", "mps", "spp"} <= recipients  # regions and member units
    assert "national_lgo" not in recipients  # the recipient of the reports is not chased


def test_xuchang_2022_reminds_each_county_bureau_of_26_august_and_24_november() -> None:
    letters = simulate("xuchang_2022", "2022-07-01", "2022-12-31")
    county = [lt for lt in letters if lt["kind"] == "reminder" and lt["report"] != "city_report"]
    assert {lt["due"] for lt in county} == {"2022-08-26", "2022-11-24"}
    assert len({lt["recipient"] for lt in county}) == 9


@pytest.mark.parametrize("name, start, end", [("suzhou_2018", "2018-01-01", "2018-12-31"),
                                              ("national_2017", "2017-01-01", "2017-12-31")])
def test_work_points_without_dated_reports_simulate_without_error(name: str, start: str,
                                                                  end: str) -> None:
    assert simulate(name, start, end) == []


def test_simulate_rejects_bad_data_with_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("submissions:\n  - {report: nope, body: zhejiang_amr, date: 2017-10-25}\n",
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", str(CAMPAIGNS / "sourcing_2017.yaml"),
                                       "--from", "2017-10-01", "--to", "2017-11-01", "--data",
                                       str(data)])
    assert result.exit_code == 1 and "nope" in result.output


def test_simulate_table_is_readable_chinese() -> None:
    result = CliRunner().invoke(main, ["simulate", str(CAMPAIGNS / "sourcing_2017.yaml"),
                                       "--from", "2017-10-24", "--to", "2017-10-24"])
    assert result.exit_code == 0
    assert result.output.count("提醒函") == PROVINCES and "截止2017年10月31日" in result.output
