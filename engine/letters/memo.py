"""Which shared macros may be remembered, and what they said, while a day's letters render.

Every letter of a national tick calls the same ``foot(contacts, sender, date_written)`` of
``letters/_parts.md.j2`` with the same contact list, sender and date: 900 letters rebuilt the
same contact block 900 times, about a third of rendering. A macro's text may be reused when
it cannot say anything but a function of its arguments, and this module decides that from the
macro's source, conservatively:

- it is defined in a template imported *without* context (``{% from … import %}``), whose
  module Jinja builds once and shares; a macro of the letter's own template can read the
  letter's variables, so it is never remembered;
- its body reads only its parameters and names it sets itself (no module-level ``set``, no
  ``caller``/``varargs``/``kwargs``, no global such as ``cycler``, ``joiner`` or ``lipsum``),
  and none of the names it sets is also a module-level name or a global (a read before the
  ``set`` would see that outer value);
- it calls nothing but other such macros of its module and ``range``/``dict``; every filter
  and test it uses is Jinja's own, and not ``random``;
- it has no ``include``, ``import``, ``call`` block, ``do`` or namespace assignment.

Arguments are compared by value when they are strings, numbers, dates or ``None``, and by
identity otherwise; the remembered arguments are kept alive, so an identity is never reused.
That is sound only while nobody changes those objects, so remembering is confined to
:meth:`Memo.active` blocks, around one day's letters whose shared parts nobody mutates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.runtime import Macro

_BY_VALUE = frozenset({str, int, float, bool, date, datetime, type(None)})
_CALL_EXTRAS = ("_loop_vars", "_block_vars")  # Jinja's own, not the macro's
_PURE_GLOBALS = frozenset({"range", "dict"})
_NAMED_CALLEES = frozenset({"map", "select", "reject", "selectattr", "rejectattr"})
_IMPURE_FILTERS = frozenset({"random"})
_ALLOWED = (
    nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.If, nodes.CondExpr, nodes.For, nodes.Assign, nodes.Compare,
    nodes.Operand, nodes.BinExpr, nodes.UnaryExpr, nodes.Concat, nodes.Tuple, nodes.List,
    nodes.Dict, nodes.Pair, nodes.Keyword, nodes.Filter, nodes.Test, nodes.Call,
    nodes.MarkSafe, nodes.MarkSafeIfAutoescape, nodes.Scope, nodes.ScopedEvalContextModifier,
    nodes.EvalContextModifier,
)


def pure_macros(env: Environment, source: str) -> frozenset[str]:
    """The names of the top-level macros of ``source`` whose output depends on their
    arguments alone (see the module docstring for the rules)."""
    tree = env.parse(source)
    macros = {m.name: m for m in tree.body if isinstance(m, nodes.Macro)}
    variables = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "store"
                 and not _inside_macro(tree, n)}
    for imp in tree.find_all((nodes.Import, nodes.FromImport)):
        variables |= ({imp.target} if isinstance(imp, nodes.Import)
                      else {n if isinstance(n, str) else n[1] for n in imp.names})
    pure = set(macros) - variables
    changed = True
    while changed:  # drop macros that are impure, or call one that is, until nothing changes
        changed = False
        for name in sorted(pure):
            if not _is_pure(env, macros[name], pure, variables):
                pure.discard(name)
                changed = True
    return frozenset(pure)


def _inside_macro(tree: nodes.Template, target: nodes.Node) -> bool:
    return any(target is n for m in tree.find_all(nodes.Macro) for n in m.find_all(nodes.Name))


def _is_pure(env: Environment, macro: nodes.Macro, pure: set[str], variables: set[str]) -> bool:
    """``macro`` under the rules above, its siblings in ``pure`` taken to be pure; the
    module's own variables (``set`` at top level, imported) are ``variables``."""
    params = {a.name for a in macro.args}
    own = {n.name for n in macro.find_all(nodes.Name) if n.ctx == "store"}
    if own & (variables | pure | set(env.globals)):
        return False
    readable = params | own | {"loop"} | pure | (_PURE_GLOBALS - variables)
    for node in _walk([*macro.defaults, *macro.body]):
        if not isinstance(node, _ALLOWED):
            return False
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in readable:
            return False
        if isinstance(node, nodes.Assign) and not isinstance(node.target, (nodes.Name,
                                                                           nodes.Tuple)):
            return False  # {% set ns.attr = … %}
        if isinstance(node, nodes.Call) and not _pure_callee(node, pure, params | own):
            return False
        if isinstance(node, nodes.Filter) and not _jinja_own(env.filters, DEFAULT_FILTERS,
                                                             node.name, _IMPURE_FILTERS):
            return False
        if isinstance(node, nodes.Filter) and node.name in _NAMED_CALLEES and any(
                isinstance(a, nodes.Const) and a.value in _IMPURE_FILTERS for a in node.args):
            return False
        if isinstance(node, nodes.Test) and not _jinja_own(env.tests, DEFAULT_TESTS,
                                                           node.name, frozenset()):
            return False
    return True


