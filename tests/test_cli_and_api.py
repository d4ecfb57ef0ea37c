"""The command line and the public API surface."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import engine.spec
from engine.cli import main
from engine.spec.diagnostics import MESSAGES, Report
from tests.conftest import CAMPAIGNS, ROOT

SOURCING = str(CAMPAIGNS / "sourcing_2017.yaml")


def test_public_api_is_pinned() -> None:
    assert engine.spec.__all__ == [
        "BodyIndex", "Campaign", "Deadline", "Definition", "DefinitionError", "Diagnostic", "Pos",
        "Severity", "Validation", "deadlines", "effective_reminders", "json_schema",
        "load_definition", "validate_paths",
    ]
    for name in engine.spec.__all__:
        assert hasattr(engine.spec, name)


def test_validate_json_reports_ok_and_counts() -> None:
    result = CliRunner().invoke(main, ["validate", SOURCING, "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["ok"] is True and data["errors"] == 0 and data["files"] == 1


def test_validate_summary_in_english() -> None:
    result = CliRunner().invoke(main, ["validate", SOURCING, "--lang", "en"])
    assert result.exit_code == 0
    assert "valid: 1 file(s), 0 error(s)" in result.output


def test_validate_of_a_missing_file_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert re.search(r"nope\.yaml:1:1: error: ", result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_option_is_a_usage_error_with_exit_2() -> None:
    assert CliRunner().invoke(main, ["validate", "--bogus", SOURCING]).exit_code == 2


def test_graph_draws_the_lead_lifecycle_in_mermaid_and_dot() -> None:
    mermaid = CliRunner().invoke(main, ["graph", SOURCING, "--lifecycle", "lead"])
    assert mermaid.exit_code == 0
    assert mermaid.output.startswith("stateDiagram-v2")
    assert "[*] --> collected" in mermaid.output and "省级汇总" in mermaid.output
    dot = CliRunner().invoke(main, ["graph", SOURCING, "--lifecycle", "case", "--format", "dot"])
    assert dot.exit_code == 0 and dot.output.startswith('digraph "case"')


def test_graph_of_a_missing_lifecycle_says_so() -> None:
    path = str(CAMPAIGNS / "national_2017.yaml")
    result = CliRunner().invoke(main, ["graph", path, "--lifecycle", "lead"])
    assert result.exit_code == 1


def test_console_script_is_installed_and_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert "campaign" in out.stdout


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    for code, (zh, en) in MESSAGES.items():
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), code


def test_every_diagnostic_code_used_in_the_code_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in (ROOT / "engine").rglob("*.py"):
        pattern = r'(?:error|warning)\([^,]+,\s*"([a-z]+-[a-z-]+)"'
        used |= set(re.findall(pattern, path.read_text("utf-8")))
    assert used, "the pattern found no diagnostic calls"
    assert used <= set(MESSAGES), used - set(MESSAGES)


def test_unknown_diagnostic_code_is_a_programming_error() -> None:
    try:
        Report().error(engine.spec.Pos("f"), "no-such-code")
    except KeyError:
        return
    raise AssertionError("an unknown code must not pass silently")
