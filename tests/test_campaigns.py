"""The five bundled notices: they validate, cite their sources, and say what the notices say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.spec import load_definition, validate_paths
from engine.spec.dates import all_phases
from tests.conftest import BUNDLED, CAMPAIGNS

NOTICES = ["sourcing_2017", "foreign_investment_2017", "xuchang_2022", "suzhou_2018",
           "national_2017"]


def show_json(name: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["show", str(CAMPAIGNS / f"{name}.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def report(data: dict[str, Any], **match: Any) -> dict[str, Any]:
    found = [r for r in data["reports"] if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, f"expected one report matching {match}, got {found}"
    return found[0]


def test_every_notice_has_its_campaign_file() -> None:
    """One file per notice, plus worked examples that say they are examples (example_*)."""
    notices = [p.stem for p in BUNDLED if not p.stem.startswith("example_")]
    assert sorted(notices) == sorted(NOTICES)
    for example in (p for p in BUNDLED if p.stem.startswith("example_")):
        head = example.read_text(encoding="utf-8")[:2000]
        assert "示例" in head and "doc_number" not in head, example.name


def test_validate_all_bundled_campaigns_exits_0_without_warnings() -> None:
    result = CliRunner().invoke(main, ["validate", *map(str, BUNDLED)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output, result.output
    assert f"校验通过：{len(BUNDLED)} 个文件，0 个错误，0 个警告" in result.output


def test_every_registry_validates_on_its_own() -> None:
    registries = sorted((CAMPAIGNS / "bodies").glob("*.yaml"))
    outcome = validate_paths(registries)
    assert outcome.ok, [d.format() for d in outcome.report.sorted()]
    assert len(outcome.registries) == len(registries)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_phase_task_and_report_cites_a_notice_paragraph(path: Path) -> None:
    campaign = load_definition(path).campaign
    items = [*all_phases(campaign.phases), *campaign.tasks, *campaign.reports]
    assert items, "a notice encodes at least some phases, tasks or reports"
    for item in items:
        assert item.source.strip(), f"{item.id} has no source"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_campaign_file_starts_with_the_schema_comment(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/campaign.schema.json"


def test_sourcing_2017_asks_each_of_31_provinces_for_5_leads_by_31_october() -> None:
    leads = report(show_json("sourcing_2017"), kind="lead_list")
    assert leads["to"]["id"] == "saic.tmo"
    assert leads["to"]["name"].endswith("商标局")
    assert [d["due"] for d in leads["deadlines"]] == ["2017-10-31"]
    bodies = {o["body"] for o in leads["obligations"]}
    assert len(bodies) == 31 and "xpcc_amr" not in bodies
    assert all(o["quota"] == 5 and o["due"] == "2017-10-31" for o in leads["obligations"])


def test_sourcing_2017_summary_is_due_31_january_2018() -> None:
    data = show_json("sourcing_2017")
    summary = report(data, id="summary")
    assert [d["due"] for d in summary["deadlines"]] == ["2018-01-31"]
    assert len({o["body"] for o in summary["obligations"]}) == 31


def test_sourcing_2017_keeps_overlapping_sub_phases_of_implementation() -> None:
    data = show_json("sourcing_2017")
    implement = next(p for p in data["phases"] if p["id"] == "implement")
    subs = {p["id"]: (p["start"], p["end"]) for p in implement["phases"]}
    assert subs["investigate"] == subs["supervise"] == ("2017-11-01", "2017-12-31")
    assert subs["collect"] == ("2017-10-01", "2017-10-31")


def test_foreign_investment_2017_monthly_return_is_due_on_the_15th_for_the_month_before() -> None:
    data = show_json("foreign_investment_2017")
    monthly = report(data, kind="statistics_return")
    assert monthly["recurring"] is True
    assert monthly["to"]["id"] == "national_lgo"
    for d in monthly["deadlines"]:
        due = d["due"]
        assert due.endswith("-15")
        assert d["period"] < due[:7]  # covers the month before the one it is due in
    assert monthly["return"]


def test_foreign_investment_2017_final_report_is_due_31_december() -> None:
    final = report(show_json("foreign_investment_2017"), kind="final_report")
    assert [d["due"] for d in final["deadlines"]] == ["2017-12-31"]
    assert final["to"]["id"] == "national_lgo"


def test_foreign_investment_2017_has_twelve_joint_issuers() -> None:
    assert len(show_json("foreign_investment_2017")["issuer"]) == 12


def test_foreign_investment_2017_encodes_the_annex_statistics_return_as_data() -> None:
    campaign = load_definition(CAMPAIGNS / "foreign_investment_2017.yaml").campaign
    (form,) = campaign.returns
    rows = [row.label for section in form.sections for row in section.rows]
    assert len(form.sections) == 3 and len(rows) == 12
    assert "侵犯商业秘密案件" in rows and "起诉犯罪嫌疑人数" in rows


def test_xuchang_2022_reports_are_due_26_august_and_24_november_to_the_ip_section() -> None:
    data = show_json("xuchang_2022")
    to_section = [r for r in data["reports"] if r["to"]["id"] == "xuchang_amr.ip_protection"]
    dues = sorted(d["due"] for r in to_section for d in r["deadlines"])
    assert dues == ["2022-08-26", "2022-11-24"]
    assert all(r["to"]["name"].endswith("知识产权保护科") for r in to_section)
    for r in to_section:
        assert len({o["body"] for o in r["obligations"]}) >= 6  # every county-level bureau


def test_xuchang_2022_resolves_mid_july_to_a_date_and_keeps_the_wording() -> None:
    data = show_json("xuchang_2022")
    implement = next(p for p in data["phases"] if p["type"] == "implement")
    assert implement["wording"] and "中旬" in implement["wording"]
    assert implement["start"].startswith("2022-07-") and implement["end"] == "2022-11-30"
    assert implement["assumption"], "a resolved vague period is a local assumption"


def test_national_2017_sets_a_100_percent_penalty_publication_target() -> None:
    data = show_json("national_2017")
    assert data["kind"] == "work_points"
    (target,) = [t for t in data["targets"] if t["metric"] == "penalty_publication_rate"]
    assert target["value"] == 100 and target["unit"] == "percent"


@pytest.mark.parametrize("name", ["national_2017", "suzhou_2018"])
def test_work_points_mark_their_undated_year_as_an_assumption(name: str) -> None:
    data = show_json(name)
    assert data["kind"] == "work_points"
    assert len(data["tasks"]) >= 10
    assert data["assumptions"], "work points carry no dates: the file's choices are marked"


@pytest.mark.parametrize("name", NOTICES)
def test_show_prints_a_chinese_summary(name: str) -> None:
    result = CliRunner().invoke(main, ["show", str(CAMPAIGNS / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    assert "阶段安排" in result.output and "工作任务" in result.output
