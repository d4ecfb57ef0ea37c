"""What a policy writer gets wrong, and what ``campaign validate`` tells them.

Each case takes a copy of the worked example (``campaigns/sourcing_2017.yaml`` with its
``bodies/`` registries), breaks it the way a person editing it might, and checks that the command
exits 1 (0 for a warning), names the problem by its stable code, points at the line the mistake
is on (computed from the edited text, never hard-coded), and does not crash with a traceback.

Some cases are regressions: they crashed the command or pointed at the wrong line until the
fixes in 33da50d (control and NUL characters, an ambiguous due, a time zone naming a region,
dates past 9999 or in year 0, an empty reminder setting, a broken anchor called a cycle, '=').
Cases marked ``xfail(strict=True)`` are open bugs; the reason says what happens today.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest_helpers import (
    EXAMPLE_TEXT,
    copy_example,
    describe_failure,
    first_content_line,
    insert_after,
    line_of,
    line_of_unique,
    no_traceback,
    replace_once,
    validate,
)

Content = str | bytes


@dataclass(frozen=True)
class Case:
    """One mistake: how to make it, what it is called, and where it must be reported."""

    edit: Callable[[str], Content]
    """Turns the example's text into the broken file (text, or bytes for encoding cases)."""
    code: str
    """The stable diagnostic code expected (see engine/spec/messages.py)."""
    line: Callable[[Content], int]
    """The line the diagnostic must point at, computed from the edited content."""
    severity: str = "error"
    file_name: str = "sourcing_2017.yaml"
    hint: str | None = None
    """Text the hint must contain (the did-you-mean suggestion)."""
    after: Callable[[Path], None] | None = None
    """An extra check run with the scratch directory once the command has finished."""

    @property
    def exit_code(self) -> int:
        return 1 if self.severity == "error" else 0


def at(needle: str, nth: int | None = None) -> Callable[[Content], int]:
    """The line of ``needle`` in the edited text: the only occurrence, or the ``nth``."""
    def find(content: Content) -> int:
        assert isinstance(content, str)
        return line_of_unique(content, needle) if nth is None else line_of(content, needle, nth)
    return find


def root_line(content: Content) -> int:
    assert isinstance(content, str)
    return first_content_line(content)


def first_non_utf8_line(content: Content) -> int:
    """The line of the first byte that is not UTF-8."""
    assert isinstance(content, bytes)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return content.count(b"\n", 0, exc.start) + 1
    raise AssertionError("the content is valid UTF-8")


def line_one(_: Content) -> int:
    return 1


# --- pieces of the example the edits hold on to -----------------------------------------------
LEADS_DUE = "due: {date: 2017-10-31, wording: 10月底前}"
SUMMARY_DUE = "due: {end_of_month: 2018-01, wording: 2018年1月底前}"
SUMMARY_TAIL = "    content: 本辖区专项行动开展情况总结。\n    source: 二、（三）\n"
PROVINCES = ("{name: 各省级工商、市场监管部门, registry: provinces, level: province, "
             "exclude: xpcc_amr}")
SUMMARY_FROM = f"from: {PROVINCES}\n    to: saic\n"
COLLECT_WINDOW = "window: {start: 2017-10-01, end: 2017-10-31, wording: 10月}"
SUMMARISE_WINDOW = "window: {start: 2018-01-01, end: 2018-02-28, wording: 2018年1月—2018年2月}"
MOBILISE_SUMMARY = ("    summary: 总局印发方案并开展宣传；"
                    "各地组织传达学习，使执法人员掌握专项行动要求。\n")

MONTHLY_REPORT = """\
  - id: monthly_progress
    title: 专项行动进展情况
    kind: interim_summary
    from: {registry: provinces, level: province, exclude: xpcc_amr}
    to: saic
    due: {every: month, day: 5, first: 2017-10, last: 2017-12}
    source: 二、（二）4
"""
FOLLOWUP_REPORT = """\
  - id: followup
    title: 专项行动补充报告
    kind: other
    from: {registry: provinces, level: province, exclude: xpcc_amr}
    to: saic
    due: {relative_to: {report: summary}, offset_days: 10}
    source: 二、（三）
"""

BOMB = "note:\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
PWNED = "pwned_by_yaml_tag"


def add_report(text: str, report: str) -> str:
    return replace_once(text, SUMMARY_TAIL, SUMMARY_TAIL + report)


