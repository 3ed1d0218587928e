"""PostgreSQL triggers that keep ledger tables append-only.

A ledger row may move forward (state, anchoring, REC link) but never be
deleted, and what it asserts never changes: corrections are new rows. The
trigger fires only for updates that name a frozen column, so the bulk updates
that move rows forward pay nothing for it. Only
PostgreSQL, the production database, gets them; embedded SQLite rebuilds
tables on schema changes, which would silently drop such triggers.
"""

from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar

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


def _rank(alias: str) -> str:
    return f"(CASE {alias}.state WHEN 'New' THEN 0 WHEN 'Pending' THEN 1 ELSE 2 END)"


def backwards(columns: list[str], neq: str) -> str:
    """SQL condition: an update of these columns moves a ledger row backwards. Its
    ``state`` may only go New -> Pending -> Processed; ``hash``, ``ledger_block_id``,
    ``height`` and ``block_id`` are set once; ``quality`` may be held (quarantined)
    but is released only from quarantine, and a decision is final; a transfer's
    ``status`` leaves ``pending`` once, for good. ``neq`` is the dialect's null-safe
    inequality."""
    rules = {
        "state": f"{_rank('NEW')} < {_rank('OLD')}",
        "quality": (
            f"(OLD.quality IN ('released', 'rejected') AND NEW.quality {neq} OLD.quality)"
            " OR (OLD.quality IS NULL AND NEW.quality = 'released')"
            " OR (OLD.quality = 'quarantined' AND NEW.quality IS NULL)"
        ),
        "status": f"OLD.status <> 'pending' AND NEW.status {neq} OLD.status",
    }
    once = "OLD.{c} IS NOT NULL AND NEW.{c} {neq} OLD.{c}"
    return " OR ".join(
        f"({rules[c]})" if c in rules else f"({once.format(c=c, neq=neq)})" for c in columns
    )