def _walk(body: list[nodes.Node]) -> Iterator[nodes.Node]:
    for top in body:
        yield top
        yield from top.find_all(nodes.Node)


def _pure_callee(call: nodes.Call, pure: set[str], local: set[str]) -> bool:
    """A call of a sibling macro still thought pure, or of ``range``/``dict``; never a
    method (``loop.cycle``, a cycler's ``next``) and never a name the macro binds itself."""
    callee = call.node
    if not isinstance(callee, nodes.Name) or callee.name in local:
        return False
    return callee.name in pure or callee.name in _PURE_GLOBALS


def _jinja_own(table: dict[str, Any], defaults: dict[str, Any], name: str,
               impure: frozenset[str]) -> bool:
    return name not in impure and name in defaults and table.get(name) is defaults[name]


class Memo:
    """The remembered output of pure shared macros, while :meth:`active`."""

    def __init__(self) -> None:
        self._pure: dict[int, tuple[Macro, bool]] = {}
        self._said: dict[tuple[object, ...], Any] | None = None
        self._kept: list[Any] = []

    def forget_macros(self) -> None:
        """The templates were reloaded: their macros are new objects."""
        self._pure.clear()

    @contextmanager
    def active(self) -> Iterator[None]:
        self._said, self._kept = {}, []
        try:
            yield
        finally:
            self._said, self._kept = None, []

    @property
    def said(self) -> dict[tuple[object, ...], Any] | None:
        """What was said so far in the active block (None outside one)."""
        return self._said

    def key(self, env: Environment, macro: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> tuple[object, ...] | None:
        """The memory's key of this call, or None if it must really be made.

        Each argument's type is part of the key, so ``1``, ``1.0`` and ``True`` (equal, but
        rendered differently) differ, and so does an id from a value that happens to equal it."""
        if type(macro) is not Macro:
            return None
        known = self._pure.get(id(macro))  # holds the macro: its id is not reused meanwhile
        if known is None:
            known = self._pure[id(macro)] = (macro, _shared_and_pure(env, macro))
        if not known[1]:
            return None
        values = args
        if kwargs:
            named = sorted((k, v) for k, v in kwargs.items() if k not in _CALL_EXTRAS)
            values = (*args, *(k for k, _ in named), *(v for _, v in named))
        return (id(macro), len(args), *map(type, values),
                *[v if type(v) in _BY_VALUE else id(v) for v in values])

    def remember(self, key: tuple[object, ...], text: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
        assert self._said is not None
        self._said[key] = text
        self._kept.append((args, kwargs))  # their ids stay theirs while remembered
        return text


def _shared_and_pure(env: Environment, macro: Macro) -> bool:
    """Whether ``macro`` belongs to a module shared by every importer, and is pure there."""
    for template in list((env.cache or {}).values()):
        module = getattr(template, "_module", None)
        if module is None or getattr(module, macro.name, None) is not macro:
            continue
        if env.loader is None or template.name is None:
            return False
        source, _, _ = env.loader.get_source(env, template.name)
        return macro.name in pure_macros(env, source)
    return False