def gbk_line(text: str) -> bytes:
    """The example in UTF-8, except one line pasted from a GBK editor."""
    head, line, tail = text.partition(MOBILISE_SUMMARY)
    return head.encode() + line.encode("gbk") + tail.encode()


def relative_to_recurring(text: str) -> str:
    text = replace_once(text, SUMMARY_DUE,
                        "due: {relative_to: {report: monthly_progress}, offset_days: 10}")
    return add_report(text, MONTHLY_REPORT)


def relative_cycle(text: str) -> str:
    text = replace_once(text, SUMMARY_DUE, "due: {relative_to: {report: followup}, offset_days: 5}")
    return add_report(text, FOLLOWUP_REPORT)


LONG_NAME = "x" * 300
"""Longer than a file name may be (255 bytes on common file systems)."""


def bug(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)




def pwned_file_absent(directory: Path) -> None:
    assert not (directory / PWNED).exists(), "the !!python tag was executed"


CASES = [
    # --- reading the file ---------------------------------------------------------------------
    pytest.param(Case(
        lambda t: replace_once(t, "title: 开展打击商标侵权", "title: 开展打击: 商标侵权"),
        "yaml-syntax", at("title: 开展打击: 商标侵权"),
    ), id="colon_inside_unquoted_title"),
    pytest.param(Case(
        lambda t: replace_once(t, "    type: mobilise\n", "\ttype: mobilise\n"),
        "yaml-syntax", at("\ttype: mobilise"),
    ), id="tab_used_for_indentation"),
    pytest.param(Case(
        lambda t: t.encode("gbk"), "not-utf8", first_non_utf8_line,
    ), id="whole_file_saved_as_gbk"),
    pytest.param(Case(
        gbk_line, "not-utf8", first_non_utf8_line,
    ), id="one_line_pasted_from_a_gbk_editor"),
    pytest.param(Case(lambda t: "", "empty-file", line_one), id="empty_file"),
    pytest.param(Case(lambda t: "\n  \n\t\n", "empty-file", line_one), id="blank_lines_only"),
    pytest.param(Case(
        lambda t: "# 溯源专项行动\n# TODO: 待填写\n", "empty-file", line_one,
    ), id="comment_only_file"),
    pytest.param(Case(
        lambda t: t + "---\nid: sourcing_2017_copy\n", "multiple-documents",
        at("id: sourcing_2017_copy"),
    ), id="second_document_after_triple_dash"),
    pytest.param(Case(
        lambda t: insert_after(t, "published: 2017-10-17",
                               f"note: !!python/object/apply:os.system ['touch {PWNED}']\n"),
        "unsafe-tag", at("note: !!python"), after=pwned_file_absent,
    ), id="python_object_apply_tag_is_not_executed"),
    pytest.param(Case(
        lambda t: insert_after(t, "published: 2017-10-17", BOMB),
        "too-many-nodes", root_line,
    ), id="billion_laughs_alias_bomb"),
    pytest.param(Case(
        lambda t: insert_after(t, "published: 2017-10-17", "note: " + "[" * 80 + "]" * 80 + "\n"),
        "too-deep", at("note: [[["),
    ), id="lists_nested_80_deep"),
    pytest.param(Case(
        lambda t: replace_once(t, MOBILISE_SUMMARY, MOBILISE_SUMMARY.replace("；", "\x07")),
        "control-character", at("\x07"),
    ), id="control_character_pasted_into_a_summary"),
    pytest.param(Case(
        lambda t: replace_once(t, MOBILISE_SUMMARY, MOBILISE_SUMMARY.replace("；", "\x00")),
        "control-character", at("\x00"),
    ), id="nul_character_pasted_into_a_summary"),
    # --- shape --------------------------------------------------------------------------------
    pytest.param(Case(
        lambda t: replace_once(t, "\ntitle: ", "\ntitel: "), "unknown-key", at("titel: "),
        hint="title",
    ), id="unknown_key_with_typo"),
    pytest.param(Case(
        lambda t: replace_once(t, MOBILISE_SUMMARY, MOBILISE_SUMMARY.replace("summary", "summery")),
        "unknown-key", at("summery:"), hint="summary",
    ), id="unknown_key_inside_a_phase"),
    pytest.param(Case(
        lambda t: insert_after(t, "\nkind: campaign", "title: 溯源专项行动（重复）\n"),
        "duplicate-key", at("title: 溯源专项行动（重复）"),
    ), id="duplicate_yaml_key"),
    pytest.param(Case(
        lambda t: replace_once(t, COLLECT_WINDOW, "window: [2017-10-01, 2017-10-31]"),
        "wrong-type", at("window: [2017-10-01, 2017-10-31]"),
    ), id="window_written_as_a_list"),
    pytest.param(Case(
        lambda t: replace_once(t, "after_days: 30", "after_days: thirty"),
        "wrong-type", at("after_days: thirty"),
    ), id="timer_days_written_in_words"),
    pytest.param(Case(
        lambda t: replace_once(t, "quota: {min: 5,", "quota: {min: 0,"),
        "out-of-range", at("quota: {min: 0,"),
    ), id="quota_of_zero_leads"),
    pytest.param(Case(
        lambda t: replace_once(t, LEADS_DUE, LEADS_DUE.replace("2017-10-31", "2018-02-31")),
        "bad-date", at("2018-02-31"),
    ), id="due_date_31_february"),
    pytest.param(Case(
        lambda t: replace_once(t, "issued: 2017-09-20", "issued: 2017-09-20 09:30"),
        "bad-date", at("issued: 2017-09-20 09:30"),
    ), id="issued_date_with_a_time_of_day"),
    pytest.param(Case(
        lambda t: replace_once(t, "end_of_month: 2018-01", "end_of_month: 2018-13"),
        "bad-month", at("end_of_month: 2018-13"),
    ), id="end_of_month_13th_month"),
    pytest.param(Case(
        lambda t: replace_once(t, "      - id: investigate\n", "      - id: Bad-ID\n"),
        "bad-id", at("id: Bad-ID"),
    ), id="phase_id_with_capitals_and_hyphen"),
    pytest.param(Case(
        lambda t: replace_once(t, "    type: implement\n", "    type: implementation\n"),
        "bad-choice", at("type: implementation"), hint="implement",
    ), id="phase_type_not_among_the_choices"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_TAIL, SUMMARY_TAIL.split("\n")[0] + "\n"),
        "missing-key", at("  - id: summary"),
    ), id="report_without_source"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_DUE, "due: {wording: 2018年1月底前}"),
        "ambiguous-shape", at("due: {wording: 2018年1月底前}"),
    ), id="due_with_only_the_wording"),
    # --- ids and references -------------------------------------------------------------------
    pytest.param(Case(
        lambda t: replace_once(t, "      - id: forward\n", "      - id: collect\n"),
        "duplicate-id", at("- id: collect", nth=1),
    ), id="duplicate_phase_id"),
    pytest.param(Case(
        lambda t: replace_once(t, "  - id: summary\n", "  - id: cross_province_leads\n"),
        "duplicate-id", at("- id: cross_province_leads", nth=1),
    ), id="duplicate_report_id"),
    pytest.param(Case(
        lambda t: replace_once(t, "to: saic.tmo", "to: saic.tm0"), "unknown-body",
        at("to: saic.tm0"), hint="saic.tmo",
    ), id="unknown_body_in_to_with_a_typo"),
    pytest.param(Case(
        lambda t: replace_once(t, "    owner: saic.tmo\n    phases: forward\n",
                               "    owner: saic.tmo\n    phases: froward\n"),
        "unknown-phase", at("phases: froward"), hint="forward",
    ), id="task_names_an_unknown_phase"),
    pytest.param(Case(
        lambda t: insert_after(t, "    phase: summarise", "    return: monthly_return\n"),
        "unknown-return", at("return: monthly_return"),
    ), id="report_names_an_unknown_return_form"),
    pytest.param(Case(
        lambda t: replace_once(t, "  - bodies/provinces.yaml", "  - bodies/province.yaml"),
        "registry-missing", at("bodies/province.yaml"),
    ), id="registry_file_missing"),
    pytest.param(Case(
        lambda t: replace_once(t, "  - bodies/provinces.yaml", f"  - bodies/{LONG_NAME}.yaml"),
        "registry-missing", at(f"bodies/{LONG_NAME}"),
    ), id="registry_path_longer_than_a_file_name"),
    pytest.param(Case(
        lambda t: replace_once(t, "implements: national_2017", f"implements: {LONG_NAME}"),
        "unknown-campaign", at(f"implements: {LONG_NAME}"), severity="warning",
    ), id="implements_an_id_longer_than_a_file_name"),
    pytest.param(Case(
        lambda t: t, "campaign-id-mismatch", at("id: sourcing_2017"),
        file_name="sourcing_2018.yaml",
    ), id="campaign_id_not_matching_the_file_name"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_FROM, SUMMARY_FROM.replace("province,", "county,")),
        "empty-selector", at("level: county"),
    ), id="from_selector_matches_no_body"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_FROM,
                               "from: {name: 各省级工商、市场监管部门}\n    to: saic\n"),
        "name-only-selector", at("from: {name: 各省级工商、市场监管部门}"),
    ), id="report_from_a_name_only_selector"),
    pytest.param(Case(
        lambda t: insert_after(t, "published: 2017-10-17", "timezone: Asia/Beijing\n"),
        "bad-timezone", at("timezone: Asia/Beijing"),
    ), id="time_zone_that_does_not_exist"),
    pytest.param(Case(
        lambda t: insert_after(t, "published: 2017-10-17", "timezone: Asia\n"),
        "bad-timezone", at("timezone: Asia"),
    ), id="time_zone_naming_a_region_only"),
    pytest.param(Case(
        lambda t: t + "templates:\n  reminder: letters/no_such_reminder.j2\n",
        "unknown-template", at("reminder: letters/no_such_reminder.j2"),
    ), id="template_override_pointing_to_a_missing_file"),
    pytest.param(Case(
        lambda t: t + f"templates:\n  reminder: {LONG_NAME}.j2\n",
        "unknown-template", at(f"reminder: {LONG_NAME}"),
    ), id="template_path_longer_than_a_file_name"),
    # --- dates --------------------------------------------------------------------------------
    pytest.param(Case(
        lambda t: replace_once(t, COLLECT_WINDOW, COLLECT_WINDOW.replace("10-01", "09-15")),
        "window-outside-parent", at("start: 2017-09-15"),
    ), id="sub_phase_starts_before_its_parent"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARISE_WINDOW, SUMMARISE_WINDOW.replace("02-28", "03-31")),
        "window-outside-period", at("end: 2018-03-31"),
    ), id="phase_runs_past_the_campaign_period"),
    pytest.param(Case(
        lambda t: replace_once(t, "  end: 2018-02-28\n", "  end: 2017-08-31\n"),
        "window-reversed", at("  end: 2017-08-31"),
    ), id="period_ends_before_it_starts"),
    pytest.param(Case(
        lambda t: replace_once(t, LEADS_DUE, LEADS_DUE.replace("2017-10-31", "2018-03-31")),
        "due-outside-period", at("2018-03-31"), severity="warning",
    ), id="due_date_after_the_campaign_ends_is_a_warning"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_DUE, "due: {every: month, day: 5, first: 2017-12, "
                                               "last: 2017-10}"),
        "recurring-reversed", at("last: 2017-10"),
    ), id="monthly_report_whose_last_month_precedes_the_first"),
    pytest.param(Case(
        relative_to_recurring, "recurring-relative", at("report: monthly_progress"),
    ), id="relative_due_anchored_to_a_recurring_report"),
    pytest.param(Case(
        relative_cycle, "relative-cycle", at("relative_to: {report: followup}"),
    ), id="two_reports_due_relative_to_each_other"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_DUE, "due: {relative_to: {date: 2018-01-01}, "
                                               "offset_days: 100000000}"),
        "out-of-range", at("offset_days: 100000000"),
    ), id="relative_due_a_hundred_million_days_later"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_DUE, "due: {relative_to: {date: 9999-12-31}, "
                                               "offset_days: 1}"),
        "bad-date", at("date: 9999-12-31"),
    ), id="relative_due_one_day_after_9999_12_31"),
    pytest.param(Case(
        lambda t: replace_once(t, "end_of_month: 2018-01", "end_of_month: 0000-01"),
        "bad-month", at("end_of_month: 0000-01"),
    ), id="end_of_month_in_year_0000"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_DUE, "due: {every: month, day: 5, first: 9999-12, "
                                               "last: 9999-12}"),
        "bad-month", at("first: 9999-12"),
    ), id="monthly_report_covering_december_9999"),
    # --- lifecycles ---------------------------------------------------------------------------
    pytest.param(Case(
        lambda t: insert_after(t, "{id: withdrawn, name: 已撤回, terminal: true}",
                               "      - {id: archived, name: 已归档, terminal: true}\n"),
        "state-unreachable", at("{id: archived"),
    ), id="lifecycle_state_nothing_leads_to"),
    pytest.param(Case(
        lambda t: replace_once(t, "{id: declined, name: 不予立案, terminal: true}",
                               "{id: declined, name: 不予立案}"),
        "state-dead-end", at("{id: declined"),
    ), id="non_terminal_state_with_no_way_out"),
    pytest.param(Case(
        lambda t: replace_once(t, "requires: [right_type, penalty_amount]",
                               "requires: [right_type, penalty_amout]"),
        "unknown-field", at("penalty_amout"), hint="penalty_amount",
    ), id="guard_requires_an_unknown_field"),
    pytest.param(Case(
        lambda t: replace_once(t, "        to: forwarded\n", "        to: fowarded\n"),
        "unknown-state", at("to: fowarded"), hint="forwarded",
    ), id="transition_to_an_unknown_state"),
    pytest.param(Case(
        lambda t: replace_once(t, "state: assigned", "state: asigned"),
        "unknown-state", at("state: asigned"), hint="assigned",
    ), id="timer_on_an_unknown_state"),
    pytest.param(Case(
        lambda t: replace_once(replace_once(t, "calendar: calendar_days", "calendar: working_days"),
                               "end_of_month: 2018-01", "end_of_month: 2031-01"),
        "calendar-year-unknown", at("calendar: working_days"),
    ), id="working_days_in_a_year_the_holiday_calendar_does_not_know"),
    pytest.param(Case(
        lambda t: replace_once(t, "      - trigger: forward\n", "      - trigger: send_on\n"),
        "routing-needs-triggers", at("office: saic.tmo"),
    ), id="routing_without_the_lead_move_it_fires"),
    # --- implementation plans (more in tests/test_cascade.py, which needs a parent file) ---------
    pytest.param(Case(
        lambda t: insert_after(t, "implements: national_2017", "extends: sourcing_2017\n"),
        "extends-cycle", at("extends: sourcing_2017"),
    ), id="campaign_extends_itself"),
    pytest.param(Case(
        lambda t: replace_once(t, SUMMARY_TAIL, SUMMARY_TAIL.replace(
            "    source:", "    feeds: cross_province_leads\n    source:")),
        "feeds-without-extends", at("feeds: cross_province_leads"),
    ), id="feeds_in_a_campaign_that_extends_nothing"),
    pytest.param(Case(
        lambda t: insert_after(t, "implements: national_2017", "jurisdiction: jiangsu_amr\n"),
        "jurisdiction-without-extends", at("jurisdiction: jiangsu_amr"), severity="warning",
    ), id="jurisdiction_without_extends"),
]


