"""What the benchmarks share: a fresh PostgreSQL database and Django on it."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cg.settings")


def fresh_django() -> str:
    """Recreate the database DATABASE_URL names, set Django up on it, migrate; the URL."""
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL must point at a PostgreSQL database the benchmark may recreate")
    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        database = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def load_meters(
    name: str, sources: int, hours: int, value, *, processed: bool, by_hour: bool = False
) -> int:
    """A customer ``name`` with ``sources`` meters of ``hours`` hourly attributions each,
    from 2024-01-01, written with COPY, their daily rows built; the attributions made.

    ``value(source_id, hour)`` gives each one's mWh, called in COPY order; each
    commits to 32 bytes of evidence, as hours read from signed reports do. With
    ``processed`` they come in Processed and anchored (hash, height, block id),
    else New and waiting to be sealed. Rows are written source after source (each
    meter's whole history at once, as a backfill lands), or with ``by_hour`` hour
    after hour (every meter's hour together, as the hourly step writes live
    readings), which decides which rows share a table page.
    """
    import datetime as dt
    import hashlib
    import secrets

    from django.db import connection, transaction
    from django.utils import timezone

    from energy.daily import daily_refresh
    from energy.models import Customer, Source
    from energy.transitions import attributions_waiting

    customer = Customer.objects.create(name=name)
    made = Source.objects.bulk_create(
        Source(customer=customer, external_id=f"meter-{i}", name=f"Meter {i}",
               client_id="0x" + secrets.token_hex(32))
        for i in range(sources)
    )  # fmt: skip
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    now = timezone.now()
    digest = hashlib.sha256(b"bench").hexdigest()
    anchored = (
        ("Processed", now, digest, 1, digest) if processed else ("New", None, None, None, None)
    )
    options = None
    if processed:
        # Rows come in New, in pages kept 70% free for their Processed version
        # (migration energy 0027), and anchoring leaves those pages about 63% full:
        # rows loaded Processed are packed as densely, so that reading them costs
        # what it costs in production.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class"
                " WHERE oid = 'energy_attribution'::regclass"
            )
            options = cursor.fetchone()[0]
            cursor.execute("ALTER TABLE energy_attribution SET (fillfactor = 63)")
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(
            "COPY energy_attribution (source_id, seq, external_id, effective_time, value,"
            " evidence, state, state_changed, hash, height, block_id, created, modified)"
            " FROM STDIN"
        ) as copy:
            order = (
                ((source, h) for h in range(hours) for source in made)
                if by_hour
                else ((source, h) for source in made for h in range(hours))
            )
            for source, h in order:
                copy.write_row(
                    (source.pk, h + 1, f"{source.pk}-{h}",
                     start + dt.timedelta(hours=h), value(source.pk, h),
                     secrets.token_bytes(32), *anchored, now, now)
                )  # fmt: skip
        if not processed:
            attributions_waiting({s.pk: (1, hours) for s in made})
        days = {(start + dt.timedelta(hours=h)).date() for h in range(hours)}
        daily_refresh({s.pk: days for s in made})
    with connection.cursor() as cursor:
        if options is not None:
            cursor.execute(
                f"ALTER TABLE energy_attribution SET ({options})"
                if options
                else "ALTER TABLE energy_attribution RESET (fillfactor)"
            )
        cursor.execute("VACUUM ANALYZE energy_attribution")
    return sources * hours


def wal() -> tuple[int, int]:
    """Bytes of WAL written so far, and checkpoints asked for by WAL volume: a
    checkpoint makes the next change of each page log the whole page."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, checkpoints_req FROM pg_stat_bgwriter"
        )
        written, checkpoints = cursor.fetchone()
    return int(written), checkpoints
