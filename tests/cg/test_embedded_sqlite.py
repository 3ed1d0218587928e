"""Embedded mode: commands run beside a busy server on the same SQLite file."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Holds the write lock for a while, as the server does while it writes.
BUSY_WRITER = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from django.db import transaction
    from energy.services import customer_create
    with transaction.atomic():
        customer_create(name="busy server")
        print("locked", flush=True)
        time.sleep(2)
    """
)


def test_a_command_waits_for_the_write_lock_instead_of_failing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"CG_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "cg.settings"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)

    writer = subprocess.Popen(
        [sys.executable, "-c", BUSY_WRITER], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        commands = [
            subprocess.Popen(
                [*manage, "create_customer", f"operator {i}"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        results = [(c.wait(timeout=60), *c.communicate()) for c in commands]
    finally:
        writer.wait(timeout=60)

    assert writer.returncode == 0
    for code, out, err in results:
        assert code == 0, err
        assert "locked" not in err
        assert out.splitlines()[-1].startswith("0x")
