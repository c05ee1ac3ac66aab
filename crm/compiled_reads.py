"""Reads compiled to SQL once per process and then run with each request's values.

Building a queryset (``filter()``, joins) and compiling it to SQL costs Django more CPU than
PostgreSQL spends running most of the small reads of a page: the customer card's statements spent
about twice as long in Django's compiler as in the database. A read that runs on every card or
every call with only an ID changing is compiled once per process with a sentinel in place of each
value (a negative ID no row has, a day of year 1), found by type and value among the statement's
parameters (once or more: a user's ID may be asked in two subqueries); later calls put the real
values in those places and turn the rows into what the queryset would have returned (model
instances with their ``select_related`` objects and annotations, ``values()`` dicts,
``values_list()`` tuples or values), prefetches included.

The key names everything the statement's text depends on but the values: a read scoped to the
user's stores has those stores in its key, read on every request. ``build`` may close over nothing
the key does not hold (checked on first compile), so a variable captured by mistake (the user)
fails loudly instead of serving one user's statement to another. A read whose values do not all
appear as parameters (a value folded into the SQL) is compiled every time, as Django would, and so
is one Django answers without the database (an empty ``IN``).
"""

import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import prefetch_related_objects
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
    get_related_populators,
)

from crm import prepared

_READS: dict[tuple, tuple] = {}
_MOST_READS = 1000


def read_sentinel(value, index: int):
    """A value of ``value``'s type no read is ever given: a negative ID (a list of them for a list),
    a day in the first year of the calendar."""
    if isinstance(value, list):
        return [-(9_000_000_000 + 100 * index + number) for number in range(2)]
    if isinstance(value, int) and not isinstance(value, bool):
        return -(9_000_000_000 + 100 * index)
    if type(value) is datetime.date:
        return datetime.date(1, 1, 1) + datetime.timedelta(days=index)
    raise TypeError(f"no sentinel for {type(value).__name__}")


def compiled_read(key: tuple, build, **values) -> list:
    """``list(build(**values))``, ``build`` returning a queryset; compiled once per ``key`` (which
    names everything the statement depends on but ``values``: IDs, lists of IDs, days)."""
    entry = _READS.get(key)
    if entry is None:
        _check_closure(key, build)
        entry = _compile(build, values)
        if entry is None:  # a value the statement holds in another form: compiled every time
            return list(build(**values))
        if len(_READS) >= _MOST_READS:
            _READS.clear()
        _READS[key] = entry
    queryset, compiled, sql, params, slots, conversions = entry
    database = router.db_for_write(queryset.model) if queryset._for_write else router.db_for_read(queryset.model)
    with connections[database].cursor() as cursor:
        prepared.execute(cursor, sql, [values[slots[position]] if position in slots else param
                                       for position, param in enumerate(params)])  # fmt: skip
        rows = cursor.fetchall()
    # The rows' columns as the compiler selected them, converted on this request's connection.
    compiler = compiled.query.get_compiler(using=database)
    compiler.select, compiler.klass_info = compiled.select, compiled.klass_info
    compiler.annotation_col_map, compiler.col_count = compiled.annotation_col_map, compiled.col_count
    # results_iter's steps, with the columns' converters found once per database: looking them up
    # on every read, over the 116 columns of the call's tasks with their customer, store and rule,
    # cost 0.14 ms of CPU (0.39 -> 0.25 ms a read), more than PostgreSQL's run of the read.
    if database not in conversions:
        fields = [column[0] for column in compiled.select[: compiled.col_count]]
        conversions[database] = (compiler.get_converters(fields), compiler.has_composite_fields(fields))
    converters, composite = conversions[database]
    if composite:
        rows = compiler.results_iter([rows])
    elif converters:
        rows = compiler.apply_converters(rows, converters)
    found = _RESULTS[queryset._iterable_class](compiler, rows, database)
    if queryset._prefetch_related_lookups and found:
        prefetch_related_objects(found, *queryset._prefetch_related_lookups)
    return found


def _compile(build, values: dict) -> tuple | None:
    sentinels = {name: read_sentinel(value, index) for index, (name, value) in enumerate(values.items())}
    queryset = build(**sentinels)
    iterable = queryset._iterable_class
    if queryset._known_related_objects or iterable not in _RESULTS:
        return None
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. a user of no store: Django answers without asking the database
        return None
    slots = {
        position: name
        for position, param in enumerate(params)
        for name, sentinel in sentinels.items()
        if type(param) is type(sentinel) and param == sentinel
    }
    if set(slots.values()) != set(sentinels):
        return None
    return queryset, compiler, sql, list(params), slots, {}


def _check_closure(key: tuple, build) -> None:
    for cell in build.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: a name the function assigns later
            continue
        if callable(value):
            continue  # a helper function or a class, not a value the statement could depend on
        if not any(part is value or (type(part) is type(value) and part == value) for part in key):
            raise ValueError(f"compiled_read {key!r}: build closes over {value!r}, which the key does not name")


def _model_results(compiler, rows, database) -> list:
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    populators = get_related_populators(klass_info, select, database)
    model = klass_info["model"]
    annotations = list((compiler.annotation_col_map or {}).items())
    instances = []
    for row in rows:
        instance = model.from_db(database, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in annotations:
            setattr(instance, name, row[position])
        instances.append(instance)
    return instances


def _values_results(compiler, rows, database) -> list:
    query = compiler.query
    names = list(query.selected) if query.selected else [*query.extra_select, *query.values_select,
                                                         *query.annotation_select]  # fmt: skip
    return [dict(zip(names, row, strict=False)) for row in rows]


def _values_list_results(compiler, rows, database) -> list:
    return [tuple(row) for row in rows]


def _flat_results(compiler, rows, database) -> list:
    return [row[0] for row in rows]


_RESULTS = {
    ModelIterable: _model_results,
    ValuesIterable: _values_results,
    ValuesListIterable: _values_list_results,
    FlatValuesListIterable: _flat_results,
}