def write(path: Path, content: Content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def listing(diagnostics: list[dict]) -> str:
    return "\n".join(f"  {d['line']}:{d['column']} {d['severity']} {d['code']}: {d['message']}"
                     for d in diagnostics)


def test_the_unedited_copy_is_valid(tmp_path: Path) -> None:
    """The premise of every case below: the copy validates, so each error comes from the edit."""
    run = validate(copy_example(tmp_path))
    assert run.text.exit_code == 0, run.text.output
    assert run.data["errors"] == 0


@pytest.mark.parametrize("case", CASES)
def test_mistake_is_reported_at_its_line(case: Case, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # anything a hostile file managed to run would land here
    path = copy_example(tmp_path, case.file_name)
    content = case.edit(EXAMPLE_TEXT)
    write(path, content)

    started = time.monotonic()
    run = validate(path)
    elapsed = time.monotonic() - started

    for result in (run.text, run.json):
        assert no_traceback(result), describe_failure(result)
    assert elapsed < 10, f"validate took {elapsed:.1f}s"
    assert run.text.exit_code == case.exit_code, run.text.output
    assert run.json.exit_code == case.exit_code

    line = case.line(content)
    wanted = [d for d in run.diagnostics
              if d["code"] == case.code and d["severity"] == case.severity]
    here = [d for d in wanted if d["line"] == line]
    assert here, (f"expected {case.code} on line {line}; got:\n"
                  f"{listing(run.diagnostics)}")
    found = here[0]
    assert found["column"] >= 1
    assert re.search(rf"{re.escape(str(path))}:{line}:{found['column']}: {case.severity}: ",
                     run.text.output), run.text.output
    if case.hint is not None:
        assert found["hint"] and case.hint in found["hint"], found
    if case.after is not None:
        case.after(tmp_path)


# --- beyond the table -------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["overdue_after", "repeat_every", "escalate_after",
                                 "max_repeats"])
