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
