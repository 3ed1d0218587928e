"""Configuration comes from the environment; bad values stop the process early."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from django.conf import settings
    print(settings.DATABASES["default"]["ENGINE"], settings.CELERY_TASK_ALWAYS_EAGER,
          settings.EMBEDDED)
    """
)


def settings_with(tmp_path, **env) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "WEB3_PROVIDER_URI",
            "DEBUG",
            "CHAIN_PRIVATE_KEY",
        }
    }
    base |= {"DJANGO_SETTINGS_MODULE": "cg.settings", "CG_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=base, cwd=ROOT, capture_output=True, text=True
    )


def test_no_variables_means_embedded_sqlite_with_in_process_tasks(tmp_path):
    result = settings_with(tmp_path)

    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True"]


def test_database_and_redis_urls_switch_to_the_real_components(tmp_path):
    result = settings_with(
        tmp_path,
        DATABASE_URL="postgresql://u:p%40ss@db.example:5433/cg",
        REDIS_URL="redis://cache:6379/0",
        SECRET_KEY="s",
        CHAIN_PRIVATE_KEY="0x" + "11" * 32,
        WEB3_PROVIDER_URI="https://node.example",
    )

    assert result.stdout.split() == ["django.db.backends.postgresql", "False", "False"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "postgresql://localhost/cg"}, "SECRET_KEY must be set"),
        (
            {"DATABASE_URL": "postgresql://localhost/cg", "SECRET_KEY": "s"},
            "CHAIN_PRIVATE_KEY must be set",
        ),
        (
            {
                "DATABASE_URL": "postgresql://localhost/cg",
                "SECRET_KEY": "s",
                "CHAIN_PRIVATE_KEY": "0x" + "11" * 32,
            },
            "WEB3_PROVIDER_URI must be set when DATABASE_URL is set",
        ),
        ({"CHAIN_PRIVATE_KEY": "0x12"}, "CHAIN_PRIVATE_KEY must be 0x followed by 64 hex"),
        ({"ANCHOR_CONTRACT_ADDRESS": "nope"}, "ANCHOR_CONTRACT_ADDRESS must be 0x"),
        ({"WEB3_PROVIDER_URI": "ws://node:8546"}, "WEB3_PROVIDER_URI must be a URL"),
        ({"DATABASE_URL": "mysql://localhost/cg", "SECRET_KEY": "s"}, "DATABASE_URL must be"),
        ({"DATABASE_URL": "postgresql://localhost/", "SECRET_KEY": "s"}, "must name a database"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a URL"),
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"API_MAX_PER_PAGE": "lots"}, "API_MAX_PER_PAGE must be an integer"),
        ({"API_MAX_PER_PAGE": "0"}, "API_MAX_PER_PAGE must be at least 1"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, env, message):
    result = settings_with(tmp_path, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


NODE_PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from django.conf import settings
    print(settings.WEB3_PROVIDER_URI)
    """
)


def test_embedded_processes_find_the_node_that_serve_recorded(tmp_path):
    (tmp_path / "chain-node-url").write_text("http://127.0.0.1:18545\n")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "WEB3_PROVIDER_URI"}}
    env |= {"DJANGO_SETTINGS_MODULE": "cg.settings", "CG_VAR_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-c", NODE_PROBE], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert result.stdout.strip() == "http://127.0.0.1:18545", result.stderr


def test_the_in_process_chain_is_asked_for_never_a_fallback(tmp_path):
    """Embedded, with no node recorded and none named, nothing anchors anywhere."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "WEB3_PROVIDER_URI"}}
    env |= {"DJANGO_SETTINGS_MODULE": "cg.settings", "CG_VAR_DIR": str(tmp_path)}
    probe = "import django; django.setup()\nfrom chain import client\nclient.web3()"

    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: no chain node" in result.stderr


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_sessions_compile_no_statement_unless_the_url_says_so():
    from django.db import connection

    from core.env import database_from_url

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
    own = database_from_url("DATABASE_URL", "postgresql://db/cg?options=-c%20work_mem%3D64MB")
    assert own["OPTIONS"] == {"options": "-c work_mem=64MB"}
