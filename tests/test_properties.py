"""Properties of validation that must hold for any input, checked with hypothesis.

* Whatever a file holds (a valid campaign with lines deleted, duplicated or swapped, characters
  replaced by YAML punctuation, tabs or CJK text, random text or random bytes), validation
  returns: every diagnostic is located (line and column >= 1) and worded in both languages, and
  ``campaign validate`` exits 0 or 1, never with a traceback.
* ``campaign show --format json`` gives each report one obligation per reporting body and due date.

Runs are derandomised (the same examples every run) so that the suite is stable; crashes that
random runs found are pinned as explicit cases in ``test_validate_errors.py``. For a deeper,
random search set ``CAMPAIGN_FUZZ_EXAMPLES`` (e.g. ``CAMPAIGN_FUZZ_EXAMPLES=3000``).
"""

from __future__ import annotations

import calendar
import gc
import json
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.spec import deadlines, load_definition, validate_paths
from tests.conftest_helpers import (
    CAMPAIGNS,
    EXAMPLE_TEXT,
    copy_example,
    describe_failure,
    invoke,
    no_traceback,
    replace_once,
)

BUNDLED = sorted(CAMPAIGNS.glob("*.yaml"))
LINES = EXAMPLE_TEXT.splitlines(keepends=True)
NOISE = [":", "-", "[", "]", "{", "}", "&", "*", "!", "#", "|", ">", "?", "%", "@", "`", "'", '"',
         ",", " ", "\t", "\n", "中", "，", "０", "\u3000", "\ufeff"]

DEEP = int(os.environ.get("CAMPAIGN_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=DEEP or 150, deadline=None, derandomize=not DEEP, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SMALL = settings(FUZZ, max_examples=DEEP or 200)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch copy of the example for a whole module; each example overwrites the file."""
    directory = tmp_path_factory.mktemp("fuzz")
    copy_example(directory)
    return directory


# --- strategies -------------------------------------------------------------------------------
@st.composite
def line_damage(draw: st.DrawFn) -> str:
    """The example with 1-4 whole lines deleted, duplicated or swapped."""
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@st.composite
def char_noise(draw: st.DrawFn) -> str:
    """The example with 1-4 characters replaced by punctuation, tabs or CJK, or text inserted."""
    text = EXAMPLE_TEXT
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text) - 1))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(NOISE)) + text[at + 1:]
        else:
            inserted = draw(st.text(st.sampled_from(NOISE) | st.characters(codec="utf-8"),
                                    min_size=1, max_size=12))
            text = text[:at] + inserted + text[at:]
    return text


YAML_TOKENS = ["id: ", "title: ", "kind: ", "registry: ", "bodies:", "phases:", "reports:",
               "due: ", "from: ", "to: ", "window: ", "start: ", "end: ", "- ", "  ", "\n",
               "{", "}", "[", "]", ", ", ": ", "&a ", "*a", "!!str ", "!x ", "? ", "|", ">",
               "---\n", "...\n", "# c\n", "'q'", '"d"', "2017-10-31", "2017-02-31", "2018-13",
               "saic", "x", "~", "null", "true", "1", "-1", ".inf", "中文", "\t"]


# --- checks -----------------------------------------------------------------------------------
def check_api(path: Path) -> set[str]:
    """Validate through the library: it returns, and every diagnostic is located and worded."""
    result = validate_paths([path])
    codes = set()
    for d in result.report.sorted():
        assert d.pos.line >= 1 and d.pos.col >= 1, d
        assert d.severity.value in ("error", "warning")
        for lang in ("zh", "en"):
            assert d.message(lang).strip(), d
            assert d.format(lang).startswith(f"{d.pos}: {d.severity.value}: ")
        codes.add(d.code)
    assert result.ok == (not result.report.errors)
    return codes


def check_cli(path: Path) -> dict:
    """Validate through the command: exit 0 or 1, JSON output, no traceback."""
    result = invoke("validate", str(path), "--format", "json")
    assert no_traceback(result), describe_failure(result)
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    assert result.exit_code == (0 if data["ok"] else 1)
    for d in data["diagnostics"]:
        assert d["line"] >= 1 and d["column"] >= 1, d
        assert d["message"], d
    return data


