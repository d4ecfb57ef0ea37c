"""Test-only launcher: the ``campaign`` CLI, imported once, run in a fresh forked process per
command, optionally SIGKILLed by itself at its N-th step.

Why a launcher and not ``subprocess.run(["campaign", ...])`` per command: starting the CLI costs
about a second of imports, and the crash and multi-runner tests need hundreds of runs. This
process imports the engine once and then forks one child per command line, so every run is
still a separate OS process with its own database connections (a crash, a lock, a SIGKILL are
all real), at the cost of a fork.

A *step* is anything after which a crash could leave a different state behind: every SQL
statement sent to the database (``before_cursor_execute``), every ``COMMIT``, and every
``os.replace`` (a letter file becoming visible in the outbox). With ``kill_at=N`` the child sends
itself SIGKILL just before its N-th step, so a test can walk N over every step of a tick
deterministically instead of guessing with timers.

Protocol (one JSON object per line): the parent writes
``{"argv": [...], "kill_at": N|null, "env": {...}}`` to stdin and reads back
``{"rc": int|null, "signal": int|null, "steps": int, "output": str}`` from stdout; ``rc`` is
the CLI's exit code and ``signal`` the signal that ended the child, ``steps`` how many steps it
reached. The launcher itself never opens a database, so forking it is safe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repo's engine package
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402, F401  - pre-imported so that the children do not pay for it
from sqlalchemy import event  # noqa: E402
from sqlalchemy.dialects import postgresql, sqlite  # noqa: E402, F401
from sqlalchemy.engine import Engine  # noqa: E402

import engine.letters.delivery  # noqa: E402
import engine.runtime.tick  # noqa: E402, F401
from engine.cli import main  # noqa: E402

LAUNCHER = Path(__file__).resolve()


def _child(argv: list[str], kill_at: int | None, env: dict[str, str], out_fd: int,
           steps_fd: int) -> None:
    """Run one command line in this (forked) process; never returns."""
    code = 98
    count = 0
    try:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.environ.update(env)

        def step(*_args: Any, **_kwargs: Any) -> None:
            nonlocal count
            count += 1
            if kill_at is not None and count >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        event.listen(Engine, "before_cursor_execute", step)
        event.listen(Engine, "commit", step)
        real_replace = os.replace

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            step()
            real_replace(src, dst, **kwargs)

        os.replace = replace  # type: ignore[assignment]
        try:
            main.main(args=argv, prog_name="campaign", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # a traceback is a finding: report it, do not hide it
            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os.write(steps_fd, str(count).encode())
        os._exit(code)


def run_one(argv: list[str], kill_at: int | None = None,
            env: dict[str, str] | None = None) -> dict[str, Any]:
    """Fork, run ``campaign ARGV`` in the child, wait; what happened as a dict."""
    read_steps, write_steps = os.pipe()
    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_steps)
            _child(argv, kill_at, env or {}, out.fileno(), write_steps)
        os.close(write_steps)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_steps, "rb") as fh:
            raw = fh.read()
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    killed = os.WIFSIGNALED(status)
    return {"rc": None if killed else os.WEXITSTATUS(status),
            "signal": os.WTERMSIG(status) if killed else None,
            "steps": int(raw) if raw else kill_at or 0, "output": output}


def serve() -> None:
    """Answer one request line with one result line until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        result = run_one(req["argv"], req.get("kill_at"), req.get("env"))
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        sys.stdout.flush()


class Launcher:
    """The test side: one launcher process, commands sent and answers read one at a time
    (or several launchers driven in lock step, for concurrent runners)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        import subprocess

        self.proc = subprocess.Popen([sys.executable, str(LAUNCHER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8",
                                     env={**os.environ, **(env or {})}, cwd=str(ROOT))

    def send(self, argv: list[str], kill_at: int | None = None,
             env: dict[str, str] | None = None) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "kill_at": kill_at, "env": env or {}},
                                         ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the launcher died (exit {self.proc.wait()})")
        return json.loads(line)

    def run(self, argv: list[str], kill_at: int | None = None,
            env: dict[str, str] | None = None) -> dict[str, Any]:
        self.send(argv, kill_at, env)
        return self.receive()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve()
