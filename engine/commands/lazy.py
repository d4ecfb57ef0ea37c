"""A click group whose subcommands are imported when first named, each from its own module.

Start-up is most of a short command's time: ``campaign validate`` needs no database, and
``campaign lead import`` needs no scheduler or letter templates. ``--help`` lists them all
(and so imports them all).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """``lazy`` maps a subcommand's name to (module, attribute) of its click command."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]] = {},
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def _load(self, name: str) -> None:
        if name in self.commands or name not in self.lazy:
            return
        module, attribute = self.lazy[name]
        self.add_command(getattr(importlib.import_module(module), attribute), name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in self.lazy:
            self._load(name)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(cmd_name)
        return super().get_command(ctx, cmd_name)