def forward_only(table: str, columns: list[str]) -> migrations.RunPython:
    """A PostgreSQL trigger that refuses an update moving a row of ``table`` backwards
    (``backwards``): what a row has reached, it keeps."""
    function = f"{table}_forward_only"
    create = f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {backwards(columns, "IS DISTINCT FROM")} THEN
                RAISE EXCEPTION '{table}: a row only moves forward ({", ".join(columns)})'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {function} BEFORE UPDATE OF {", ".join(columns)}
            ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
    """
    drop = f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return postgres_only(create, drop)


def references(table: str, column: str, target: str) -> migrations.RunPython:
    """PostgreSQL triggers holding ``table.column`` to null or the id of a ``target``
    row, as a foreign key would, but checked once per statement.

    A foreign key checks each row it writes, with a lookup and a lock on the row it
    names: anchoring marks 10,000 rows per block, and that check was 15 µs a row, a
    fifth of it. Here an update checks the distinct ids it wrote, once, from its
    transition table; an insert naming one (rare: rows are born outside any block)
    checks it row by row. Sound without the lock because ``target`` rows are never
    deleted and never change id (their ``guard``).
    """
    check = f"{table}_{column}_exists"
    create = f"""
        CREATE FUNCTION {check}_per_statement() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS ({_missing(column, target)}) THEN
                {_refused(table, column, target)}
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER {check}_update AFTER UPDATE ON {table}
            REFERENCING NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION {check}_per_statement();
        CREATE FUNCTION {check}_per_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = NEW.{column}) THEN
                {_refused(table, column, target)}
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER {check}_insert AFTER INSERT ON {table}
            FOR EACH ROW WHEN (NEW.{column} IS NOT NULL) EXECUTE FUNCTION {check}_per_row();
    """
    drop = f"""
        DROP TRIGGER IF EXISTS {check}_update ON {table};
        DROP TRIGGER IF EXISTS {check}_insert ON {table};
        DROP FUNCTION IF EXISTS {check}_per_statement();
        DROP FUNCTION IF EXISTS {check}_per_row();
    """
    return postgres_only(create, drop)


def owned_by(table: str, column: str, target: str) -> migrations.RunPython:
    """PostgreSQL triggers holding ``table.column`` to the id of a ``target`` row whose
    rows may be deleted, as a foreign key would, checked once per inserting statement.

    Issuance writes 150 RECs and as many daily rows a source, each naming a source
    its transaction has already locked: a foreign key looked each one up and
    locked it again at commit, a third of a million checks per million hours
    issued. Here an insert locks the distinct ids it wrote (key share, in id
    order, as the foreign key would: a concurrent delete waits for the writer,
    or the writer sees the row gone), once, from its transition table; an
    update changing the column is checked row by row; and deleting a ``target``
    row (or changing its id) that a row still names is refused, as the foreign key
    refused it.
    """
    check = f"{table}_{column}_exists"
    in_use = _in_use_trigger(table, column)
    refused = _refused(table, column, target)
    create = f"""
        CREATE FUNCTION {check}_per_statement() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM {target} t
            WHERE t.id IN (SELECT {column} FROM written) ORDER BY t.id FOR KEY SHARE OF t;
            IF EXISTS ({_missing(column, target)}) THEN
                {refused}
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER {check}_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS written
            FOR EACH STATEMENT EXECUTE FUNCTION {check}_per_statement();
        CREATE FUNCTION {check}_per_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM 1 FROM {target} t WHERE t.id = NEW.{column} FOR KEY SHARE;
            IF NOT FOUND THEN
                {refused}
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {check}_update BEFORE UPDATE OF {column} ON {table}
            FOR EACH ROW WHEN (NEW.{column} IS DISTINCT FROM OLD.{column})
            EXECUTE FUNCTION {check}_per_row();
        CREATE FUNCTION {in_use}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id)
               AND EXISTS (SELECT 1 FROM {table} c WHERE c.{column} = OLD.id) THEN
                RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                    MESSAGE = '{target} row ' || OLD.id || ' is still named by {table}.{column}';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$;
        CREATE TRIGGER {in_use} BEFORE DELETE OR UPDATE OF id ON {target}
            FOR EACH ROW EXECUTE FUNCTION {in_use}();
    """
    drop = f"""
        DROP TRIGGER IF EXISTS {check}_insert ON {table};
        DROP TRIGGER IF EXISTS {check}_update ON {table};
        DROP TRIGGER IF EXISTS {in_use} ON {target};
        DROP FUNCTION IF EXISTS {check}_per_statement();
        DROP FUNCTION IF EXISTS {check}_per_row();
        DROP FUNCTION IF EXISTS {in_use}();
    """
    return postgres_only(create, drop)


def _missing(column: str, target: str) -> str:
    """SQL: the distinct non-null ids of ``column`` in the transition table ``written``
    that name no ``target`` row."""
    return (
        f"SELECT 1 FROM (SELECT DISTINCT {column} FROM written WHERE {column} IS NOT NULL) ids"
        f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = ids.{column})"
    )


def _refused(table: str, column: str, target: str) -> str:
    return (
        f"RAISE EXCEPTION '{table}.{column}: no such {target} row' "
        "USING ERRCODE = 'foreign_key_violation';"
    )


# The names of the SQLite triggers, spelled once: the creators below set them and
# ``sqlite_guards`` lifts them before a migrate.
def _frozen_triggers(table: str) -> tuple[str, str]:
    return f"{table}_frozen", f"{table}_no_delete"


def _forward_trigger(table: str) -> str:
    return f"{table}_forward"


def _reference_triggers(table: str, column: str) -> tuple[str, str]:
    return f"{table}_{column}_exists_insert", f"{table}_{column}_exists_update"


def _in_use_trigger(table: str, column: str) -> str:
    return f"{table}_{column}_in_use"


def sqlite_references(
    connection, table: str, column: str, target: str, *, deletable: bool = False
) -> None:
    """``references`` (``owned_by`` where ``deletable``) as SQLite triggers, row by row
    (the embedded ledger is small), set again after every migrate."""
    missing = (
        f"NEW.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {target} WHERE id = NEW.{column})"
    )
    events = ("INSERT", f"UPDATE OF {column}")
    with connection.cursor() as cursor:
        for name, event in zip(_reference_triggers(table, column), events, strict=True):
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON {table} WHEN {missing}"
                f" BEGIN SELECT RAISE(ABORT, '{table}.{column}: no such {target} row'); END"
            )
        if deletable:
            # ``flush`` empties every table in no particular order.
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {_in_use_trigger(table, column)} BEFORE DELETE"
                f" ON {target} WHEN NOT cg_deletes_allowed()"
                f" AND EXISTS (SELECT 1 FROM {table} WHERE {column} = OLD.id) BEGIN SELECT"
                f" RAISE(ABORT, '{target} row is still named by {table}.{column}'); END"
            )


# Whether ``flush`` runs in this context: the one command that may empty the ledger.
_flushing = ContextVar("cg_ledger_flushing", default=False)


@contextmanager
def deletes_allowed():
    """Let ledger rows be deleted in this context, as ``manage.py flush`` (which Django's
    tests call between transactional tests) empties every table."""
    token = _flushing.set(True)
    try:
        yield
    finally:
        _flushing.reset(token)


def sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: the SQLite delete guards ask
    ``cg_deletes_allowed()``. A client without it (the sqlite3 shell) cannot delete."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "cg_deletes_allowed", 0, lambda: int(_flushing.get()), deterministic=False
        )


def sqlite_guard(connection, table: str, frozen_columns: list[str]) -> None:
    """The append-only guard as SQLite triggers, for the embedded ledger.

    SQLite rebuilds a table on most schema changes, dropping its triggers, so
    migrations cannot own them there: the apps set them again after every
    ``migrate`` (post_migrate), idempotently. SQLite has no session switch, so a
    delete is let through only where the application function ``cg_deletes_allowed``
    says so: inside ``flush`` (``deletes_allowed``).
    """
    if connection.vendor != "sqlite":
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen_columns)
    frozen, no_delete = _frozen_triggers(table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {frozen} BEFORE UPDATE OF"
            f" {', '.join(frozen_columns)} ON {table} WHEN {changed}"
            f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: {', '.join(frozen_columns)}"
            " cannot change'); END"
        )
        cursor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {no_delete} BEFORE DELETE ON {table}"
            " WHEN NOT cg_deletes_allowed()"
            f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows cannot be deleted'); END"
        )


def sqlite_forward_only(connection, table: str, columns: list[str]) -> None:
    """``forward_only`` as an SQLite trigger, set again after every migrate."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {_forward_trigger(table)} BEFORE UPDATE OF"
            f" {', '.join(columns)} ON {table} WHEN {backwards(columns, 'IS NOT')}"
            f" BEGIN SELECT RAISE(ABORT, '{table}: a row only moves forward'); END"
        )


