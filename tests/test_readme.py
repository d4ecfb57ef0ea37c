"""The README's first screen stays true: its main-job command runs on a fresh directory."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def main_job() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head, _, _ = text.partition("**Run every test**")
    blocks = re.findall(r"```sh\n(.+?)\n```", head, flags=re.S)
    assert len(blocks) == 1, "the first screen should hold exactly one main-job command"
    return blocks[0].strip()


def test_the_readme_main_job_loads_the_bundled_campaigns_and_runs_the_tick(
        tmp_path: Path) -> None:
    command = main_job()
    steps = [shlex.split(step) for step in command.split(" && ")]
    assert steps[0][:4] == ["python3", "-m", "pip", "install"]  # installing is CI's own step
    work = tmp_path / "fresh"
    shutil.copytree(ROOT / "campaigns", work / "campaigns")
    env = {k: v for k, v in os.environ.items() if k != "CAMPAIGN_DB"}  # the embedded default
    script = Path(sys.executable).with_name("campaign")
    outputs = []
    for step in steps[1:]:
        assert step[0] == "campaign"
        args = [a for arg in step[1:] for a in (sorted(str(p.relative_to(work)) for p in
                                                       work.glob(arg)) if "*" in arg else [arg])]
        done = subprocess.run([str(script), *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        outputs.append(done.stdout)
    assert (work / "campaign.db").is_file()
    summary = outputs[-1]
    # 7 days before 31 October, in the implementation phase
    assert "sourcing_2017（2017-10-24，组织实施）：新发文书 31 份" in summary
    lines = summary.strip().splitlines()
    bundled = len(list((work / "campaigns").glob("*.yaml")))
    assert len(lines) == bundled + 1  # a summary line per bundled campaign, then the delivery
    delivered = int(lines[-1].split("已投递 ")[1].split(" 份")[0])
    letters = list((work / "outbox").rglob("*.md"))
    assert delivered == len(letters) > 31
    assert len(list((work / "outbox" / "sourcing_2017" / "2017-10-24").glob("*.md"))) == 31