def test_a_reminder_setting_left_empty_is_not_a_crash(key: str, tmp_path: Path) -> None:
    """``escalate_after:`` with nothing after it means 'unset': the default applies.

    Regression: convert.check_bounds compared None with the minimum (TypeError)."""
    text = EXAMPLE_TEXT
    block = text[text.index("\nreminders:\n"):text.index("\nlifecycles:")]
    old = next(line for line in block.splitlines() if line.startswith(f"  {key}:"))
    text = replace_once(text, old + "\n", f"  {key}:\n")
    path = copy_example(tmp_path)
    path.write_text(text, encoding="utf-8")
    run = validate(path)
    assert no_traceback(run.text), describe_failure(run.text)
    assert run.text.exit_code == 0, run.text.output
    assert run.data["errors"] == 0


def test_english_messages_with_lang_en(tmp_path: Path) -> None:
    path = copy_example(tmp_path)
    path.write_text(replace_once(EXAMPLE_TEXT, "to: saic.tmo", "to: saic.tm0"), encoding="utf-8")
    line = line_of_unique(path.read_text(encoding="utf-8"), "to: saic.tm0")
    english = validate(path, "--lang", "en")
    chinese = validate(path)
    assert english.text.exit_code == 1 and no_traceback(english.text)
    assert re.search(rf":{line}:\d+: error: unknown body 'saic.tm0' \(not in the registries "
                     rf"this file uses\)  hint: did you mean 'saic.tmo'\?", english.text.output)
    assert "invalid: 1 file(s), " in english.text.output
    assert english.at("unknown-body")[0]["message"].startswith("unknown body")
    assert not re.search(r"[\u4e00-\u9fff]", english.at("unknown-body")[0]["message"])
    assert "未知的单位" in chinese.text.output and "提示：" in chinese.text.output


