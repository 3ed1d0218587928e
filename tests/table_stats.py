"""What PostgreSQL counted of one table in the current transaction (its
``pg_stat_xact_user_tables`` row): tests that a path reads or writes only what it
should, where the result alone cannot tell."""

from django.db import connection


def table_stats(table: str, *counters: str) -> tuple[int, ...]:
    """This transaction's ``counters`` of ``table`` (null ones as 0), in order."""
    columns = ", ".join(f"coalesce({name}, 0)" for name in counters)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM pg_stat_xact_user_tables WHERE relname = %s", [table]
        )
        return tuple(cursor.fetchone())
