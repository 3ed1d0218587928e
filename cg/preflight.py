"""Check that PostgreSQL and Redis answer before the suite or the benchmark runs.

``python -m cg.preflight`` reads DATABASE_URL and REDIS_URL, tries each once,
and on failure says how to start the service and exits 1: a missing service
is an error, never a reason to skip tests.
"""

import os
import sys
from urllib.parse import urlsplit, urlunsplit

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


def _maintenance_url(url: str) -> str:
    # The target database may not exist yet (the test runner creates test_*).
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def check_postgres(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(_maintenance_url(url), connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {url} does not answer ({error}).\n  Start it with: {START_POSTGRES}"
    return None


def check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        return f"Redis at {url} does not answer ({error}).\n  Start it with: {START_REDIS}"
    return None


def main() -> int:
    problems = []
    if url := os.environ.get("DATABASE_URL"):
        problems.append(check_postgres(url))
    if url := os.environ.get("REDIS_URL"):
        problems.append(check_redis(url))
    problems = [p for p in problems if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
