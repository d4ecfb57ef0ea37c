"""Implementation plans that extend a parent campaign (issue 6, item 3: cascade).

The worked example ``campaigns/example_jiangsu_sourcing_2017.yaml`` extends sourcing_2017: it
must inherit the parent's phases and policy, keep only Jiangsu among the reporters of inherited
reports, and add the counties' earlier local deadline. The mistakes below need two files (the
child and its parent), so they live here rather than in tests/test_validate_errors.py; each is
made in a scratch copy of ``campaigns/`` and must be reported at the line it is on, computed from
the edited text.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import main
from engine.runtime.obligations import obligations
from engine.spec import load_definition
from engine.spec.dates import all_phases
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import letters
from engine.store.tables import obligations as obligation_rows
from tests.conftest import CAMPAIGNS, ROOT
from tests.conftest_helpers import (
    copy_example,
    describe_failure,
    insert_after,
    line_of,
    line_of_unique,
    no_traceback,
    replace_once,
    validate,
)
from tests.test_guide import fenced_blocks, guide_text

CHILD = "example_jiangsu_sourcing_2017"
PARENT = "sourcing_2017"
CHILD_TEXT = (CAMPAIGNS / f"{CHILD}.yaml").read_text(encoding="utf-8")
PARENT_TEXT = (CAMPAIGNS / f"{PARENT}.yaml").read_text(encoding="utf-8")
LOCAL_DUE = "due: {date: 2017-10-25, wording: 10月25日前}"
COUNTY_LEADS_TAIL = "    source: 二、（二）1\n"


def _identity(text: str) -> str:
    return text


# --- the worked example -----------------------------------------------------------------------
def test_the_example_inherits_the_parents_phases_policy_and_lifecycles() -> None:
    child = load_definition(CAMPAIGNS / f"{CHILD}.yaml").campaign
    parent = load_definition(CAMPAIGNS / f"{PARENT}.yaml").campaign
    written = yaml.safe_load(CHILD_TEXT)
    assert not {"phases", "reminders", "lifecycles", "routing"} & set(written)
    assert [p.id for p in all_phases(child.phases)] == [p.id for p in all_phases(parent.phases)]
    assert child.reminders == parent.reminders
    assert child.lifecycles == parent.lifecycles
    assert child.routing == parent.routing
    assert (child.period.start, child.period.end) == (parent.period.start, parent.period.end)
    assert "示例" in child.title and "不是真实通知" in (child.note or "")
    assert child.doc_number is None


def test_the_example_narrows_inherited_reports_to_jiangsu() -> None:
    definition = load_definition(CAMPAIGNS / f"{CHILD}.yaml")
    owed = obligations(definition)
    for report in ("cross_province_leads", "summary"):
        assert {o.body for o in owed if o.report == report} == {"jiangsu_amr"}, report
    leads = next(o for o in owed if o.report == "cross_province_leads")
    assert (leads.due, leads.recipient, leads.quota) == (date(2017, 10, 31), "saic.tmo", 5)
    provinces = {o.body for o in owed if o.body.endswith("_amr") and "." not in o.body}
    assert provinces & {"zhejiang_amr", "beijing_amr", "shanghai_amr"} == set()


def test_suzhou_county_bureaus_owe_county_leads_to_the_province_by_25_october() -> None:
    definition = load_definition(CAMPAIGNS / f"{CHILD}.yaml")
    owed = [o for o in obligations(definition) if o.report == "county_leads"]
    assert len(owed) == 10
    index = definition.bodies
    for o in owed:
        assert o.due == date(2017, 10, 25) and o.recipient == "jiangsu_amr"
        assert index[o.body].level == "county" and "suzhou_aic" in index.ancestors(o.body)


def test_the_example_validates_alone_and_with_its_parent_without_warnings() -> None:
    for paths in ([CAMPAIGNS / f"{CHILD}.yaml"],
                  [CAMPAIGNS / f"{PARENT}.yaml", CAMPAIGNS / f"{CHILD}.yaml"]):
        run = validate(paths[-1], *map(str, paths[:-1]))
        assert run.text.exit_code == 0, run.text.output
        assert run.data["errors"] == run.data["warnings"] == 0, run.text.output


def test_the_guides_implementation_plan_validates_beside_its_parent(scratch: Path) -> None:
    """The guide's ```yaml plan block is a complete file; it needs sourcing_2017 beside it,
    which tests/test_guide.py does not provide, so it is checked here."""
    blocks = [b for b in fenced_blocks(guide_text()) if b.info == ("yaml", "plan")]
    assert blocks, "docs/writing-campaigns.md should show a complete implementation plan"
    for block in blocks:
        plan_id = re.search(r"^id: (\S+)$", block.text, flags=re.M)
        assert plan_id is not None
        path = scratch / f"{plan_id[1]}.yaml"
        path.write_text(block.text, encoding="utf-8")
        run = validate(path)
        assert run.text.exit_code == 0 and run.data["warnings"] == 0, run.text.output
        owed = obligations(load_definition(path))
        assert {o.body for o in owed if o.report == "cross_province_leads"} == {"jiangsu_amr"}


# --- mistakes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """A mistake in the child (and possibly its parent), and where it must be reported."""

    child: Callable[[str], str]
    code: str
    needle: str
    """Text on the line the diagnostic must point at, in ``in_file``."""
    in_file: str = CHILD
    parent: Callable[[str], str] = _identity
    severity: str = "error"
    hint: str | None = None
    says: tuple[str, ...] = ()
    """Words the Chinese message must contain."""


LATER = "due: {date: 2017-11-03, wording: 11月3日前}"
TIGHTEN = """\
  - id: cross_province_leads
    title: 跨省商标侵权案件线索
    kind: lead_list
    from: jiangsu_amr
    to: saic.tmo
    due: {date: 2017-11-05}
    source: 二、（二）1
