"""Set-based writes the ORM has no single statement for."""

import datetime as dt

from django.db import connection


def update_by_id(table: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """Set ``columns`` (name -> PostgreSQL type) of many rows, given as (id, *values).

    One statement on PostgreSQL; Django's ``bulk_update`` builds a CASE per row
    and per column, which costs more than the work for hundreds of rows.
    """
    if not rows:
        return
    names = list(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(["%s::bigint[]"] + [f"%s::{columns[n]}[]" for n in names])
            sets = ", ".join(f"{n} = v.{n}" for n in names)
            cursor.execute(
                f"UPDATE {table} AS t SET {sets}"
                f" FROM unnest({arrays}) AS v(id, {', '.join(names)}) WHERE t.id = v.id",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            f"UPDATE {table} SET {', '.join(f'{n} = %s' for n in names)} WHERE id = %s",
            [
                [adapt(v) if isinstance(v, dt.datetime) else v for v in values] + [row_id]
                for row_id, *values in rows
            ],
        )
