"""Rendering letters from Jinja2 templates in a sandbox.

Templates are written by campaign authors, so they are treated as untrusted: the sandbox
refuses ``__class__``-style reaches into Python, the loader reads only the template files the
campaign names and the project's ``templates/``, and an undefined variable is an error (a
letter with a silent blank where the due date should be is worse than no letter).
"""

from __future__ import annotations

import os
from collections import ChainMap
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.letters.context import template_name
from engine.letters.memo import UNSAID, Memo
from engine.spec.loader import Definition, per_definition

TEMPLATES_ENV = "CAMPAIGN_TEMPLATES"


def default_template_dir() -> Path:
    """The project's ``templates/`` (or ``$CAMPAIGN_TEMPLATES``)."""
    configured = os.environ.get(TEMPLATES_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "templates"


class TemplateProblem(Exception):
    """A template that cannot be used: where it is, and what is wrong, in Chinese."""


class _LetterTemplate(Template):
    """A template whose ``{% from … import %}`` skips a set difference known to be empty.

    Jinja shares an imported module unless the importing context carries template-level
    globals (``ctx.globals_keys``) the module lacks; it works that out per import as
    ``ctx.globals_keys - self.globals.keys()``, a Python-level set operation on a ``ChainMap``
    view, about a microsecond a letter. A letter's context here carries no such keys unless
    its template was loaded with globals of its own (see :func:`_plain_globals`); with none,
    the difference is empty and Jinja's answer is its shared module, given here directly."""

    def _get_default_module(self, ctx: Any = None) -> Any:
        if ctx is not None and not ctx.globals_keys:
            ctx = None  # what Jinja concludes from an empty difference
        return super()._get_default_module(ctx)


class _LetterEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, reading ``record.ref`` from a context mapping by key first.

    A letter's context is plain dicts (see :mod:`engine.letters.context`); Jinja's default
    tries the attribute first and falls back to the key after an ``AttributeError``, which
    cost about half of each render in a national tick (900 letters). Anything that is not a
    plain dict, or a key a dict does not have, goes through the sandbox's checks unchanged.

    Calls go through :class:`~engine.letters.memo.Memo`, which answers a pure shared macro
    from memory while a batch of letters renders."""

    template_class = _LetterTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.memo = Memo()

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """The sandbox's call, or a pure shared macro's remembered text."""
        memo = __self.memo
        if memo.said is None:
            return super().call(__context, __obj, *args, **kwargs)
        autoescape = __context.eval_ctx.autoescape
        if not kwargs and (text := memo.recall(__obj, args, autoescape)) is not UNSAID:
            return text
        if (key := memo.key(__self, __obj, args, kwargs, autoescape)) is None:
            return super().call(__context, __obj, *args, **kwargs)
        if key in memo.said:
            return memo.said[key]
        return memo.remember(key, super().call(__context, __obj, *args, **kwargs), __obj,
                             args, kwargs, autoescape)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class LetterRenderer:
    """One sandboxed environment per campaign; templates are compiled once and cached."""

    def __init__(self, definition: Definition, template_dir: Path | None = None) -> None:
        base = template_dir or default_template_dir()
        own = definition.path.parent
        # Compiled templates are cached and not re-checked on every render (a stat per
        # template and partial, per letter); :meth:`refresh` re-checks them once per tick.
        self.env = _LetterEnvironment(
            loader=FileSystemLoader([str(own), str(base)]), undefined=StrictUndefined,
            autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
            auto_reload=False)
        self.overrides = dict(definition.campaign.templates)
        self._by_kind: dict[str, tuple[Template, dict[str, Any] | None]] = {}

    def refresh(self) -> None:
        """Forget every compiled template if any file behind one was edited since, so a
        long-running daemon picks up a corrected template at its next tick."""
        cache = self.env.cache
        if cache is not None and not all(t.is_up_to_date for t in list(cache.values())):
            cache.clear()
            self._by_kind.clear()
            self.env.memo.forget_macros()

    def batch(self) -> AbstractContextManager[None]:
        """Render a batch of letters whose shared context parts nobody changes meanwhile (a
        day's letters in a tick): pure shared macros are then called once per argument set."""
        return self.env.memo.active()

    def path_for(self, kind: str) -> str:
        name = template_name(kind)
        return self.overrides.get(name, f"letters/{name}.md.j2")  # type: ignore[call-overload]

    def render(self, kind: str, context: dict[str, Any]) -> str:
        try:  # the template's path is worked out once per kind, or for an error message
            known = self._by_kind.get(kind)
            if known is None:
                template = self.env.get_template(self.path_for(kind))
                known = self._by_kind[kind] = (template, _plain_globals(template))
            template, globals_ = known
            if globals_ is None:
                return template.render(context)
            return _render(template, {**globals_, **context})
        except TemplateNotFound:
            raise TemplateProblem(f"找不到文书模板 {self.path_for(kind)}") from None
        except TemplateSyntaxError as exc:
            where = f"{exc.filename or self.path_for(kind)}:{exc.lineno}"
            raise TemplateProblem(f"{where}: 模板语法错误：{exc.message}") from None
        except TemplateError as exc:  # undefined variable, sandbox refusal
            raise TemplateProblem(f"{self.path_for(kind)}: 模板无法生成文书：{exc}") from None
        except Exception as exc:  # arithmetic on a blank, a bad format string…
            # a template is code written by campaign authors: whatever it raises is its fault
            # and one campaign's failure, never a traceback that stops every campaign's run
            where = _template_line(exc, self.path_for(kind))
            raise TemplateProblem(f"{where}: 模板运行出错（{type(exc).__name__}：{exc}）") from exc


def _template_line(exc: BaseException, path: str) -> str:
    """``path:line`` of the innermost template line in ``exc``'s traceback (Jinja rewrites
    the frames of compiled templates to carry template lines), or ``path`` alone."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{path}:{line}" if line else path


def _plain_globals(template: Template) -> dict[str, Any] | None:
    """The template's globals as a plain dict, when they are only the environment's.

    ``Template.render`` merges them into each letter's context from a ``ChainMap`` and hands
    the new ``Context`` their keys, so that every ``{% from … import %}`` then compares two key
    sets to decide whether the imported module may be shared; at a thousand letters that was
    half of each render. Without template-level globals (this renderer never sets any) the
    answer is always "shared", so :func:`_render` builds the same context without the keys.
    A template that does carry its own globals (``None`` here) renders the usual way."""
    globals_ = template.globals
    own = globals_.maps[0] if isinstance(globals_, ChainMap) else globals_
    return None if own else dict(globals_)


def _render(template: Template, parent: dict[str, Any]) -> str:
    """``template.render(parent)`` for a ``parent`` that already holds the globals."""
    env = template.environment
    context = env.context_class(env, parent, template.name, template.blocks)
    try:
        return env.concat(template.root_render_func(context))  # type: ignore[attr-defined]
    except Exception:
        env.handle_exception()


@per_definition
def _kept_renderer(definition: Definition) -> LetterRenderer:
    return LetterRenderer(definition)


def renderer_for(definition: Definition) -> LetterRenderer:
    """The renderer of a definition, kept for the life of the process (compiled templates),
    its templates re-checked against their files once per call, not once per letter."""
    renderer = _kept_renderer(definition)
    renderer.refresh()
    return renderer
