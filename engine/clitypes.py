"""Command-line parameter types shared by every command: hostile input is a usage error.

click's own types let two things through as tracebacks: a NUL byte in a path (the OS call
raises ValueError) and a number past 64 bits (the database driver raises OverflowError).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

MAX_ID = 2**63 - 1
SHANGHAI = ZoneInfo("Asia/Shanghai")


class SafePath(click.Path):
    """``click.Path`` that refuses a NUL byte as a usage error (exit 2)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("路径中不能含有空字符（NUL）", param, ctx)
        return super().convert(value, param, ctx)


RECORD_ID = click.IntRange(min=1, max=MAX_ID)
"""A row id: positive and within what the databases store."""


def at_moment(value: datetime | None) -> datetime:
    """``--at`` is read in Asia/Shanghai unless it carries its own offset; default now."""
    if value is None:
        return datetime.now(SHANGHAI)
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
