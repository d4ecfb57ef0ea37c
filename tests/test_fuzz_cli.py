"""Hostile command lines: every ``campaign`` command answers random arguments with a clear
error (exit 1 or 2) or does its job (exit 0), never with a traceback or a hang (issue 7, item 3).

Input classes, one test each: random argv for the definition commands (validate, show, graph,
schema, simulate, diff), for the record commands (lead and case add, list, show, move, export,
forward, feedback), for the runtime commands (run, submit, letters list/show/render/send/resend,
report …, db status, doctor). Each argv is the command path followed by a random mix of that
command's own option names (taken from click, so new options are fuzzed too) and hostile values:
impossible dates, huge and negative numbers, empty strings, NUL bytes, path traversal, formulas,
directories where files are expected, random Unicode. Commands run against a real SQLite store
holding a loaded campaign, inside a scratch working directory.

Left out on purpose: ``daemon`` (it runs until stopped), the SMTP options (a random host name
would wait on DNS), and the docx/pdf formats (they start LibreOffice; their own tests cover them).
Derandomised, a fixed number of examples, the count printed; each example under a time limit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import strategies as st

from engine.cli import main
from tests.conftest import CAMPAIGNS
from tests.test_fuzz_intake import run_fuzz

SKIP_COMMANDS = {("daemon",), ("db", "upgrade")}
SKIP_OPTIONS = {"--smtp-host", "--smtp-port", "--smtp-from", "--smtp-user", "--starttls",
                "--channel"}
VALUES = ["2017-10-24", "2017-02-30", "2017-13-01", "1999-01-01", "9999-12-31", "2017-10-24T25:00",
          "sourcing_2017", "foreign_investment_2017", "zhejiang_amr", "saic.tmo", "../../etc",
          "1", "0", "-1", "99999999999999999999", "1e309", "nan", "", " ", "--", "-", "json",
          "table", "text", "md", "mermaid", "lead", "case", "consolidate", "collected", "planned",
          "cross_province_leads", "2017-10", "线索编号=JS-1", "权利人=某公司", "=1+1",
          "+cmd|' /C calc'!A0", "a\x00b", "x" * 5000, "中文", "\ufeff", "out/x.xlsx", ".", "/",
          str(CAMPAIGNS / "sourcing_2017.yaml"), str(CAMPAIGNS / "bodies"),
          str(CAMPAIGNS / "bodies" / "provinces.yaml"), "missing.yaml", "leads.csv"]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the main group loads its commands lazily
        command = group.get_command(ctx, name)
        assert command is not None
        path = (*prefix, name)
        if path in SKIP_COMMANDS:
            continue
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path, command


ALL = dict(commands(main))
DEFINITION = [p for p in ALL if p[0] in {"validate", "show", "graph", "schema", "simulate",
                                         "diff"}]
RECORDS = [p for p in ALL if p[0] in {"lead", "case", "load"} and p[1:] != ("import",)]
RUNTIME = [p for p in ALL if p not in DEFINITION and p not in RECORDS
           and p[-1] != "import"]


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option)
            and not SKIP_OPTIONS.intersection(p.opts)]


SLOW_CHOICES = {"docx", "pdf", "smtp"}


def value_for(param: click.Parameter) -> st.SearchStrategy[str]:
    """Mostly hostile values; for a choice, often a valid one, so the command gets past click
    and the hostile values of the other options reach the command itself."""
    hostile = st.one_of(st.sampled_from(VALUES), TEXT)
    if isinstance(param.type, click.Choice):
        valid = [str(c) for c in param.type.choices if str(c) not in SLOW_CHOICES]
        return st.one_of(st.sampled_from(valid), hostile) if valid else hostile
    return hostile


@st.composite
def argv_for(draw: st.DrawFn, paths: list[tuple[str, ...]]) -> list[str]:
    """The command path, a value for each argument, every required option and some others
    (each with a value), in random order, sometimes with stray tokens mixed in."""
    path = draw(st.sampled_from(paths))
    command = ALL[path]
    words: list[list[str]] = []
    for param in options(command):
        if param.required or draw(st.booleans()):
            name = draw(st.sampled_from(param.opts))
            words.append([name] if param.is_flag else [name, draw(value_for(param))])
    words = draw(st.permutations(words)) if words else []
    args = [draw(value_for(p)) for p in command.params if isinstance(p, click.Argument)]
    flat = [*args, *(w for pair in words for w in pair)]
    for _ in range(draw(st.integers(0, 2))):  # stray option names and values
        stray = st.one_of(st.sampled_from([o for p in options(command) for o in p.opts]
                                          or ["--help"]), st.sampled_from(VALUES))
        flat.insert(draw(st.integers(0, len(flat))), draw(stray))
    return [*path, *flat]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-fuzz') / 'campaign.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db",
                                url]).exit_code == 0
    assert runner.invoke(main, ["run", "--at", "2017-11-20", "--db", url]).exit_code == 0
    return url


def fuzz_commands(name: str, paths: list[tuple[str, ...]], store_url: str, workdir: Path,
                  examples: int) -> int:
    runner = CliRunner(env={"CAMPAIGN_DB": store_url})

    def check(argv: list[str]) -> None:
        result = runner.invoke(main, argv)
        shown = [a[:60] for a in argv]
        assert result.exit_code in (0, 1, 2), (shown, result.exit_code, result.output[-500:])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            shown, repr(result.exception))
        assert "Traceback" not in result.output, shown

    before = Path.cwd()
    os.chdir(workdir)  # relative output paths land in the scratch directory
    try:
        return run_fuzz(name, argv_for(paths), check, examples)
    finally:
        os.chdir(before)


def test_definition_commands_validate_show_graph_schema_simulate_diff_random_argv(
        store_url: str, tmp_path: Path) -> None:
    assert fuzz_commands("cli definition commands", DEFINITION, store_url, tmp_path, 150) > 0


def test_record_commands_lead_case_add_list_show_move_export_forward_feedback_random_argv(
        store_url: str, tmp_path: Path) -> None:
    assert fuzz_commands("cli record commands", RECORDS, store_url, tmp_path, 250) > 0


def test_runtime_commands_run_submit_letters_report_db_doctor_random_argv(
        store_url: str, tmp_path: Path) -> None:
    assert fuzz_commands("cli runtime commands", RUNTIME, store_url, tmp_path, 250) > 0


# --- crashes the fuzzing found, now fixed (engine/clitypes.py, lead|case export) -----------
def crash(argv: list[str], store_url: str) -> BaseException | None:
    result = CliRunner(env={"CAMPAIGN_DB": store_url}).invoke(main, argv)
    return None if isinstance(result.exception, SystemExit) else result.exception


def test_regression_nul_byte_in_a_path_argument_is_a_usage_error(store_url: str) -> None:
    assert crash(["graph", "a\x00b", "--lifecycle", "lead"], store_url) is None


def test_regression_export_to_a_directory_is_a_clear_error(store_url: str,
                                                            tmp_path: Path) -> None:
    assert crash(["lead", "export", str(tmp_path)], store_url) is None


def test_regression_record_id_beyond_64_bits_is_not_found(store_url: str) -> None:
    assert crash(["lead", "show", "99999999999999999999"], store_url) is None
