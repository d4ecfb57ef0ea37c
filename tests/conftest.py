"""Shared fixtures: where the bundled campaigns live, and a scratch copy of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["tests.backends"]

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNS = ROOT / "campaigns"
SEEDS = ROOT.parent / "shared" / "seeds"
BUNDLED = sorted(CAMPAIGNS.glob("*.yaml"))


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A writable copy of campaigns/ (with its registries), so a test can break a file."""
    target = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, target)
    return target
