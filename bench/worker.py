"""Subprocess entry points for the memory figures.

``python -m bench.worker rss KIND ARGS`` starts ``python -m bench.worker KIND ARGS`` and prints
its peak RSS in KB (``ru_maxrss`` of ``RUSAGE_CHILDREN`` on Linux): the worker is a process of
its own so the figure is what a cron ``campaign run`` or an import would use, not the runner's.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bench.generate import CAMPAIGN


def tick_worker(db: str) -> None:
    """A tick worker: the whole ``campaign run`` for the benchmark campaign."""
    from bench.generate import TICK_AT
    from engine.runtime.tick import tick
    from engine.store.db import connect

    store = connect(f"sqlite:///{db}")
    summary = tick(store, CAMPAIGN, TICK_AT)
    print(summary.sent, summary.fired)


def import_worker(csv_path: str, url: str) -> None:
    """A streaming import of a whole file through ``campaign lead import``."""
    from engine.cli import main

    try:
        main.main(["lead", "import", csv_path, "--campaign", "sourcing_2017", "--actor", "bench",
                   "--db", url], standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise


def main(argv: list[str]) -> None:
    if argv[0] == "rss":
        subprocess.run([sys.executable, "-m", "bench.worker", *argv[1:]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd=Path(__file__).resolve().parent.parent)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    elif argv[0] == "tick":
        tick_worker(argv[1])
    elif argv[0] == "import":
        import_worker(argv[1], argv[2])
    else:
        raise SystemExit(f"unknown worker {argv[0]!r} at {datetime.now():%H:%M}")


if __name__ == "__main__":
    main(sys.argv[1:])