def sqlite_guards(
    tables: dict[str, list[str]],
    forward: dict[str, list[str]] | None = None,
    references: Iterable[tuple[str, str, str]] = (),
    owned: Iterable[tuple[str, str, str]] = (),
):
    """(pre_migrate, post_migrate) receivers that lift, then set again, the SQLite
    guards of these tables (name -> frozen columns; ``forward``: name -> columns that
    only move forward; ``references`` and ``owned``: (table, column, target table), as
    ``references`` and ``owned_by`` hold them): a migration may drop or rebuild a
    column a trigger names. Connect them with ``weak=False``."""
    from django.db import connections

    forward = forward or {}
    links = [(*link, False) for link in references] + [(*link, True) for link in owned]

    names = [
        *(name for table in tables for name in _frozen_triggers(table)),
        *(_forward_trigger(table) for table in forward),
        *(name for table, column, _, _ in links for name in _reference_triggers(table, column)),
        *(_in_use_trigger(table, column) for table, column, _, deletable in links if deletable),
    ]

    def lift(sender, using, **kwargs) -> None:
        connection = connections[using]
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                for name in names:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")

    def guard(sender, using, **kwargs) -> None:
        connection = connections[using]
        if connection.vendor != "sqlite":
            return
        present = set(connection.introspection.table_names())
        for table, columns in tables.items():
            if table in present:
                sqlite_guard(connection, table, columns)
        for table, columns in forward.items():
            if table in present:
                sqlite_forward_only(connection, table, columns)
        for table, column, target, deletable in links:
            if table in present and target in present:
                sqlite_references(connection, table, column, target, deletable=deletable)

    return lift, guard
