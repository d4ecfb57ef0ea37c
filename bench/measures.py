"""The engine measured: its tick, simulation, validation and memory, each on real code paths.

Every tick measurement runs on a fresh copy of the generated database (copying is not timed),
because a tick writes its letters and a second tick on the same file would find nothing due.
The definition is parsed once before timing: a daemon's tick reuses it (``definitions._loaded``);
the cold ``campaign run`` process is measured separately in ``tick_process``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.generate import CAMPAIGN, ROOT, TICK_AT, TICK_DAY, Scenario
from bench.timing import Timing, fresh_copy, repeat

if TYPE_CHECKING:
    from engine.store.db import Store

PYTHON = sys.executable


class PlainLetters:
    """A stand-in renderer writing a one-line text like the floor's (diagnostic only: it
    shows how much of the tick is rendering the real letters through their templates)."""

    def render(self, kind: str, context: dict[str, Any]) -> str:
        return f"# {kind}\n\n{context['recipient']}：{context.get('due')}"

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()


def tick_time(scenario: Scenario, runs: int = 3, *, profile: Path | None = None,
              plain_letters: bool = False) -> Timing:
    """The SQLite tick, timed by :func:`warm_ticks`, each run on a fresh copy of the database
    under the same path. ``profile``: write the first timed run's cProfile there;
    ``plain_letters``: one-line letters instead of the templates (the diagnostic row)."""
    from engine.runtime import tick as tick_module
    from engine.store.db import connect

    real_renderer = tick_module.renderer_for
    db = fresh_copy(scenario.db_path, "tick")

    @contextmanager
    def around(i: int) -> Iterator[None]:
        prof = None
        if profile is not None and i == 0:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        if plain_letters:
            tick_module.renderer_for = lambda _definition: PlainLetters()  # type: ignore
        try:
            yield
        finally:
            tick_module.renderer_for = real_renderer
            if prof is not None:
                prof.disable()
                prof.dump_stats(str(profile))

    return warm_ticks(connect(f"sqlite:///{db}"), scenario, runs,
                      lambda: fresh_copy(scenario.db_path, "tick"), around)


def warm_ticks(store: Store, scenario: Scenario, runs: int, restore: Callable[[], object],
               around: Callable[[int], AbstractContextManager[None]] | None = None) -> Timing:
    """``tick(store, campaign, at)`` as a daemon's next tick runs it: one engine and one parsed
    definition for every run, the statements compiled by an earlier (untimed) tick. Before
    each run the engine's pool is emptied and ``restore`` puts the untouched data back, so
    nothing read by one run is still held for the next; ``around(i)`` wraps timed run ``i``."""
    from engine.runtime.tick import tick
    from engine.store import definitions as defs

    expected = sum(scenario.due.values()) - scenario.due["decided cases (fire close)"]

    def once(i: int) -> float:
        store.engine.dispose()
        restore()
        with store.engine.connect() as conn:  # the pool holds a connection, as a daemon's does
            conn.exec_driver_sql("SELECT 1")
        defs.latest(store, CAMPAIGN)  # the definition parsed outside the clock
        with around(i) if around is not None else nullcontext():
            start = time.perf_counter()
            summary = tick(store, CAMPAIGN, TICK_AT)
            elapsed = time.perf_counter() - start
        if summary.sent != expected:
            raise AssertionError(f"tick sent {summary.sent} letters, expected {expected}")
        return elapsed

    try:
        once(-1)  # the earlier tick: compiles the statements
        return repeat(once, runs)
    finally:
        store.engine.dispose()


def tick_process(scenario: Scenario) -> float:
    """Wall time of a cold ``campaign run --at`` process on a fresh copy (YAML parse included)."""
    db = fresh_copy(scenario.db_path, "cold")
    start = time.perf_counter()
    subprocess.run([PYTHON, "-m", "engine.cli", "run", "--at", TICK_DAY.isoformat(),
                    "--campaign", CAMPAIGN, "--db", f"sqlite:///{db}"], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def simulate_time(name: str) -> tuple[float, int]:
    """``simulate`` over the campaign's whole period (definition parsed outside the clock)."""
    from engine.runtime.simulate import simulate
    from engine.spec.loader import load_definition

    definition = load_definition(ROOT / "campaigns" / f"{name}.yaml")
    period = definition.campaign.period
    assert period is not None
    start = time.perf_counter()
    letters = list(simulate(definition, period.start, period.end))
    return time.perf_counter() - start, len(letters)


def validate_time(runs: int = 3) -> Timing:
    """``campaign validate campaigns/*.yaml`` from process start (the console script)."""
    files = sorted(str(p) for p in (ROOT / "campaigns").glob("*.yaml"))
    exe = shutil.which("campaign") or PYTHON

    def once(_: int) -> float:
        args = [exe, "validate", *files] if exe != PYTHON else [
            PYTHON, "-m", "engine.cli", "validate", *files]
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
        elapsed = time.perf_counter() - start
        if done.returncode:  # say why (a stale console script, a broken campaign), not just that
            raise RuntimeError(f"{' '.join(args[:2])} … failed ({done.returncode}):\n"
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        return elapsed

    return repeat(once, runs)


def peak_rss_kb(*worker_args: str) -> int:
    """Peak RSS of ``python -m bench.worker ARGS``, measured by a fresh parent process through
    ``getrusage(RUSAGE_CHILDREN)`` (a fresh parent, because the figure is a maximum over every
    child a process has waited for)."""
    out = subprocess.run([PYTHON, "-m", "bench.worker", "rss", *worker_args], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1])
