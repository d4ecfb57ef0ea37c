"""Which shared macros may be remembered, and what they said, while a day's letters render.

Every letter of a national tick calls the same ``foot(contacts, sender, date_written)`` of
``letters/_parts.md.j2`` with the same contact list, sender and date: 900 letters rebuilt the
same contact block 900 times, about a third of rendering. A macro's text may be reused when
it cannot say anything but a function of its arguments, and this module decides that from the
macro's source, conservatively:

- it is defined in a template imported *without* context (``{% from … import %}``), whose
  module Jinja builds once and shares; a macro of the letter's own template can read the
  letter's variables, so it is never remembered;
- its body reads only its parameters, names it sets itself and, inside its loops, ``loop``
  (no module-level ``set``, no ``caller``/``varargs``/``kwargs``, no global such as
  ``cycler``, ``joiner`` or ``lipsum``), and none of the names it sets is also a module-level
  name or a global (a read before the ``set`` would see that outer value);
- it calls nothing but other such macros of its module and Jinja's own ``range``/``dict``,
  never a method; every filter and test it uses is Jinja's own and not ``random``, and
  ``map``/``select`` and kin name theirs as constants;
- it has no ``include``, ``import``, ``call`` block, ``do`` or namespace assignment.

A call is answered from memory only when every argument is plain data: strings, whole
numbers, dates and ``None`` compare by value (with their type: ``1`` and ``True`` print
differently); floats, timestamps and ``Markup`` by identity (``-0.0 == 0.0``, and equal instants
in two zones print differently); lists, tuples and dicts by identity, and only when everything
in them is plain data too. The sandbox cannot change a list or dict, so such an argument cannot
change while remembered; a namespace, a ``loop``, a cycler or an undefined value makes the call
a real one. The caller's autoescape setting is part of the key. Remembered arguments are kept
alive, so an identity is not reused, and remembering is confined to :meth:`Memo.active`
blocks, around one day's letters, whose shared parts the Python side does not change either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from jinja2 import Environment, nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_NAMESPACE, DEFAULT_TESTS
from jinja2.runtime import Macro
from jinja2.sandbox import safe_range
from markupsafe import Markup

UNSAID = object()
"""What :meth:`Memo.recall` answers for a call it does not remember."""

_BY_VALUE = frozenset({str, int, bool, date, type(None)})
_SCALARS = _BY_VALUE | {float, datetime, Markup}  # immutable, printed the same every time
_CONTAINERS = frozenset({list, tuple, dict})
_CALL_EXTRAS = ("_loop_vars", "_block_vars")  # Jinja's own, not the macro's
_PURE_GLOBALS: dict[str, tuple[object, ...]] = {
    "range": (DEFAULT_NAMESPACE["range"], safe_range), "dict": (dict,)}
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
    in_macros = {id(n) for m in tree.find_all(nodes.Macro) for n in m.find_all(nodes.Name)}
    variables = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "store"
                 and id(n) not in in_macros}
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


def _is_pure(env: Environment, macro: nodes.Macro, pure: set[str], variables: set[str]) -> bool:
    """``macro`` under the rules above, its siblings in ``pure`` taken to be pure; the
    module's own variables (``set`` at top level, imported) are ``variables``."""
    params = {a.name for a in macro.args}
    own = {n.name for n in macro.find_all(nodes.Name) if n.ctx == "store"}
    if own & (variables | pure | set(env.globals)):
        return False
    loops = {"loop"} if macro.find(nodes.For) is not None else set()
    trusted = {name for name, known in _PURE_GLOBALS.items()
               if any(env.globals.get(name) is k for k in known)}
    readable = params | own | pure | ((loops | trusted) - variables)
    for node in _walk([*macro.defaults, *macro.body]):
        if not isinstance(node, _ALLOWED):
            return False
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in readable:
            return False
        if isinstance(node, nodes.Assign) and not isinstance(node.target, (nodes.Name,
                                                                           nodes.Tuple)):
            return False  # {% set ns.attr = … %}
        if isinstance(node, nodes.Call) and not _pure_callee(
                node, pure, params | own, trusted - variables):
            return False
        if isinstance(node, nodes.Filter) and not (
                _jinja_own(env.filters, DEFAULT_FILTERS, node.name, _IMPURE_FILTERS)
                and _named_callee_is_jinjas(env, node)):
            return False
        if isinstance(node, nodes.Test) and not _jinja_own(env.tests, DEFAULT_TESTS,
                                                           node.name, frozenset()):
            return False
    return True


def _walk(body: list[nodes.Node]) -> Iterator[nodes.Node]:
    for top in body:
        yield top
        yield from top.find_all(nodes.Node)


def _pure_callee(call: nodes.Call, pure: set[str], local: set[str], trusted: set[str]) -> bool:
    """A call of a sibling macro still thought pure, or of Jinja's own ``range``/``dict``;
    never a method (``loop.cycle``, a cycler's ``next``), never a name the macro binds."""
    callee = call.node
    if not isinstance(callee, nodes.Name) or callee.name in local:
        return False
    return callee.name in pure or callee.name in trusted


_NAMED_AT = {"map": (0, "filters"), "select": (0, "tests"), "reject": (0, "tests"),
             "selectattr": (1, "tests"), "rejectattr": (1, "tests")}
"""Filters that call another filter or test named by an argument: which one, and of what."""