"""

CASES = [
    pytest.param(Case(
        lambda t: replace_once(t, LOCAL_DUE, LATER), "deadline-after-parent", LATER,
        says=("county_leads", "cross_province_leads", "2017-11-03", "2017-10-31", "晚于"),
    ), id="local_deadline_after_the_parent_deadline_it_feeds"),
    pytest.param(Case(
        lambda t: t + TIGHTEN, "deadline-after-parent", "due: {date: 2017-11-05}",
        says=("cross_province_leads", "2017-11-05", "2017-10-31"),
    ), id="replacing_a_parent_report_with_a_later_deadline"),
    pytest.param(Case(
        lambda t: replace_once(t, "extends: sourcing_2017", "extends: sourcing_2071"),
        "unknown-parent", "extends: sourcing_2071", hint="sourcing_2017",
    ), id="unknown_parent_with_did_you_mean"),
    pytest.param(Case(
        _identity, "extends-cycle", "extends: sourcing_2017",
        parent=lambda t: insert_after(t, "implements: national_2017", f"extends: {CHILD}\n"),
        says=(f"{CHILD} → {PARENT} → {CHILD}",),
    ), id="parent_extends_the_child_back"),
    pytest.param(Case(
        lambda t: replace_once(t, "feeds: cross_province_leads", "feeds: cross_provice_leads"),
        "unknown-parent-report", "feeds: cross_provice_leads", hint="cross_province_leads",
    ), id="feeds_names_no_parent_report"),
    pytest.param(Case(
        lambda t: replace_once(t, LOCAL_DUE,
                               "due: {every: month, day: 25, first: 2017-10, last: 2017-11}"),
        "feeds-recurring", "due: {every: month",
    ), id="recurring_local_report_feeding_a_one_off_parent_report"),
    pytest.param(Case(
        lambda t: replace_once(t, "to: jiangsu_amr", "to: suzhou_aic"),
        "feeds-recipient", "to: suzhou_aic", severity="warning",
    ), id="feeding_report_sent_to_a_body_that_does_not_owe_the_parent_report"),
    pytest.param(Case(
        lambda t: replace_once(t, "jurisdiction: jiangsu_amr",
                               "jurisdiction: {under: jiangsu_amr}"),
        "inherited-report-dropped", "jurisdiction: {under", severity="warning",
        says=("cross_province_leads",),
    ), id="jurisdiction_below_the_province_drops_the_provinces_reports_with_a_warning"),
    pytest.param(Case(
        lambda t: replace_once(t, "jurisdiction: jiangsu_amr", "jurisdiction: jiangsu_arm"),
        "unknown-body", "jurisdiction: jiangsu_arm", hint="jiangsu_amr",
    ), id="jurisdiction_names_an_unknown_body"),
    pytest.param(Case(
        lambda t: insert_after(t, "  wording: 与总局方案相同",
                               "phases:\n  - {id: collect, name: 线索收集, source: 二、（二）1}\n"),
        "unknown-phase", "    phase: summarise", in_file=PARENT,
    ), id="inherited_content_broken_by_the_child_is_reported_in_the_parent_file"),
    pytest.param(Case(
        _identity, "parent-invalid", "extends: sourcing_2017",
        parent=lambda t: replace_once(t, "kind: campaign\n", "kind: campain\n"),
    ), id="parent_with_errors_of_its_own"),
]


@pytest.mark.parametrize("case", CASES)
def test_a_mistake_in_a_plan_is_reported_at_its_line(case: Case, scratch: Path) -> None:
    texts = {CHILD: case.child(CHILD_TEXT), PARENT: case.parent(PARENT_TEXT)}
    for name, text in texts.items():
        (scratch / f"{name}.yaml").write_text(text, encoding="utf-8")
    run = validate(scratch / f"{CHILD}.yaml")
    for result in (run.text, run.json):
        assert no_traceback(result), describe_failure(result)
    assert run.text.exit_code == (1 if case.severity == "error" else 0), run.text.output
    line = line_of_unique(texts[case.in_file], case.needle) if case.in_file == CHILD \
        else line_of(texts[case.in_file], case.needle)
    found = [d for d in run.diagnostics if d["code"] == case.code
             and d["severity"] == case.severity and d["line"] == line
             and Path(d["file"]).name == f"{case.in_file}.yaml"]
    assert found, f"expected {case.code} at {case.in_file}:{line}; got\n{run.text.output}"
    if case.hint is not None:
        assert found[0]["hint"] and case.hint in found[0]["hint"], found[0]
    for word in case.says:
        assert word in found[0]["message"], found[0]["message"]


def test_a_child_deadline_on_the_parent_deadline_itself_is_accepted(scratch: Path) -> None:
    path = scratch / f"{CHILD}.yaml"
    path.write_text(replace_once(CHILD_TEXT, LOCAL_DUE, "due: {date: 2017-10-31}"), "utf-8")
    run = validate(path)
    assert run.text.exit_code == 0 and run.data["warnings"] == 0, run.text.output


def test_the_example_does_not_pose_as_a_notice() -> None:
    """The example must not pose as a notice: no document number, and no seed of its name."""
    assert "doc_number" not in CHILD_TEXT
    assert not (ROOT.parent / "shared" / "seeds" / f"{CHILD}.txt").exists()


def test_a_plan_loaded_beside_its_parent_does_not_remind_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'both.db'}"
    runner = CliRunner()
    for name in ("sourcing_2017", "example_jiangsu_sourcing_2017"):
        assert runner.invoke(main, ["load", str(CAMPAIGNS / f"{name}.yaml"),
                                    "--db", url]).exit_code == 0
    assert runner.invoke(main, ["run", "--at", "2017-10-24", "--db", url]).exit_code == 0
    with connect(url).engine.connect() as conn:
        sent = conn.execute(select(letters.c.campaign_id, letters.c.recipient_id,
                                   letters.c.idempotency_key).where(
            letters.c.status == "planned")).all()
    jiangsu = [c for c, r, k in sent if r == "jiangsu_amr" and ":cross_province_leads:" in k]
    assert jiangsu == ["sourcing_2017"]  # the parent's reminder only
    assert any(c == "example_jiangsu_sourcing_2017" and ":county_leads:" in k
               for c, _, k in sent)  # the plan's own deadline still reminds the counties


def test_a_parent_loaded_after_its_plan_has_run_takes_the_inherited_obligations_over(
        tmp_path: Path) -> None:
    """The plan ran alone first (a province before the national plan was loaded); once the
    parent is loaded, the plan's copies of the parent's obligations are withdrawn."""
    url = f"sqlite:///{tmp_path / 'late_parent.db'}"
    runner = CliRunner()

    def inherited_open() -> int:
        with connect(url).engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(obligation_rows).where(
                obligation_rows.c.campaign_id == "example_jiangsu_sourcing_2017",
                obligation_rows.c.report_id == "cross_province_leads",
                obligation_rows.c.status == "open")) or 0

    child, parent = (str(CAMPAIGNS / f"{n}.yaml")
                     for n in ("example_jiangsu_sourcing_2017", "sourcing_2017"))
    assert runner.invoke(main, ["load", child, "--db", url]).exit_code == 0
    assert runner.invoke(main, ["run", "--at", "2017-10-20", "--db", url]).exit_code == 0
    assert inherited_open() > 0
    assert runner.invoke(main, ["load", parent, "--db", url]).exit_code == 0
    assert runner.invoke(main, ["run", "--at", "2017-10-21", "--db", url]).exit_code == 0
    assert inherited_open() == 0


def test_what_a_province_sent_under_its_plan_counts_once_the_parent_is_loaded(
        tmp_path: Path) -> None:
    """Jiangsu submits its leads under its own plan on 30 October; the national plan is loaded
    in November and takes the obligation over: Jiangsu is not chased for what it sent."""
    url = f"sqlite:///{tmp_path / 'handover.db'}"
    runner = CliRunner()

    def cli(*args: str) -> None:
        result = runner.invoke(main, [*args, "--db", url])
        assert result.exit_code == 0, result.output

    cli("load", str(CAMPAIGNS / "example_jiangsu_sourcing_2017.yaml"))
    cli("run", "--at", "2017-10-24")
    cli("submit", "--campaign", "example_jiangsu_sourcing_2017", "--report",
        "cross_province_leads", "--body", "jiangsu_amr", "--count", "5", "--at",
        "2017-10-30T10:00", "--actor", "江苏省局")
    cli("load", str(CAMPAIGNS / "sourcing_2017.yaml"))
    cli("run", "--at", "2017-11-11")
    with connect(url).engine.connect() as conn:
        chased = conn.execute(select(letters.c.recipient_id).where(
            letters.c.campaign_id == "sourcing_2017", letters.c.status == "planned",
            letters.c.idempotency_key.like("%:cross_province_leads:%"))).scalars().all()
    assert "jiangsu_amr" not in chased and len(chased) == 60  # 30 others: overdue, escalated
    shown = runner.invoke(main, ["report", "compliance", "--campaign", "sourcing_2017", "--at",
                                 "2017-11-11", "--format", "csv", "--db", url]).output
    jiangsu = next(line for line in shown.splitlines()
                   if line.startswith("跨省商标侵权案件线索,江苏省"))
    assert ",按时报送,2017-10-30," in jiangsu and jiangsu.endswith(",5,5,已完成"), jiangsu


def test_once_the_parent_is_loaded_an_inherited_report_is_submitted_under_it(
        tmp_path: Path) -> None:
    """The plan's copy was withdrawn when the parent took it over: a submission there would
    fulfil nothing the parent sees, so it is refused with where to submit instead."""
    url = f"sqlite:///{tmp_path / 'late_submit.db'}"
    runner = CliRunner()
    for name, day in (("example_jiangsu_sourcing_2017", "2017-10-20"),
                      ("sourcing_2017", "2017-10-24")):  # the plan ran alone first
        assert runner.invoke(main, ["load", str(CAMPAIGNS / f"{name}.yaml"),
                                    "--db", url]).exit_code == 0
        assert runner.invoke(main, ["run", "--at", day, "--db", url]).exit_code == 0
    refused = runner.invoke(main, [
        "submit", "--campaign", "example_jiangsu_sourcing_2017", "--report",
        "cross_province_leads", "--body", "jiangsu_amr", "--count", "5", "--at", "2017-10-30",
        "--actor", "江苏省局", "--db", url])
    assert refused.exit_code == 1 and "sourcing_2017" in refused.output
    assert "请在该专项下报送" in refused.output


CITY_PLAN = """\
id: suzhou_city_plan
title: 【测试】苏州市落实江苏省“溯源”专项行动实施方案的工作安排（测试用）
kind: campaign
issuer: suzhou_aic
issued: {date: 2017-10-09, assumption: 测试文件，日期为测试而假定。}
registries: [bodies/suzhou.yaml]
extends: example_jiangsu_sourcing_2017
jurisdiction: suzhou_aic
period: {start: 2017-09-01, end: 2018-02-28, wording: 与省局方案相同}
"""


@pytest.mark.parametrize("logged_under", ["province plan", "province plan being edited",
                                          "city plan under it"])
def test_leads_a_province_logs_under_its_plan_count_towards_the_parents_quota(
        tmp_path: Path, logged_under: str) -> None:
    """All plans loaded: Jiangsu logs its five leads under its own plan (or a city plan that
    extends it) and submits under the national one, which holds the quota. It is not chased,
    and the return counts five, even while the plan's file is being edited after its load."""
    url = f"sqlite:///{tmp_path / 'plan_leads.db'}"
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, [*args, "--db", url])
        assert result.exit_code == 0, result.output
        return result.output

    copy_example(tmp_path)  # the national plan and the registries, beside the plans
    shutil.copyfile(CAMPAIGNS / f"{CHILD}.yaml", tmp_path / f"{CHILD}.yaml")
    (tmp_path / "suzhou_city_plan.yaml").write_text(CITY_PLAN, encoding="utf-8")
    plans = ["sourcing_2017", CHILD] + (["suzhou_city_plan"] if "city" in logged_under else [])
    for name in plans:
        cli("load", str(tmp_path / f"{name}.yaml"))
    store = connect(url)
    def_id, _ = definitions.latest(store, plans[-1])
    records.insert_records(store, "lead", plans[-1], def_id, [
        records.NewRecord(f"JS-{i}", {"right_holder": f"权利人{i}"}, f"JS-{i}", "jiangsu_amr")
        for i in range(5)], actor="江苏省局", initial_state="collected")
    if "edited" in logged_under:  # saved, not yet loaded again
        with (tmp_path / f"{CHILD}.yaml").open("a", encoding="utf-8") as fh:
            fh.write("# 正在修改，尚未重新载入\n")
    cli("submit", "--campaign", "sourcing_2017", "--report", "cross_province_leads", "--body",
        "jiangsu_amr", "--at", "2017-11-03", "--actor", "江苏省局")
    cli("run", "--at", "2017-11-12", "--campaign", "sourcing_2017")
    with store.engine.connect() as conn:
        chased = conn.execute(select(letters.c.recipient_id).where(
            letters.c.campaign_id == "sourcing_2017", letters.c.planned_for > date(2017, 11, 3),
            letters.c.idempotency_key.like("%:cross_province_leads:jiangsu_amr:%"))).all()
    assert chased == []
    shown = cli("report", "compliance", "--campaign", "sourcing_2017", "--format", "csv")
    jiangsu = next(line for line in shown.splitlines()
                   if line.startswith("跨省商标侵权案件线索,江苏省"))
    assert jiangsu.endswith(",5,5,已完成"), jiangsu
