"""The timeline chart: every dated phase a bar, every deadline a mark, labels escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from engine.cli import main
from engine.reports.timeline import timeline_items, timeline_svg
from engine.spec.loader import load_definition
from tests.conftest import CAMPAIGNS
from tests.conftest_helpers import copy_example, replace_once

SVG = "{http://www.w3.org/2000/svg}"


def test_sourcing_2017_chart_has_its_phases_and_both_deadlines(tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    result = CliRunner().invoke(main, ["report", "timeline", "--file",
                                       str(CAMPAIGNS / "sourcing_2017.yaml"), "--output",
                                       str(out)])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    bars, marks = timeline_items(load_definition(CAMPAIGNS / "sourcing_2017.yaml"))
    assert len(list(root.iter(f"{SVG}rect"))) == 1 + len(bars)  # the background, then bars
    assert {"动员部署", "组织实施", "专项行动总结"} <= set(texts)
    assert "10月31日" in texts and "1月31日" in texts and len(marks) == 2


def test_foreign_investment_2017_chart_marks_each_monthly_return() -> None:
    definition = load_definition(CAMPAIGNS / "foreign_investment_2017.yaml")
    root = ET.fromstring(timeline_svg(definition))
    tips = [t.text for p in root.iter(f"{SVG}path") for t in p.iter(f"{SVG}title")]
    assert sum("10月15日截止" in t or "11月15日截止" in t or "12月15日截止" in t
               for t in tips) == 3


def test_a_title_with_markup_stays_text(tmp_path: Path) -> None:
    path = copy_example(tmp_path)
    path.write_text(replace_once(path.read_text(encoding="utf-8"), "title: 专项行动总结",
                                 "title: 专项行动总结<script>alert(1)</script>"),
                    encoding="utf-8")
    svg = timeline_svg(load_definition(path))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed XML
