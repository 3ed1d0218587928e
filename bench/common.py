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
