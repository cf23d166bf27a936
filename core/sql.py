"""Fixed queries compiled once: a page's query whose shape never changes, its SQL built by Django
once per process and database and run again with each request's own values.

Django compiles a queryset to SQL every time it is evaluated. For a page's query with a join or a
subquery that is 0.3-0.7 ms of Python on every request, and the same string each time; on a page
built cold (a first view, a view after a change) it is a fair part of the page's cost. A
`FixedQuery` builds its queryset from stand-in values (twice, with two sets, to tell them from
constants that happen to be equal), finds where each stand-in went among the SQL's parameters, and
afterwards sends that SQL with the request's values. Rows or model instances come back as the
queryset would give them (Django's own converters, select_related and annotations applied). If a
stand-in cannot be placed, the query is simply evaluated through the ORM every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models import query as django_query

# Stand-ins for an id and an instant, values no row holds.
STAND_IN_ID = -7_130_001
STAND_IN_TIME = datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: list[str | None]  # per parameter: the value it takes, or None (a constant, below)
    constants: list[Any]
    compiler: Any
    converters: dict[int, Any]
    columns: int
    # For a query of model instances (None: a values_list query, its rows as they are).
    model: Any
    fields: slice  # the model's own columns in a row
    attnames: list[str]
    annotations: dict[str, int]
    populators: list[Any]  # select_related's


class FixedQuery:
    """`build(**values)` returns a queryset; `stand_ins` names one value of each kind it takes.
    `all(**values)` and `first(**values)` run it, giving what the queryset would give."""

    def __init__(self, build: Callable[..., QuerySet], **stand_ins: Any) -> None:
        self._build = build
        self._stand_ins = stand_ins
        self._lock = threading.Lock()
        self._compiled: dict[str, _Compiled | None] = {}

    def compiled(self, alias: str = "default") -> bool:
        """Whether the SQL is reused (False: the ORM builds it on every run)."""
        return self._compiled_for(alias) is not None

    def all(self, **values: Any) -> list[Any]:
        """What the queryset gives: rows for a `values_list` query, else model instances (with
        what select_related and annotate add)."""
        compiled = self._compiled_for("default")
        if compiled is None:
            return list(self._build(**values))
        rows = self._fetch(compiled, "default", values)
        if compiled.model is None:
            return rows
        found = []
        for row in rows:
            instance = compiled.model.from_db("default", compiled.attnames, row[compiled.fields])
            for populator in compiled.populators:
                populator.populate(row, instance)
            for name, position in compiled.annotations.items():
                setattr(instance, name, row[position])
            found.append(instance)
        return found

    def first(self, **values: Any) -> Any:
        """The first of `all`, or None (the queryset sliced to one row by `build`)."""
        found = self.all(**values)
        return found[0] if found else None

    def _compiled_for(self, alias: str) -> _Compiled | None:
        if alias not in self._compiled:
            with self._lock:
                self._compiled[alias] = self._compile(alias)
        return self._compiled[alias]

    def _fetch(self, compiled: _Compiled, alias: str, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        connection = connections[alias]
        params = [_adapted(values[name], connection) if name else constant
                  for name, constant in zip(compiled.names, compiled.constants, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        if fetched and len(fetched[0]) != compiled.columns:
            fetched = [row[:compiled.columns] for row in fetched]
        if compiled.converters:
            return [tuple(row) for row in compiled.compiler.apply_converters(fetched, compiled.converters)]
        return [tuple(row) for row in fetched]

    def _compile(self, alias: str) -> _Compiled | None:
        connection = connections[alias]
        queryset: Any = self._build(**self._stand_ins)  # (Django's own attributes, below, are not in its stubs)
        if queryset._known_related_objects or queryset._prefetch_related_lookups:
            return None  # filled in by the queryset itself, not by its SQL
        if queryset._iterable_class not in (django_query.ModelIterable, django_query.ValuesListIterable):
            return None  # dicts, flat or named rows: shaped by the queryset, not given as fetched
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        # Built a second time with other stand-ins: a parameter that follows its stand-in both
        # times is that value; one that equals it only once is a constant of the query.
        others = {name: _other(value) for name, value in self._stand_ins.items()}
        other_sql, other_params = self._build(**others).query.get_compiler(using=alias).as_sql()
        if other_sql != sql or len(other_params) != len(params):
            return None
        first = {name: _adapted(value, connection) for name, value in self._stand_ins.items()}
        second = {name: _adapted(value, connection) for name, value in others.items()}
        names: list[str | None] = []
        for param, other in zip(params, other_params, strict=True):
            matches = [name for name in first if _same(first[name], param) and _same(second[name], other)]
            names.append(matches[0] if len(matches) == 1 else None)
        # Every stand-in must have gone somewhere (else it was written into the SQL as text).
        if set(self._stand_ins) - {name for name in names if name}:
            return None
        columns = compiler.col_count
        converters = compiler.get_converters([column[0] for column in compiler.select[:columns]])
        compiled = _Compiled(sql=sql, names=names, constants=list(params), compiler=compiler, converters=converters,
                             columns=columns, model=None, fields=slice(0), attnames=[], annotations={}, populators=[])
        klass_info = compiler.klass_info
        if queryset._iterable_class is not django_query.ModelIterable or klass_info is None:
            return compiled  # values_list(): the rows are the answer
        # What Django's ModelIterable works out on every evaluation, once.
        fields = slice(klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1)
        return replace(compiled, model=klass_info["model"], fields=fields,
                       attnames=[column[0].target.attname for column in compiler.select[fields]],
                       annotations=dict(compiler.annotation_col_map or {}),
                       populators=django_query.get_related_populators(  # type: ignore[attr-defined]
                           klass_info, compiler.select, alias))


def _same(value: Any, param: Any) -> bool:
    return type(value) is type(param) and value == param


def _other(value: Any) -> Any:
    """Another stand-in of the same kind."""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value - 1
    if isinstance(value, str):
        return value + "~"
    raise TypeError(f"no second stand-in for a {type(value).__name__}")


def _adapted(value: Any, connection: Any) -> Any:
    """A value as the compiler puts it among a query's parameters (datetimes as the database
    takes them; SQLite's as text)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value
