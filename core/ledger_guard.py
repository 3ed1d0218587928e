"""PostgreSQL triggers that keep ledger tables append-only.

A ledger row may move forward (state, anchoring, REC link) but never be
deleted, and what it asserts never changes: corrections are new rows. The
trigger fires only for updates that name a frozen column, so the bulk updates
that move rows forward pay nothing for it. Only
PostgreSQL, the production database, gets them; embedded SQLite rebuilds
tables on schema changes, which would silently drop such triggers.
"""

from django.db import migrations


def postgres_only(sql: str, reverse_sql: str | None = None) -> migrations.RunPython:
    """Run ``sql`` (and ``reverse_sql`` backwards) on PostgreSQL only, as the guards are."""

    def run(statement):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(statement)

        return apply

    reverse = run(reverse_sql) if reverse_sql is not None else None
    return migrations.RunPython(run(sql), reverse, elidable=False)


def guard(table: str, frozen_columns: list[str], *, replace: bool = False) -> migrations.RunPython:
    function = f"{table}_append_only"
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in frozen_columns)
    create = f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION '{table} is append-only: rows cannot be deleted'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF {changed} THEN
                RAISE EXCEPTION '{table} is append-only: {", ".join(frozen_columns)} cannot change'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {function} BEFORE UPDATE OF {", ".join(frozen_columns)} OR DELETE
            ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
    """
    drop = f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();"

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            if replace:
                schema_editor.execute(drop)
            schema_editor.execute(create)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and not replace:
            schema_editor.execute(drop)

    return migrations.RunPython(forward, backward, elidable=False)


def sqlite_guard(connection, table: str, frozen_columns: list[str]) -> None:
    """The frozen-column guard as an SQLite trigger, for the embedded ledger.

    SQLite rebuilds a table on most schema changes, dropping its triggers, so
    migrations cannot own them there: the apps set them again after every
    ``migrate`` (post_migrate), idempotently. Deleting is not guarded on SQLite:
    Django empties a test database with DELETE (PostgreSQL's TRUNCATE fires no row
    trigger), and SQLite has no session switch to let only that through.
    """
    if connection.vendor != "sqlite":
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen_columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_frozen BEFORE UPDATE OF"
            f" {', '.join(frozen_columns)} ON {table} WHEN {changed}"
            f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: {', '.join(frozen_columns)}"
            " cannot change'); END"
        )


def sqlite_guards(tables: dict[str, list[str]]):
    """(pre_migrate, post_migrate) receivers that lift, then set again, the SQLite
    guards of these tables (name -> frozen columns): a migration may drop or rebuild
    a column a trigger names. Connect them with ``weak=False``."""
    from django.db import connections

    def lift(sender, using, **kwargs) -> None:
        connection = connections[using]
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen")

    def guard(sender, using, **kwargs) -> None:
        connection = connections[using]
        present = (
            set(connection.introspection.table_names()) if connection.vendor == "sqlite" else ()
        )
        for table, columns in tables.items():
            if table in present:
                sqlite_guard(connection, table, columns)

    return lift, guard