def check_both(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    codes = check_api(path)
    data = check_cli(path)
    assert {d["code"] for d in data["diagnostics"]} == codes


# --- (a) a valid campaign, damaged ------------------------------------------------------------
@FUZZ
@given(text=line_damage())
def test_never_a_traceback_on_line_deletions_duplications_and_swaps(workdir: Path,
                                                                    text: str) -> None:
    check_both(workdir / "sourcing_2017.yaml", text)


@FUZZ
@given(text=char_noise())
def test_never_a_traceback_on_char_noise_punctuation_tabs_cjk_and_inserted_text(
        workdir: Path, text: str) -> None:
    check_both(workdir / "sourcing_2017.yaml", text)


KEY_LINE = re.compile(r"^(\s*(?:- )?)([a-z_]+):( .*)?$")
KEY_LINES = [i for i, line in enumerate(LINES) if KEY_LINE.match(line.rstrip("\n"))]
EDGE_VALUES = [  # '=' and over-long names are left to test_validate_errors (known bugs there)
    "", "~", "[]", "{}", "[a, b]", "{a: 1}", "0", "-1", "99999999999999999999", "1.5", ".nan",
    "-.inf", "true", "no", "'2017-10-31'", "1899-12-31", "2200-01-01", "2017-02-29", "2017-13",
    "2199-12", "saic", "xpcc_amr", "collected", "Bad-ID", "中文", "*undefined", "!!str 5",
    "{date: 2017-10-31}", "{end_of_month: 2017-10}", "{relative_to: {}, offset_days: 1}",
    "{every: month, day: 31, first: 2199-12, last: 2199-12}",
    "{relative_to: {date: 2199-12-31}, offset_days: 3660}",
    "{relative_to: {report: summary}, offset_days: 1}", "{name: x}", "{registry: nosuch}",
    "{bodies: [saic, saic]}", "{field: mark, op: in, value: [a]}",
]


@st.composite
def edge_values(draw: st.DrawFn) -> str:
    """The example with the values of 1-3 keys swapped for empty, wrong-typed or edge values."""
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.sampled_from(KEY_LINES))
        match = KEY_LINE.match(lines[i].rstrip("\n"))
        assert match
        lines[i] = f"{match.group(1)}{match.group(2)}: {draw(st.sampled_from(EDGE_VALUES))}\n"
    return "".join(lines)


@settings(FUZZ, max_examples=DEEP or 100)
@given(text=edge_values())
def test_never_a_traceback_when_values_are_empty_wrong_typed_or_at_the_edges(
        workdir: Path, text: str) -> None:
    check_both(workdir / "sourcing_2017.yaml", text)


# --- (b) arbitrary files ----------------------------------------------------------------------
@SMALL
@given(content=st.text(max_size=300))
def test_never_a_traceback_on_arbitrary_unicode_text(workdir: Path, content: str) -> None:
    check_both(workdir / "arbitrary.yaml", content)


@SMALL
@given(content=st.binary(max_size=300))
def test_never_a_traceback_on_arbitrary_bytes(workdir: Path, content: bytes) -> None:
    check_both(workdir / "arbitrary.yaml", content)


@SMALL
@given(content=st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join))
def test_never_a_traceback_on_yaml_token_soup(workdir: Path, content: str) -> None:
    check_both(workdir / "arbitrary.yaml", content)


# --- (c) obligations = reporting bodies x deadlines -------------------------------------------
def show_json(path: Path) -> dict:
    result = invoke("show", str(path), "--format", "json")
    assert result.exit_code == 0 and no_traceback(result), describe_failure(result)
    return json.loads(result.stdout)