SHAPE_MISTAKES = [  # each stops the file converting, and all are found in one pass
    ("\ntitle: ", "\ntitel: ", "titel: ", "unknown-key"),
    ("after_days: 30", "after_days: thirty", "after_days: thirty", "wrong-type"),
    ("end_of_month: 2018-01", "end_of_month: 2018-13", "end_of_month: 2018-13", "bad-month"),
    ("      - id: investigate\n", "      - id: Bad-ID\n", "id: Bad-ID", "bad-id"),
]
MEANING_MISTAKES = [  # the file converts; the rules each find one problem
    ("to: saic.tmo", "to: saic.tm0", "to: saic.tm0", "unknown-body"),
    ("state: assigned", "state: asigned", "state: asigned", "unknown-state"),
    (COLLECT_WINDOW, COLLECT_WINDOW.replace("10-01", "09-15"), "start: 2017-09-15",
     "window-outside-parent"),
    ("requires: [right_type, penalty_amount]", "requires: [right_type, penalty_amout]",
     "penalty_amout", "unknown-field"),
]


@pytest.mark.parametrize("mistakes", [SHAPE_MISTAKES, MEANING_MISTAKES],
                         ids=["shape_errors", "meaning_errors"])
def test_several_mistakes_are_all_reported_in_one_run(
        mistakes: list[tuple[str, str, str, str]], tmp_path: Path) -> None:
    text = EXAMPLE_TEXT
    for old, new, _, _ in mistakes:
        text = replace_once(text, old, new)
    path = copy_example(tmp_path)
    path.write_text(text, encoding="utf-8")
    run = validate(path)
    assert run.text.exit_code == 1 and no_traceback(run.text), describe_failure(run.text)
    assert run.data["errors"] >= len(mistakes) >= 3
    for _, _, needle, code in mistakes:
        line = line_of_unique(text, needle)
        assert any(d["line"] == line for d in run.at(code)), (code, line, listing(run.diagnostics))
    assert len(re.findall(rf"{re.escape(str(path))}:\d+:\d+: error: ", run.text.output)) \
        == run.data["errors"]