def _named_callee_is_jinjas(env: Environment, node: nodes.Filter) -> bool:
    """For ``map``/``select`` and kin: every argument a constant, and the filter or test they
    name Jinja's own and not random (``xs|map(f)`` with ``f`` a parameter could be anything)."""
    if node.name not in _NAMED_AT:
        return True
    if node.dyn_args is not None or node.dyn_kwargs is not None or not all(
            isinstance(a, nodes.Const) for a in [*node.args, *(k.value for k in node.kwargs)]):
        return False
    at, table = _NAMED_AT[node.name]
    if len(node.args) <= at:
        return True  # map(attribute=…), select() (truthiness), selectattr(name)
    name = node.args[at].value  # type: ignore[attr-defined]
    if table == "filters":
        return _jinja_own(env.filters, DEFAULT_FILTERS, name, _IMPURE_FILTERS)
    return _jinja_own(env.tests, DEFAULT_TESTS, name, frozenset())


def _jinja_own(table: dict[str, Any], defaults: dict[str, Any], name: str,
               impure: frozenset[str]) -> bool:
    return name not in impure and name in defaults and table.get(name) is defaults[name]


def _plain(value: Any, seen: dict[int, Any]) -> bool:
    """Plain data all the way down (see the module docstring); ``seen`` holds the containers
    already found plain in this block, by id (holding them keeps their ids theirs)."""
    kind = value.__class__
    if kind in _SCALARS:
        return True
    if kind not in _CONTAINERS:
        return False
    if id(value) in seen:
        return True
    items = value.values() if kind is dict else value
    if kind is dict and not all(k.__class__ in _SCALARS for k in value):
        return False
    if all(_plain(v, seen) for v in items):
        seen[id(value)] = value
        return True
    return False


class Memo:
    """The remembered output of pure shared macros, while :meth:`active`."""

    def __init__(self) -> None:
        # a verdict per macro object; weak, because a letter's own macros are new every render
        self._pure: WeakKeyDictionary[Macro, bool] = WeakKeyDictionary()
        self._said: dict[tuple[object, ...], Any] | None = None
        self._kept: list[Any] = []
        self._plain: dict[int, Any] = {}
        self._same: dict[tuple[object, ...], Any] = {}  # see :meth:`recall`

    def forget_macros(self) -> None:
        """The templates were reloaded: their macros are new objects."""
        self._pure.clear()

    @contextmanager
    def active(self) -> Iterator[None]:
        """Remember while the block lasts (a block inside another one just joins it)."""
        if self._said is not None:
            yield
            return
        self._said, self._kept, self._plain, self._same = {}, [], {}, {}
        try:
            yield
        finally:
            self._said, self._kept, self._plain, self._same = None, [], {}, {}

    @property
    def said(self) -> dict[tuple[object, ...], Any] | None:
        """What was said so far in the active block (None outside one)."""
        return self._said

    def key(self, env: Environment, macro: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any], autoescape: bool) -> tuple[object, ...] | None:
        """The memory's key of this call, or None if it must really be made.

        Each argument's type is part of the key, so ``1`` and ``True`` (equal, but printed
        differently) differ, and so does an id from a value that happens to equal it."""
        if type(macro) is not Macro:
            return None
        verdict = self._pure.get(macro)
        if verdict is None:
            verdict = self._pure[macro] = _shared_and_pure(env, macro)
        if not verdict:
            return None
        values = args
        if kwargs:
            named = sorted((k, v) for k, v in kwargs.items() if k not in _CALL_EXTRAS)
            values = (*args, *(k for k, _ in named), *(v for _, v in named))
        seen = self._plain
        for v in values:
            if v.__class__ not in _BY_VALUE and not _plain(v, seen):
                return None
        return (id(macro), autoescape, len(args), *map(type, values),
                *[v if type(v) in _BY_VALUE else id(v) for v in values])

    def recall(self, macro: Any, args: tuple[Any, ...], autoescape: bool) -> Any:
        """The text of a remembered call of ``macro`` with these very argument objects, and
        no keyword arguments, or :data:`UNSAID`.

        A day's letters hand ``foot`` the same contact list, sender and date objects each
        time; looking them up by identity skips the checks of :meth:`key`, about a microsecond
        a call. It answers only what :meth:`key` would: the same objects make the same key,
        being plain was decided the first time, and they are kept alive while remembered, so
        an identity here is never another object's."""
        if type(macro) is not Macro:  # range(), a method: never remembered, see :meth:`key`
            return UNSAID
        return self._same.get((id(macro), autoescape, *map(id, args)), UNSAID)

    def remember(self, key: tuple[object, ...], text: Any, macro: Macro,
                 args: tuple[Any, ...], kwargs: dict[str, Any], autoescape: bool) -> Any:
        assert self._said is not None
        self._said[key] = text
        self._kept.append((macro, args, kwargs))  # their ids stay theirs while remembered
        if not kwargs:
            self._same[(id(macro), autoescape, *map(id, args))] = text
        return text


def _shared_and_pure(env: Environment, macro: Macro) -> bool:
    """Whether ``macro`` belongs to a module shared by every importer, and is pure there."""
    for template in list((env.cache or {}).values()):
        module = getattr(template, "_module", None)
        if module is None or getattr(module, macro.name, None) is not macro:
            continue
        if env.loader is None or template.name is None or not template.is_up_to_date:
            return False  # judged by the source it was compiled from, or not at all
        source, _, _ = env.loader.get_source(env, template.name)
        return template.is_up_to_date and macro.name in pure_macros(env, source)
    return False
