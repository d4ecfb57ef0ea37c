"""Project hygiene: ruff-clean code, and no notice text copied into the project."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SEEDS

CHUNK = 40


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff")
    cmd = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    out = subprocess.run([*cmd, "check", "engine", "tests"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the checkout")
def test_no_file_copies_40_characters_of_a_notice() -> None:
    """Cite paragraphs (二、（二）1) instead of copying the notices' sentences."""
    chunks = set()
    for seed in SEEDS.glob("*.txt"):
        for line in seed.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            chunks.update(line[i:i + CHUNK] for i in range(0, max(len(line) - CHUNK, 0), CHUNK))
    offenders = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(ROOT).parts):
            continue
        if path.suffix not in {".py", ".yaml", ".md", ".json", ".j2", ".txt", ".html", ".toml"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        if any(chunk in text for chunk in chunks):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
