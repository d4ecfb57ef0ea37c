"""The words of the letters ``campaign run`` records: rendered from ``templates/`` in a sandbox."""

from __future__ import annotations

import json
import os
from datetime import date
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from engine.cli import main
from engine.letters import LetterRenderer, TemplateProblem, letter_context
from engine.letters.context import cn_date_written
from engine.letters.render import _plain_globals
from engine.runtime.simulate import simulate
from engine.spec.loader import load_definition
from engine.store.db import connect
from engine.store.tables import letters
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import copy_example, insert_after


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


@pytest.mark.parametrize(("day", "written"), [
    (date(2017, 10, 24), "二〇一七年十月二十四日"),
    (date(2018, 1, 31), "二〇一八年一月三十一日"),
    (date(2020, 12, 10), "二〇二〇年十二月十日"),
    (date(2017, 11, 20), "二〇一七年十一月二十日"),
    (date(2022, 8, 5), "二〇二二年八月五日"),
])
def test_the_date_of_a_letter_is_written_the_chinese_way(day: date, written: str) -> None:
    assert cn_date_written(day) == written


def letter_bodies(db_url: str, kind: str) -> dict[str, str]:
    with connect(db_url).engine.connect() as conn:
        return dict(conn.execute(select(letters.c.recipient_id, letters.c.body).where(
            letters.c.kind == kind, letters.c.status == "planned")).all())


def test_sourcing_2017_reminder_names_the_body_the_report_the_due_day_and_the_shortfall(
        db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    cli(db_url, "submit", "--campaign", "sourcing_2017", "--report", "cross_province_leads",
        "--body", "zhejiang_amr", "--count", "3", "--at", "2017-10-20", "--actor", "浙江省局")
    assert cli(db_url, "run", "--at", "2017-10-28").exit_code == 0
    bodies = letter_bodies(db_url, "reminder")
    assert len(bodies) == 31
    text = bodies["zhejiang_amr"]
    assert text.startswith("# 关于按时报送跨省商标侵权案件线索的提醒函")
    assert "浙江省市场监督管理局：" in text
    assert "2017年10月31日前" in text and "尚有3天" in text
    assert "尚差2件" in text and "二、（二）1" in text and "办字〔2017〕165号" in text
    assert "010-63219389" in text  # the contact block of the notice
    assert text.rstrip().endswith("二〇一七年十月二十八日")
    assert "不少于5件，你单位目前尚差5件" in bodies["beijing_amr"]  # nothing filed yet
    with connect(db_url).engine.connect() as conn:
        subjects = set(conn.scalars(select(letters.c.subject).where(
            letters.c.kind == "reminder", letters.c.status == "planned")))
    assert subjects == {"关于按时报送跨省商标侵权案件线索的提醒函"}


def test_an_overdue_notice_counts_the_days_late(db_url: str) -> None:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    assert cli(db_url, "run", "--at", "2017-11-06").exit_code == 0
    text = letter_bodies(db_url, "overdue")["anhui_amr"]
    assert "截至2017年11月6日" in text and "已逾期6天" in text and "尚未报送" in text


def with_template(tmp_path: Path, template: str) -> Path:
    path = copy_example(tmp_path)
    (tmp_path / "letters").mkdir(exist_ok=True)
    (tmp_path / "letters" / "own_reminder.j2").write_text(template, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    path.write_text(insert_after(text, "published: 2017-10-17",
                                 "templates:\n  reminder: letters/own_reminder.j2\n"),
                    encoding="utf-8")
    return path


def first_reminder(path: Path) -> tuple[LetterRenderer, dict[str, object]]:
    definition = load_definition(path)
    day, letter = next((d, lt) for d, lt in simulate(definition, date(2017, 10, 24),
                                                     date(2017, 10, 24)) if lt.kind == "reminder")
    return LetterRenderer(definition), letter_context(definition, letter, day)


def simulated_texts(campaign: str, start: date, end: date, kind: str) -> list[tuple[str, str]]:
    """(recipient, text) of every ``kind`` letter a campaign sends between two days."""
    definition = load_definition(CAMPAIGNS / f"{campaign}.yaml")
    renderer = LetterRenderer(definition)
    return [(lt.recipient, renderer.render(kind, letter_context(definition, lt, day)))
            for day, lt in simulate(definition, start, end)
            if lt.status == "send" and lt.kind == kind]


def test_foreign_investment_2017_presses_a_late_province_itself_not_the_office_that_signs(
        ) -> None:
    """三、（一）: the provinces report to the national office, which is also their superior; its
    督办函 goes to the late province, not to itself, and names the month in words."""
    sent = simulated_texts("foreign_investment_2017", date(2017, 10, 25), date(2017, 10, 25),
                           "escalation")
    assert len(sent) == len({to for to, _ in sent}) > 31  # each province and the XPCC once
    for _, text in sent:
        head, recipient = text.splitlines()[0], text.splitlines()[2]
        assert "全国打击侵犯知识产权" not in recipient and recipient.endswith("领导小组办公室：")
        assert head.startswith("# 关于督办2017年9月查处案件数据统计表") and "2017-09" not in text
        assert "你单位应于2017年10月15日前报送2017年9月" in text and "现予督办" in text


def test_sourcing_2017_reminds_on_the_due_day_that_today_is_the_last_day() -> None:
    sent = simulated_texts("sourcing_2017", date(2017, 10, 31), date(2017, 10, 31), "reminder")
    assert sent and all("今日即为截止日期" in text and "尚有0天" not in text for _, text in sent)


def test_a_campaign_can_use_its_own_template(tmp_path: Path) -> None:
    renderer, ctx = first_reminder(with_template(tmp_path, "请{{ recipient }}于{{ due }}前报送。"))
    assert renderer.render("reminder", ctx) == "请安徽省市场监督管理局于2017年10月31日前报送。"


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ recipient.__class__.__init__.__globals__ }}",
    "{% for c in contacts %}{{ c.__class__ }}{% endfor %}{{ contacts.append(1) }}",
], ids=["str_mro_subclasses", "function_globals", "mutating_a_list"])
def test_a_template_cannot_reach_python_internals(tmp_path: Path, template: str) -> None:
    renderer, ctx = first_reminder(with_template(tmp_path, template))
    try:
        out = renderer.render("reminder", ctx)
    except TemplateProblem:
        return  # refused outright
    assert "class" not in out and "function" not in out and "module" not in out


