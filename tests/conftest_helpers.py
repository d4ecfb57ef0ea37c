"""Helpers shared by the bad-input and property tests: a scratch copy of a valid campaign, text
edits that keep real line numbers, and running ``campaign validate`` the way a user would.

Kept out of ``tests/conftest.py`` on purpose; import what you need from here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGNS = ROOT / "campaigns"
EXAMPLE = CAMPAIGNS / "sourcing_2017.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")


def copy_example(target_dir: Path, name: str = "sourcing_2017.yaml") -> Path:
    """Copy the worked example and its ``bodies/`` registries into ``target_dir``.

    The relative registry paths (``bodies/provinces.yaml``) keep working in the copy. Returns
    the path the campaign was written to, ``name`` inside ``target_dir``.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    bodies = target_dir / "bodies"
    if not bodies.exists():
        shutil.copytree(CAMPAIGNS / "bodies", bodies)
    path = target_dir / name
    shutil.copyfile(EXAMPLE, path)
    return path


# --- text edits -------------------------------------------------------------------------------
def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced; fails loudly if the example
    changed so that ``old`` no longer occurs exactly once (the edit would silently do nothing)."""
    count = text.count(old)
    assert count == 1, f"expected exactly one {old!r} in the example, found {count}"
    return text.replace(old, new)


def insert_after(text: str, anchor: str, new_lines: str) -> str:
    """Insert ``new_lines`` (whole lines, ending in a newline) after the line holding ``anchor``."""
    count = text.count(anchor)
    assert count == 1, f"expected exactly one {anchor!r} in the example, found {count}"
    end = text.index("\n", text.index(anchor)) + 1
    return text[:end] + new_lines + text[end:]


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` occurrence of ``needle`` in ``text`` (0 is the first)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def line_of_unique(text: str, needle: str) -> int:
    count = text.count(needle)
    assert count == 1, f"expected exactly one {needle!r}, found {count}"
    return line_of(text, needle)


def first_content_line(text: str) -> int:
    """The first line that is neither blank nor a comment (where the root mapping starts)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    raise AssertionError("no content line")


# --- running the command ----------------------------------------------------------------------
@dataclass
class Run:
    """The outcome of ``campaign validate``: text output, parsed JSON output, exit code."""

    text: Result
    json: Result

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.json.stdout)

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        return self.data["diagnostics"]

    def codes(self) -> set[str]:
        return {d["code"] for d in self.diagnostics}

    def at(self, code: str) -> list[dict[str, Any]]:
        return [d for d in self.diagnostics if d["code"] == code]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def validate(path: Path, *extra: str) -> Run:
    """Run ``campaign validate`` twice on ``path``: as text and as ``--format json``."""
    return Run(invoke("validate", str(path), *extra),
               invoke("validate", str(path), "--format", "json", *extra))


def no_traceback(result: Result) -> bool:
    """True when the command ended by its own exit code, not by an escaped exception."""
    return result.exception is None or isinstance(result.exception, SystemExit)


def describe_failure(result: Result) -> str:
    """The output and any escaped exception, for assertion messages."""
    import traceback

    text = result.output
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


@contextmanager
def role_without_temp(pg_url: str) -> Iterator[str]:
    """A login role on ``pg_url``'s database that may read and write the store's tables but
    not create temporary tables (``TEMPORARY`` revoked from ``PUBLIC``, as hardened servers
    do); yields its URL and drops the role after. The schema must exist already."""
    url = make_url(pg_url)
    role = f"no_temp_{url.database}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for grant in (f'CREATE ROLE "{role}" LOGIN',
                          f'REVOKE TEMPORARY ON DATABASE "{url.database}" FROM PUBLIC',
                          f'GRANT USAGE ON SCHEMA public TO "{role}"',
                          "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public"
                          f' TO "{role}"',
                          f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"'):
                conn.exec_driver_sql(grant)
        yield url.set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()
