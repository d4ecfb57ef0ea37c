"""A body registry edited after `campaign load` is one campaign's failure, not every one's."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine.cli import main


def test_a_registry_edited_after_load_stops_only_the_campaigns_using_it(
        scratch: Path, tmp_path: Path) -> None:
    """saic.tmo renamed in the registry: the campaigns naming it fail with a line saying to
    reload; foreign_investment_2017, which does not use that registry, still writes its
    letters (before, a DefinitionError traceback stopped the whole run)."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    loaded = runner.invoke(main, ["load", *map(str, sorted(scratch.glob("*.yaml"))), "--db", db])
    assert loaded.exit_code == 0, loaded.output
    registry = scratch / "bodies" / "saic_2017.yaml"
    text = registry.read_text(encoding="utf-8")
    assert "  - id: saic.tmo\n" in text
    registry.write_text(text.replace("  - id: saic.tmo\n", "  - id: saic.tmoX\n"),
                        encoding="utf-8")
    result = runner.invoke(main, ["run", "--at", "2017-10-24", "--db", db])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "sourcing_2017：专项“sourcing_2017”载入后，它引用的文件被修改" in result.output
    assert "请修正后重新 campaign load" in result.output
    assert "foreign_investment_2017（2017-10-24，组织实施）：新发文书 43 份" in result.output
