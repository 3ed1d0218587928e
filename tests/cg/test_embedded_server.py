"""`make run`'s server in embedded mode processes and anchors pushed data on its own."""

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from chain.anvil import free_port
from tests.pushing import Miner, call, hourly_report, http_json

ROOT = Path(__file__).resolve().parents[2]


def test_reports_pushed_to_the_embedded_server_become_attributions(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "CG_VAR_DIR": str(tmp_path),
        "HOURLY_INTERVAL_SECONDS": "1",
        "ANCHOR_INTERVAL_SECONDS": "1",
        "ANVIL_PORT": str(free_port()),
    }
    for name in ("SECRET_KEY", "CHAIN_PRIVATE_KEY", "WEB3_PROVIDER_URI"):
        env.pop(name, None)
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args) -> str:
        done = subprocess.run([*manage, *args], env=env, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip().rsplit("\n", 1)[-1]

    def processed(count: int) -> list[dict]:
        deadline = time.monotonic() + 90
        rows = []
        while time.monotonic() < deadline and (
            len(rows) != count or {r["state"] for r in rows} != {"Processed"}
        ):
            rows = http_json(f"{base}/api/v1/energy/attributions/m-1", token=token, timeout=10)
            time.sleep(0.5)
        return rows

    run("migrate", "-v0")
    token = run("create_customer", "Embedded")
    miner = Miner(seed=61)
    run("create_source", "--customer", "Embedded", "--external-id", "m-1", "--name", "Meter",
        "--miner-address", miner.address, "--capacity-wh", "5000")  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [*manage, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start -= dt.timedelta(hours=4)
        reports = [
            miner.report(hourly_report(start + dt.timedelta(hours=h), 60_000_000 * h, 60_000))
            for h in range(3)
        ]
        batch = [call("tx_reportMinerPoGG", r, h) for h, r in enumerate(reports)]
        assert [a["result"] for a in http_json(f"{base}/v1", batch, timeout=10)] == ["200"] * 3

        rows = processed(2)

        # A second terminal, as the README shows it: same environment, other processes.
        node = (tmp_path / "chain-node-url").read_text().strip()
        more = miner.report(hourly_report(start + dt.timedelta(hours=3), 180_000_000, 60_000))
        assert http_json(f"{base}/v1", call("tx_reportMinerPoGG", more))["result"] == "200"
        run("run_pipeline")
        later = processed(3)
        head = http_json(node, call("eth_blockNumber", []))["result"]
        verified = run("verify_ledger")
        assert http_json(node, call("eth_blockNumber", []))["result"] == head  # wrote nothing
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert verified.startswith("ledger verified: ")
    assert [r["state"] for r in later] == ["Processed"] * 3
    assert not (tmp_path / "chain-node-url").exists()  # the node stopped with the server

    # Readings run from h+0:00 to h+2:55: the hours from 0:00 and 1:00 are closed.
    assert [r["effective_time"][11:16] for r in rows] == [
        f"{(start.hour + 1) % 24:02d}:00",
        f"{start.hour:02d}:00",
    ]
    # Anchored on the anvil node `serve` started, which keeps its chain under var/.
    assert {r["state"] for r in rows} == {"Processed"}
    assert all(r["height"] > 0 and len(r["block_id"]) == 64 for r in rows)
    assert (tmp_path / "anvil-state.json").exists()