def test_a_template_broken_after_loading_fails_the_run_and_records_nothing(
        db_url: str, tmp_path: Path) -> None:
    path = with_template(tmp_path, "请于{{ due }}前报送。")
    assert cli(db_url, "load", str(path)).exit_code == 0
    # edited after loading, so validation never saw it: the run must still fail cleanly
    (tmp_path / "letters" / "own_reminder.j2").write_text("请于{{ deu }}前报送。", encoding="utf-8")
    result = cli(db_url, "run", "--at", "2017-10-24", "--format", "json")
    assert result.exit_code == 1 and "deu" in result.output and "Traceback" not in result.output
    with connect(db_url).engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(letters)) == 0


def test_a_template_that_raises_fails_its_campaign_and_the_others_still_run(
        db_url: str, tmp_path: Path) -> None:
    path = with_template(tmp_path, "请于{{ due }}前报送。")
    other = CAMPAIGNS / "foreign_investment_2017.yaml"
    assert cli(db_url, "load", str(path), str(other)).exit_code == 0
    (tmp_path / "letters" / "own_reminder.j2").write_text(
        "第一行\n{{ '%d' % recipient }}", encoding="utf-8")  # a str where %d wants a number
    result = cli(db_url, "run", "--at", "2017-10-24", "--format", "json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "own_reminder.j2:2" in result.output and "TypeError" in result.output
    with connect(db_url).engine.connect() as conn:
        sent = dict(conn.execute(select(letters.c.campaign_id, func.count()).group_by(
            letters.c.campaign_id)).all())
    assert set(sent) == {"foreign_investment_2017"}  # nothing recorded for the broken one


def test_a_template_corrected_between_two_runs_of_one_process_is_used_at_the_next(
        db_url: str, tmp_path: Path) -> None:
    """The daemon keeps compiled templates between ticks; a corrected file must still win."""
    path = with_template(tmp_path, "请于{{ due }}前报送。")
    assert cli(db_url, "load", str(path)).exit_code == 0
    assert cli(db_url, "run", "--at", "2017-10-24").exit_code == 0  # the 7-day reminders
    template = tmp_path / "letters" / "own_reminder.j2"
    template.write_text("更正：请于{{ due }}前报送。", encoding="utf-8")
    later = template.stat().st_mtime + 5  # a coarse file-system clock must still see it
    os.utime(template, (later, later))
    assert cli(db_url, "run", "--at", "2017-10-28").exit_code == 0  # the 3-day reminders
    with connect(db_url).engine.connect() as conn:
        texts = dict(conn.execute(select(letters.c.planned_for, letters.c.body).where(
            letters.c.kind == "reminder", letters.c.status == "planned")).all())
    assert texts[date(2017, 10, 24)].startswith("请于2017年10月31日")
    assert texts[date(2017, 10, 28)].startswith("更正：请于2017年10月31日")


def test_dry_run_json_reports_the_phase(db_url: str) -> None:
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    out = json.loads(cli(db_url, "run", "--at", "2017-10-24", "--dry-run", "--format",
                         "json").output)
    assert out["phase"] == "implement" and out["sent"] == 31


@pytest.mark.parametrize(("template", "code", "says"), [
    ("{{ ''.__class__.__mro__ }}", "template-unsafe", "__class__"),
    ("{{ recipient['__init__'] }}", "template-unsafe", "__init__"),
    ("请于{{ deu }}前报送。", "template-broken", "deu"),
    ("请于{{ due 前报送。", "template-broken", "own_reminder.j2:1"),
    ("{% for x in contacts %}{{ x.name }}", "template-broken", "own_reminder.j2"),
    ("尚差{{ shortfall - 1 }}件", "template-broken", "TypeError"),  # the summary has no quota
], ids=["dunder_class", "dunder_by_key", "undefined_variable", "unclosed_expression",
        "unclosed_block", "arithmetic_on_a_report_without_quota"])
def test_validate_refuses_a_broken_or_unsafe_template_where_the_campaign_names_it(
        tmp_path: Path, template: str, code: str, says: str) -> None:
    path = with_template(tmp_path, template)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    found = [d for d in json.loads(result.output)["diagnostics"] if d["code"] == code]
    assert found, result.output
    text = path.read_text(encoding="utf-8").splitlines()
    assert text[found[0]["line"] - 1].strip() == "reminder: letters/own_reminder.j2"
    assert says in found[0]["message"]


def test_validate_renders_an_escalation_to_the_late_body_itself_too(tmp_path: Path) -> None:
    """The 督办函 has a branch for a body pressed directly (``direct``); a mistake there must
    fail validation, not the first run that reaches such a body."""
    path = copy_example(tmp_path)
    (tmp_path / "letters").mkdir(exist_ok=True)
    (tmp_path / "letters" / "own_escalation.j2").write_text(
        "{% if direct %}{{ dirctly_late }}{% else %}督办{% endif %}", encoding="utf-8")
    path.write_text(insert_after(path.read_text(encoding="utf-8"), "published: 2017-10-17",
                                 "templates:\n  escalation: letters/own_escalation.j2\n"),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    assert any("dirctly_late" in d["message"] for d in json.loads(result.output)["diagnostics"])


def test_load_refuses_a_campaign_whose_template_is_broken(db_url: str, tmp_path: Path) -> None:
    result = cli(db_url, "load", str(with_template(tmp_path, "{{ nope }}")))
    assert result.exit_code == 1 and "nope" in result.output


def test_every_simulated_letter_reads_as_jinja_itself_renders_it() -> None:
    """The renderer builds each letter's Jinja context itself (see ``render._render``) and, as
    a tick does, remembers pure shared macros over a day's letters (``memo``); what it writes
    must be what ``Template.render`` writes, for every letter a campaign simulates."""
    compared = 0
    for path in sorted(CAMPAIGNS.glob("*.yaml")):
        definition = load_definition(path)
        period = definition.campaign.period
        assert period is not None
        renderer = LetterRenderer(definition)
        sent = [(d, lt) for d, lt in simulate(definition, period.start, period.end)
                if lt.status == "send"]
        for day, letters_of_day in groupby(sent, key=itemgetter(0)):
            with renderer.batch():
                for _, letter in letters_of_day:
                    ctx = letter_context(definition, letter, day)
                    template = renderer.env.get_template(renderer.path_for(letter.kind))
                    assert renderer.render(letter.kind, ctx) == template.render(ctx), letter.key
                    compared += 1
            assert renderer.env.memo.said is None
    assert compared > 1000


def test_a_template_with_globals_of_its_own_hands_them_to_what_it_imports(
        tmp_path: Path) -> None:
    """The renderer never gives a template globals of its own, but if one has them, Jinja's
    rule holds: a module it imports sees them (the renderer's shortcut would not)."""
    renderer, ctx = first_reminder(with_template(
        tmp_path, '{% from "letters/greet.j2" import hi %}{{ hi() }}{{ recipient }}'))
    (tmp_path / "letters" / "greet.j2").write_text("{% macro hi() %}{{ greeting }}{% endmacro %}",
                                                   encoding="utf-8")
    template = renderer.env.get_template(renderer.path_for("reminder"), globals={"greeting": "致"})
    assert _plain_globals(template) is None  # so it renders the usual way
    assert renderer.render("reminder", ctx) == "致安徽省市场监督管理局"


def test_every_bundled_campaign_renders_every_letter_it_can_send() -> None:
    result = CliRunner().invoke(main, ["validate", "--format", "json",
                                       *map(str, sorted(CAMPAIGNS.glob("*.yaml")))])
    assert result.exit_code == 0 and json.loads(result.output)["errors"] == 0


def test_simulate_writes_every_letter_of_sourcing_2017_for_a_reader_to_check(
        tmp_path: Path) -> None:
    """The issue's check: a simulated run of sourcing_2017 produces letters a reader can hold
    against the notice: right recipient, due date in Chinese, shortfall, the contact block."""
    data = tmp_path / "data.yaml"
    data.write_text("submissions:\n  - {report: cross_province_leads, body: zhejiang_amr, "
                    "date: 2017-10-20, count: 3}\n", encoding="utf-8")
    out = tmp_path / "letters"
    result = CliRunner().invoke(main, ["simulate", str(CAMPAIGNS / "sourcing_2017.yaml"),
                                       "--from", "2017-09-20", "--to", "2018-02-28",
                                       "--data", str(data), "--letters", str(out)])
    assert result.exit_code == 0, result.output
    day = out / "sourcing_2017" / "2017-11-01"
    zhejiang = next(day.glob("*-催报通知-浙江省市场监督管理局.md")).read_text(encoding="utf-8")
    assert zhejiang.startswith("# 关于催报跨省商标侵权案件线索的通知\n\n浙江省市场监督管理局：")
    assert "2017年10月31日前" in zhejiang and "尚差2件" in zhejiang and "已逾期1天" in zhejiang
    assert "联系人：" in zhejiang and "010-63219391" in zhejiang
    assert zhejiang.rstrip().endswith("二〇一七年十一月一日")
    summary = next((out / "sourcing_2017" / "2018-02-01").glob("*-催报通知-北京*.md"))
    assert "专项行动总结应于2018年1月31日前报送" in summary.read_text(encoding="utf-8")
    written = sum(1 for _ in out.rglob("*.md"))
    assert f"已写出 {written} 份文书" in result.output and written > 31 * 4


def test_a_forwarding_letter_lists_the_leads_particulars(tmp_path: Path) -> None:
    from engine.letters.context import forwarding_context

    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    lead = {"right_holder": "某某鞋业有限公司", "mark": "某某", "registration_number": "1234567",
            "ownership_clear": True, "suspected_infringer": "某商贸公司",
            "infringement_place": "浙江省温州市", "received_on": date(2017, 10, 12)}
    ctx = forwarding_context(definition, lead, "JS-2017-001", "saic.tmo", "zhejiang_amr",
                             date(2017, 11, 8), date(2017, 12, 8))
    text = LetterRenderer(definition).render("forwarding", ctx)
    assert "浙江省市场监督管理局：" in text and "JS-2017-001" in text
    assert "- 商标注册号：1234567" in text and "- 商标权属是否明晰：是" in text
    assert "- 收集日期：2017年10月12日" in text and "二、（二）2" in text
    assert "于2017年12月8日前将办理情况反馈" in text
