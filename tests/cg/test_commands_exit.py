"""The management commands exit non-zero with a message, as scripts see them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_failing_command_exits_non_zero_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["CG_VAR_DIR"] = str(tmp_path)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)

    result = subprocess.run(
        [*manage, "create_source", "--customer", "Nobody", "--external-id", "x", "--name", "n"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "unknown customer 'Nobody'" in result.stderr
    assert "Traceback" not in result.stderr
