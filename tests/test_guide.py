"""The guide for policy staff (docs/writing-campaigns.md) keeps up with the language.

Every property name of both JSON Schemas must appear in the guide in backticks, and every YAML
block the guide marks as a complete file must be valid YAML. A complete file is a fenced block
whose info string is ``yaml campaign`` (a campaign definition) or ``yaml bodies`` (a body
registry); plain ``yaml`` blocks are fragments and are not checked. Complete files must also
pass ``campaign validate`` beside a copy of the bundled registries, so a reader who copies one
gets a working file.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.spec import model
from engine.spec.loader import validate_paths
from engine.spec.schema import json_schema, schema_keys
from tests.conftest import CAMPAIGNS, ROOT

GUIDE = ROOT / "docs" / "writing-campaigns.md"
COMPLETE_KINDS = ("campaign", "bodies")
"""Second word of the info string that marks a block as a complete file of that kind."""

OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    info: tuple[str, ...]
    text: str

    @property
    def complete_kind(self) -> str | None:
        if len(self.info) == 2 and self.info[0] == "yaml" and self.info[1] in COMPLETE_KINDS:
            return self.info[1]
        return None


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown text, with its body de-indented to its fence."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            line = lines[j]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, strip):])
            j += 1
        blocks.append(Block(i + 1, tuple(match["info"].split()), "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def guide_text() -> str:
    assert GUIDE.is_file(), f"{GUIDE.relative_to(ROOT)} is missing"
    return GUIDE.read_text(encoding="utf-8")


def complete_files() -> list[Block]:
    return [b for b in fenced_blocks(guide_text()) if b.complete_kind]


def test_guide_documents_every_key_of_both_schemas() -> None:
    text = guide_text()
    missing = {}
    for name, root in (("campaign", model.Campaign), ("bodies", model.BodyRegistry)):
        keys = schema_keys(json_schema(root))
        absent = sorted(k for k in keys if f"`{k}`" not in text)
        if absent:
            missing[name] = absent
    assert not missing, (
        "docs/writing-campaigns.md does not mention these schema keys in backticks "
        f"(write each as `key` in section 2): {missing}")


def test_guide_marks_complete_files_of_both_kinds() -> None:
    kinds = {b.complete_kind for b in complete_files()}
    assert kinds == set(COMPLETE_KINDS), (
        f"expected complete-file examples (```yaml campaign, ```yaml bodies), found {kinds}")


def test_every_complete_file_in_the_guide_is_valid_yaml() -> None:
    problems = []
    for block in complete_files():
        try:
            data = yaml.safe_load(block.text)
        except yaml.YAMLError as exc:
            problems.append(f"line {block.line}: {exc}")
            continue
        if not isinstance(data, dict):
            problems.append(f"line {block.line}: a complete file must be a mapping, got "
                            f"{type(data).__name__}")
    assert not problems, "invalid YAML in docs/writing-campaigns.md:\n" + "\n".join(problems)


def test_every_complete_file_in_the_guide_passes_validation(tmp_path: Path) -> None:
    problems = []
    for n, block in enumerate(complete_files()):
        data = yaml.safe_load(block.text)
        work = tmp_path / f"block{n}"
        shutil.copytree(CAMPAIGNS / "bodies", work / "bodies")
        if block.complete_kind == "bodies":
            path = work / "bodies" / f"{data['registry']}.yaml"
        else:
            path = work / f"{data['id']}.yaml"
        path.write_text(block.text, encoding="utf-8")
        result = validate_paths([path])
        problems += [f"line {block.line}: {d.format('en')}" for d in result.report.errors]
        if not (result.definitions or result.registries):
            problems.append(f"line {block.line}: nothing was loaded")
    assert not problems, ("complete files in docs/writing-campaigns.md fail validation:\n"
                          + "\n".join(problems))