@pytest.mark.parametrize("anchor, root_cause", [
    ("report: nosuch_report", "unknown-report"),
    ("report: monthly_progress", "recurring-relative"),
], ids=["anchor_report_unknown", "anchor_report_recurring"])
def test_a_broken_anchor_is_not_also_reported_as_a_cycle(anchor: str, root_cause: str,
                                                        tmp_path: Path) -> None:
    """Only the broken anchor is reported, not the report that counts from it.

    Regression: rules._check_deadlines turned every DateError into 'relative-cycle'."""
    text = replace_once(EXAMPLE_TEXT, SUMMARY_DUE, f"due: {{relative_to: {{{anchor}}}, "
                                                   "offset_days: 10}")
    text = add_report(add_report(text, FOLLOWUP_REPORT), MONTHLY_REPORT)
    path = copy_example(tmp_path)
    path.write_text(text, encoding="utf-8")
    run = validate(path)
    assert run.text.exit_code == 1 and no_traceback(run.text)
    assert run.at(root_cause), listing(run.diagnostics)
    assert not run.at("relative-cycle"), listing(run.diagnostics)




@pytest.mark.parametrize("old, new", [
    pytest.param("window: {start: 2018-01-01,", "window: {start: WORD,", id="date"),
    pytest.param("offset_days: 10}", "offset_days: WORD}", id="offset_days"),
    pytest.param("after_days: 30", "after_days: WORD", id="integer"),
    pytest.param("op: eq", "op: WORD", id="choice"),
    pytest.param("\nkind: campaign", "\nkind: WORD", id="campaign_kind"),
    pytest.param("{id: closed, name: 已结案, terminal: true}",
                 "{id: closed, name: 已结案, terminal: WORD}", id="boolean"),
    pytest.param("end_of_month: 2018-01", "end_of_month: WORD", id="month"),
    pytest.param("value: true}", "value: WORD}", id="any_scalar"),
])
def test_a_lone_equals_sign_is_checked_like_any_other_word(old: str, new: str,
                                                           tmp_path: Path) -> None:
    """'=' where a date, number, choice or flag belongs gets the diagnostics 'soon' gets."""
    outcomes = []
    for word in ("soon", "="):
        text = EXAMPLE_TEXT
        if "offset_days" in old:
            text = replace_once(text, SUMMARY_DUE,
                                "due: {relative_to: {date: 2018-01-01}, offset_days: 10}")
        text = replace_once(text, old, new.replace("WORD", word))
        path = copy_example(tmp_path / word.replace("=", "equals"))
        path.write_text(text, encoding="utf-8")
        run = validate(path)
        assert no_traceback(run.text), describe_failure(run.text)
        outcomes.append((run.text.exit_code,
                         sorted((d["line"], d["column"], d["code"]) for d in run.diagnostics)))
    assert outcomes[1] == outcomes[0]


