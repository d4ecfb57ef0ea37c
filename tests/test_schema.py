"""The JSON Schema: valid, shipped in sync, and accepting every bundled file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.spec import model
from engine.spec.schema import json_schema
from tests.conftest import BUNDLED, CAMPAIGNS, ROOT

REGISTRIES = sorted((CAMPAIGNS / "bodies").glob("*.yaml"))


def as_json_data(value: Any) -> Any:
    """YAML as an editor's YAML 1.2 reader sees it: dates are strings."""
    if isinstance(value, dict):
        return {k: as_json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json_data(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@pytest.mark.parametrize("kind", ["campaign", "bodies"])
def test_campaign_schema_prints_a_valid_draft_2020_12_schema(kind: str) -> None:
    result = CliRunner().invoke(main, ["schema", "--kind", kind])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["id" if kind == "campaign" else "registry"]["description"]


@pytest.mark.parametrize("kind,root",
                         [("campaign", model.Campaign), ("bodies", model.BodyRegistry)])
def test_shipped_schema_file_matches_the_model(kind: str, root: type) -> None:
    shipped = json.loads((ROOT / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    assert shipped == json_schema(root), f"run: campaign schema --kind {kind} > schema/{kind}..."


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_campaign_file_validates_against_the_schema(path: Path) -> None:
    data = as_json_data(yaml.safe_load(path.read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator(json_schema(model.Campaign)).validate(data)


@pytest.mark.parametrize("path", REGISTRIES, ids=lambda p: p.stem)
def test_every_registry_file_validates_against_the_schema(path: Path) -> None:
    data = as_json_data(yaml.safe_load(path.read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator(json_schema(model.BodyRegistry)).validate(data)


def test_every_key_has_a_chinese_description() -> None:
    schema = json_schema(model.Campaign)
    for name, obj in [("root", schema), *schema["$defs"].items()]:
        for key, prop in obj.get("properties", {}).items():
            assert any("\u4e00" <= ch <= "\u9fff" for ch in prop["description"]), (name, key)


def test_schema_rejects_an_unknown_key_as_an_editor_would() -> None:
    data = as_json_data(yaml.safe_load((CAMPAIGNS / "sourcing_2017.yaml").read_text("utf-8")))
    data["titel"] = "typo"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json_schema(model.Campaign)).validate(data)
