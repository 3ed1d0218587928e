"""Set-based writes the ORM has no single statement for."""

import datetime as dt

from django.db import connection


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