def check_obligations(path: Path) -> Iterator[tuple[dict, int, int]]:
    """Each report's obligations: one per (reporting body, deadline), and nothing else.

    Yields (report data, number of bodies, number of deadlines) for further checks.
    """
    data = show_json(path)
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    definition = load_definition(path)
    reports = {r.id: r for r in definition.campaign.reports}
    assert [r["id"] for r in data["reports"]] == list(reports)
    for shown in data["reports"]:
        report = reports[shown["id"]]
        bodies = [b.id for b in definition.bodies.select(report.from_)]
        days = [d.due.isoformat() for d in deadlines(definition.campaign, report)]
        assert [d["due"] for d in shown["deadlines"]] == days
        pairs = [(o["body"], o["due"], o["period"]) for o in shown["obligations"]]
        assert len(pairs) == len(set(pairs)) == len(set(bodies)) * len(days), shown["id"]
        assert {b for b, _, _ in pairs} == set(bodies)
        assert {d for _, d, _ in pairs} == set(days)
        yield shown, len(set(bodies)), len(days)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_show_json_round_trips_with_one_obligation_per_body_and_deadline(path: Path) -> None:
    for _ in check_obligations(path):  # work points may have no reports; that is fine
        pass


PROVINCE_IDS = [b["id"] for b in yaml.safe_load(
    (CAMPAIGNS / "bodies" / "provinces.yaml").read_text(encoding="utf-8"))["bodies"]]
SUMMARY_REPORT_FROM_AND_DUE = (
    "    from: {name: 各省级工商、市场监管部门, registry: provinces, level: province, "
    "exclude: xpcc_amr}\n    to: saic\n    due: {end_of_month: 2018-01, wording: 2018年1月底前}\n")


@st.composite
def monthly_report(draw: st.DrawFn) -> tuple[str, int, int, list[date]]:
    """The example's summary report turned into a monthly return from some of the provinces.

    Returns the edited text, the number of reporting bodies and of months, and the due days,
    all worked out here without the engine.
    """
    excluded = draw(st.lists(st.sampled_from(PROVINCE_IDS), unique=True,
                             max_size=len(PROVINCE_IDS) - 1))
    first = draw(st.integers(2017 * 12 + 8, 2018 * 12 + 1))  # months since year 0
    count = draw(st.integers(1, 8))
    day = draw(st.integers(1, 31))
    covers = draw(st.sampled_from(["previous_month", "current_month"]))
    ym = [divmod(first + k, 12) for k in range(count)]
    due_months = [divmod(first + k + (covers == "previous_month"), 12) for k in range(count)]
    dues = [date(y, m + 1, min(day, calendar.monthrange(y, m + 1)[1])) for y, m in due_months]
    exclude = "[" + ", ".join(excluded) + "]"
    text = replace_once(EXAMPLE_TEXT, SUMMARY_REPORT_FROM_AND_DUE, (
        f"    from: {{registry: provinces, exclude: {exclude}}}\n    to: saic\n"
        f"    due: {{every: month, day: {day}, covers: {covers}, "
        f"first: {ym[0][0]:04d}-{ym[0][1] + 1:02d}, last: {ym[-1][0]:04d}-{ym[-1][1] + 1:02d}}}\n"))
    return text, len(PROVINCE_IDS) - len(excluded), count, dues


@settings(FUZZ, max_examples=DEEP or 40)
@given(case=monthly_report())
def test_a_monthly_return_is_owed_by_every_selected_body_for_every_month(
        workdir: Path, case: tuple[str, int, int, list[date]]) -> None:
    text, n_bodies, n_months, dues = case
    path = workdir / "sourcing_2017.yaml"
    path.write_text(text, encoding="utf-8")
    shown = {r["id"]: (r, b, d) for r, b, d in check_obligations(path)}
    report, bodies, months = shown["summary"]
    assert (bodies, months) == (n_bodies, n_months)
    assert len(report["obligations"]) == n_bodies * n_months
    assert [d["due"] for d in report["deadlines"]] == [d.isoformat() for d in dues]
    assert report["recurring"] is True


# --- validation keeps nothing between runs ----------------------------------------------------
def live_yaml_nodes() -> int:
    gc.collect()
    return sum(isinstance(o, yaml.Node) for o in gc.get_objects())


def test_validation_keeps_no_yaml_nodes_alive_between_runs(workdir: Path) -> None:
    """Regression: one module-level yaml.SafeLoader cached every scalar node ever converted
    (and through their marks the whole file text), so memory grew with every validation."""
    path = copy_example(workdir / "leak")
    validate_paths([path])
    before = live_yaml_nodes()
    for _ in range(3):
        validate_paths([path])
    assert live_yaml_nodes() <= before