def test_a_lone_equals_sign_is_text_not_a_custom_tag(tmp_path: Path) -> None:
    """Regression: PyYAML resolves a plain '=' to tag:yaml.org,2002:value, which was rejected
    as an unsafe custom tag."""
    path = copy_example(tmp_path)
    path.write_text(insert_after(EXAMPLE_TEXT, "published: 2017-10-17", "note: =\n"),
                    encoding="utf-8")
    run = validate(path)
    assert no_traceback(run.text)
    assert not run.at("unsafe-tag"), listing(run.diagnostics)
    assert run.text.exit_code == 0


@pytest.mark.parametrize("name", ["id", "state", "extra", "natural_key", "created_at", "mark"])
def test_a_campaign_field_may_not_take_a_record_s_own_column_name(name: str,
                                                                  tmp_path: Path) -> None:
    """A lead field named ``id`` became the record's primary key on import, and one named
    ``state`` was silently dropped: such names are refused when the file is checked."""
    text = replace_once(EXAMPLE_TEXT, "  lead:\n    initial: collected\n",
                        "  lead:\n    initial: collected\n"
                        f"    fields:\n      - {{name: {name}, label: 某某字段, type: text}}\n")
    path = copy_example(tmp_path)
    path.write_text(text, encoding="utf-8")
    run = validate(path)
    assert run.text.exit_code == 1 and no_traceback(run.text)
    line = line_of_unique(text, f"{{name: {name}, label: 某某字段")
    assert [d["line"] for d in run.at("field-name-taken")] == [line], listing(run.diagnostics)


def test_the_reserved_field_names_cover_every_column_a_record_keeps_for_itself() -> None:
    from engine.spec.fields import RECORD_FIELDS, RESERVED_NAMES
    from engine.store.tables import RECORD_TABLES

    for kind, table in RECORD_TABLES.items():
        assert set(table.c.keys()) - set(RECORD_FIELDS[kind]) <= RESERVED_NAMES, kind

