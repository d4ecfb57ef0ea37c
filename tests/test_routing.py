"""Leads across jurisdictions (sourcing_2017 二、（二）2-4): up to the office, down to the
province of the place, forwarding letters, feedback owed, and supervision when it lags."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import or_, select

from engine.cli import main
from engine.records.routing import DOWN, LOCAL, UP, NoRoute, suggest
from engine.spec.loader import load_definition
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import leads, letters, obligations
from tests.conftest import CAMPAIGNS

SOURCING = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
COMPLETE = {"right_holder": "某鞋业有限公司", "mark": "某某", "registration_number": "1234567",
            "right_holder_contact": "张三 13800000000", "suspected_infringer": "某商贸公司",
            "infringement_place": "浙江省杭州市上城区", "mark_usage": "在鞋面使用相同商标",
            "ownership_clear": True}


@pytest.mark.parametrize(("state", "holder", "division", "trigger", "to"), [
    ("consolidated", "jiangsu_amr", "330102", UP, "saic.tmo"),
    ("reported", "saic.tmo", "330102", DOWN, "zhejiang_amr"),
    ("consolidated", "jiangsu_amr", "320583", LOCAL, "jiangsu_amr"),
    ("forwarded", "zhejiang_amr", "330102", LOCAL, "zhejiang_amr"),
], ids=["jiangsu_lead_about_zhejiang_goes_up", "office_forwards_to_zhejiang",
        "jiangsu_lead_about_jiangsu_stays", "zhejiang_handles_what_it_received"])
def test_the_place_of_infringement_decides_where_a_lead_goes(
        state: str, holder: str, division: str, trigger: str, to: str) -> None:
    route = suggest(SOURCING, state, holder, division)
    assert (route.trigger, route.to) == (trigger, to)


@pytest.mark.parametrize(("division", "says"), [
    (None, "区划代码"), ("33", "区划代码"), ("990000", "990000"),
], ids=["no_division", "truncated_code", "unknown_province"])
def test_a_lead_without_a_usable_place_is_not_guessed(division: str | None, says: str) -> None:
    with pytest.raises(NoRoute, match=says):
        suggest(SOURCING, "consolidated", "jiangsu_amr", division)


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db_url], catch_exceptions=False)


@pytest.fixture
def two_leads(db_url: str) -> tuple[str, int, int]:
    """Two consolidated leads held by Jiangsu: one about Hangzhou, one about Kunshan."""
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    store = connect(db_url)
    def_id, _ = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id, [
        records.NewRecord("JS-ZJ-1", {**COMPLETE, "infringement_division": "330102"}, "JS-ZJ-1",
                          "jiangsu_amr"),
        records.NewRecord("JS-JS-1", {**COMPLETE, "infringement_place": "江苏省昆山市",
                                      "infringement_division": "320583"}, "JS-JS-1",
                          "jiangsu_amr")], actor="江苏省局", initial_state="consolidated")
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(leads.c.natural_key, leads.c.id)).all())
    return db_url, ids["JS-ZJ-1"], ids["JS-JS-1"]


def holder_and_state(db_url: str, lead: int) -> tuple[str, str]:
    with connect(db_url).engine.connect() as conn:
        return tuple(conn.execute(select(leads.c.body_id, leads.c.state).where(  # type: ignore
            leads.c.id == lead)).one())


def test_a_jiangsu_lead_about_zhejiang_goes_to_the_office_and_on_to_zhejiang(
        two_leads: tuple[str, int, int]) -> None:
    db_url, zj, js = two_leads
    up = cli(db_url, "lead", "forward", str(zj), "--at", "2017-10-30", "--actor", "江苏省局")
    assert up.exit_code == 0 and "上报国家工商行政管理总局商标局" in up.output
    assert holder_and_state(db_url, zj) == ("saic.tmo", "reported")
    down = cli(db_url, "lead", "forward", str(zj), "--at", "2017-11-08", "--actor", "商标局",
               "--format", "json")
    said = json.loads(down.output)
    assert (said["to"], said["feedback_due"], said["letter"]) == ("zhejiang_amr", "2017-12-08",
                                                                   True)
    assert holder_and_state(db_url, zj) == ("zhejiang_amr", "forwarded")
    stays = cli(db_url, "lead", "forward", str(js), "--at", "2017-11-08", "--actor", "江苏省局")
    assert stays.exit_code == 0 and "本级办理" in stays.output
    assert holder_and_state(db_url, js) == ("jiangsu_amr", "assigned")
    with connect(db_url).engine.connect() as conn:
        sent = conn.execute(select(letters.c.kind, letters.c.recipient_id, letters.c.body)).all()
        owed = conn.execute(select(obligations.c.body_id, obligations.c.due_on,
                                   obligations.c.recipient_id).where(
            obligations.c.origin == "forwarding")).all()
    assert [(k, r) for k, r, _ in sent] == [("forwarding", "zhejiang_amr")]  # one letter
    assert "JS-ZJ-1" in sent[0][2] and "- 商标注册号：1234567" in sent[0][2]
    assert [tuple(o) for o in owed] == [("zhejiang_amr", date(2017, 12, 8), "saic.tmo")]
    # the next hop: Zhejiang keeps it (本级办理) - no letter to itself, no feedback to itself
    again = cli(db_url, "lead", "forward", str(zj), "--actor", "浙江省局")
    assert again.exit_code == 0 and holder_and_state(db_url, zj) == ("zhejiang_amr", "assigned")
    with connect(db_url).engine.connect() as conn:
        assert len(conn.execute(select(letters.c.id)).all()) == 1
        assert len(conn.execute(select(obligations.c.id).where(
            obligations.c.origin == "forwarding")).all()) == 1
    refused = cli(db_url, "lead", "forward", str(zj), "--to", "saic.tmo", "--actor", "浙江省局")
    assert refused.exit_code == 1 and "未能转办" in refused.output  # assigned: no way up


def test_sourcing_2017_a_province_keeps_credit_for_the_leads_it_reported_up(
        db_url: str) -> None:
    """二、（二）1: each province reports at least five cross-province leads to 商标局; sending
    them up is doing so, not losing them from its count, nor handing them to whoever gets
    them next."""
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    store = connect(db_url)
    def_id, _ = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id, [
        records.NewRecord(f"JS-{i}", {**COMPLETE, "infringement_division": "330102"}, f"JS-{i}",
                          "jiangsu_amr") for i in range(5)],
        actor="江苏省局", initial_state="consolidated")
    with store.engine.connect() as conn:
        ids = list(conn.scalars(select(leads.c.id).order_by(leads.c.id)))
    for lead in ids:
        assert cli(db_url, "lead", "forward", str(lead), "--at", "2017-10-30", "--actor",
                   "江苏省局").exit_code == 0
    assert cli(db_url, "lead", "forward", str(ids[0]), "--at", "2017-10-31", "--actor",
               "商标局").exit_code == 0  # on down to Zhejiang, which did not report it
    table = cli(db_url, "report", "compliance", "--campaign", "sourcing_2017", "--format",
                "csv").output.splitlines()  # as of today: the leads were stored today
    quota_of = {line.split(",")[1][:3]: line.split(",")[-2:] for line in table
                if line.startswith("跨省商标侵权案件线索,")}
    assert quota_of["江苏省"] == ["5", "已完成"] and quota_of["浙江省"] == ["0", "5"]
    assert cli(db_url, "run", "--at", "2017-10-30").exit_code == 0  # the day-before reminders
    with store.engine.connect() as conn:
        reminded = dict(conn.execute(select(letters.c.recipient_id, letters.c.body).where(
            letters.c.kind == "reminder", letters.c.status == "planned")).all())
    assert "尚差" not in reminded["jiangsu_amr"] and "尚差5件" in reminded["zhejiang_amr"]


def test_a_forwarded_lead_left_unopened_is_supervised_then_its_feedback_chased(
        two_leads: tuple[str, int, int]) -> None:
    db_url, zj, _ = two_leads
    cli(db_url, "lead", "forward", str(zj), "--at", "2017-10-30", "--actor", "江苏省局")
    cli(db_url, "lead", "forward", str(zj), "--at", "2017-11-08T10:00", "--actor", "商标局")
    day = date(2017, 11, 9)
    while day <= date(2017, 12, 20):
        assert cli(db_url, "run", "--at", day.isoformat(), "--campaign",
                   "sourcing_2017").exit_code == 0
        day = date.fromordinal(day.toordinal() + 1)
    with connect(db_url).engine.connect() as conn:
        about_lead = conn.execute(select(letters.c.planned_for, letters.c.kind,
                                         letters.c.recipient_id, letters.c.subject).where(
            letters.c.status == "planned", or_(letters.c.idempotency_key.like("%:timer:%"),
                              letters.c.idempotency_key.like("%:lead_feedback:%")))
            .order_by(letters.c.planned_for)).all()
    seen = [(d, k, r) for d, k, r, _ in about_lead]
    assert seen == [
        (date(2017, 11, 23), "supervision", "zhejiang_amr"),  # 15 days forwarded, unopened
        (date(2017, 12, 1), "reminder", "zhejiang_amr"),  # feedback due 8 December
        (date(2017, 12, 5), "reminder", "zhejiang_amr"),
        (date(2017, 12, 7), "reminder", "zhejiang_amr"),
        (date(2017, 12, 9), "overdue", "zhejiang_amr"),
        (date(2017, 12, 14), "overdue", "zhejiang_amr"),
        (date(2017, 12, 18), "escalation", "samr"),  # 10 days late: to Zhejiang's superior
        (date(2017, 12, 19), "overdue", "zhejiang_amr"),
    ]
    assert about_lead[1].subject == "关于按时报送转办线索JS-ZJ-1的办理情况反馈的提醒函"
    assert not any("lead:" in subject for *_, subject in about_lead)  # bookkeeping, unshown


def test_feedback_stops_the_chasing_and_the_supervision_view_puts_the_late_first(
        two_leads: tuple[str, int, int]) -> None:
    db_url, zj, _ = two_leads
    cli(db_url, "lead", "forward", "--all", "--campaign", "sourcing_2017", "--at", "2017-10-30",
        "--actor", "江苏省局")
    cli(db_url, "lead", "forward", str(zj), "--at", "2017-11-08", "--actor", "商标局")
    view = cli(db_url, "report", "supervision", "--campaign", "sourcing_2017", "--at",
               "2017-12-12", "--format", "json")
    [item] = json.loads(view.output)
    assert (item["ref"], item["body"], item["days_overdue"]) == ("JS-ZJ-1", "zhejiang_amr", 4)
    done = cli(db_url, "lead", "feedback", str(zj), "--campaign", "sourcing_2017", "--at",
               "2017-12-12", "--actor", "浙江省局", "--note", "已立案查处")
    assert done.exit_code == 0
    assert json.loads(cli(db_url, "report", "supervision", "--campaign", "sourcing_2017",
                          "--at", "2017-12-13", "--format", "json").output) == []
    cli(db_url, "run", "--at", "2017-12-20", "--campaign", "sourcing_2017")
    with connect(db_url).engine.connect() as conn:
        chased = conn.execute(select(letters.c.kind).where(
            letters.c.idempotency_key.like("%lead_feedback%"))).all()
    assert chased == []  # fed back before the first run: nothing to chase


def test_routing_all_awaiting_leads_in_one_go(two_leads: tuple[str, int, int]) -> None:
    db_url, zj, js = two_leads
    dry = cli(db_url, "lead", "forward", "--all", "--campaign", "sourcing_2017", "--dry-run",
              "--actor", "江苏省局")
    assert dry.exit_code == 0 and "可转办 2 条" in dry.output
    assert holder_and_state(db_url, zj) == ("jiangsu_amr", "consolidated")
    done = cli(db_url, "lead", "forward", "--all", "--campaign", "sourcing_2017", "--actor",
               "江苏省局")
    assert "已转办 2 条" in done.output
    assert holder_and_state(db_url, zj) == ("saic.tmo", "reported")
    assert holder_and_state(db_url, js) == ("jiangsu_amr", "assigned")


def test_a_suzhou_county_lead_goes_up_or_down_from_the_jiangsu_plan(db_url: str) -> None:
    """The issue's check, from a county: in the worked Jiangsu plan (which knows Suzhou's
    county bureaus), Kunshan's lead about Hangzhou goes to the office and on to Zhejiang;
    its lead about Wuzhong is assigned by Jiangsu to the Wuzhong bureau; its lead about
    Kunshan itself stays in Kunshan."""
    plan = "example_jiangsu_sourcing_2017"
    assert cli(db_url, "load", str(CAMPAIGNS / f"{plan}.yaml")).exit_code == 0
    store = connect(db_url)
    def_id, _ = definitions.latest(store, plan)
    places = {"KS-ZJ": "330102", "KS-WZ": "320506", "KS-KS": "320583"}
    records.insert_records(store, "lead", plan, def_id, [
        records.NewRecord(key, {**COMPLETE, "infringement_division": code}, key, "kunshan_amr")
        for key, code in places.items()], actor="昆山市局", initial_state="consolidated")
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(leads.c.natural_key, leads.c.id)).all())
    for key in places:
        assert cli(db_url, "lead", "forward", str(ids[key]), "--at", "2017-10-30",
                   "--actor", "江苏省局").exit_code == 0
    cli(db_url, "lead", "forward", str(ids["KS-ZJ"]), "--at", "2017-11-08", "--actor", "商标局")
    assert holder_and_state(db_url, ids["KS-ZJ"]) == ("zhejiang_amr", "forwarded")
    assert holder_and_state(db_url, ids["KS-WZ"]) == ("suzhou_wuzhong_amr", "assigned")
    assert holder_and_state(db_url, ids["KS-KS"]) == ("kunshan_amr", "assigned")
    with store.engine.connect() as conn:
        owed = sorted(tuple(r) for r in conn.execute(select(
            obligations.c.body_id, obligations.c.recipient_id).where(
            obligations.c.origin == "forwarding")))
        letters_to = sorted(conn.scalars(select(letters.c.recipient_id).where(
            letters.c.kind == "forwarding")))
    assert owed == [("suzhou_wuzhong_amr", "jiangsu_amr"), ("zhejiang_amr", "saic.tmo")]
    assert letters_to == ["suzhou_wuzhong_amr", "zhejiang_amr"]
