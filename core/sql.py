"""Set-based writes the ORM has no single statement for."""

import datetime as dt
from collections.abc import Iterator, Sequence

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL


def update_by_id(
    table: str, columns: dict[str, str], rows: list[tuple], also: dict | None = None
) -> None:
    """Set ``columns`` (name -> PostgreSQL type) of many rows, given as (id, *values),
    and the ``also`` columns to one value for all of them.

    One statement on PostgreSQL; Django's ``bulk_update`` builds a CASE per row
    and per column, which costs more than the work for hundreds of rows.
    """
    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    also = {k: adapt(v) if isinstance(v, dt.datetime) else v for k, v in (also or {}).items()}
    fixed = "".join(f", {name} = %s" for name in also)
    names = list(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(["%s::bigint[]"] + [f"%s::{columns[n]}[]" for n in names])
            sets = ", ".join(f"{n} = v.{n}" for n in names)
            cursor.execute(
                f"UPDATE {table} AS t SET {sets}{fixed}"
                f" FROM unnest({arrays}) AS v(id, {', '.join(names)}) WHERE t.id = v.id",
                [*also.values(), *[list(column) for column in zip(*rows, strict=True)]],
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET {', '.join(f'{n} = %s' for n in names)}{fixed} WHERE id = %s",
            [
                [adapt(v) if isinstance(v, dt.datetime) else v for v in values]
                + list(also.values())
                + [row_id]
                for row_id, *values in rows
            ],
        )


def insert_rows(table: str, columns: list[str], rows) -> None:
    """Append rows fast: COPY on PostgreSQL, executemany elsewhere.

    Datetimes and dates are adapted for SQLite here; COPY takes them as they are.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value

        def sqlite(value):
            if isinstance(value, dt.datetime):
                return adapt(value)
            return value.isoformat() if isinstance(value, dt.date) else value

        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [[sqlite(v) for v in row] for row in rows],
        )


def among(queryset: QuerySet, ids: Sequence[int], column: str = "id") -> Iterator[QuerySet]:
    """``queryset`` narrowed to the rows whose ``column`` is one of ``ids``, as querysets
    to run one after the other: one, with the ids as one array parameter, on
    PostgreSQL (an ``IN`` list of a block's 10,000 ids costs more to send and parse
    than the lookups it asks for), and pieces of 500 on SQLite, whose statements
    are bounded."""
    if connection.vendor == "postgresql":
        if ids:
            match = f"{queryset.model._meta.db_table}.{column} = ANY(%s::bigint[])"
            yield queryset.filter(RawSQL(match, [list(ids)], output_field=BooleanField()))
        return
    for start in range(0, len(ids), 500):
        yield queryset.filter(**{f"{column}__in": ids[start : start + 500]})
