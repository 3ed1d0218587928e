"""The production processes for real: gunicorn, a Celery worker and Celery beat (database
scheduler) on PostgreSQL and Redis, and an anvil node; signed reports in, anchored RECs out.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
import redis
import yaml
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from cg.schedule import PERIODIC_TASKS, ensure_periodic_tasks
from chain import anvil, client
from core.units import MWH
from tests.factories import SourceFactory, token_for
from tests.pushing import Miner, call, hourly_report, http_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[1]
BROKER = "redis://127.0.0.1:6379/14"


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def compose_healthchecks() -> dict[str, list[str]]:
    """Each service's healthcheck in docker/compose.yaml, as a command to run here (this
    interpreter for ``python`` and ``celery``, a shell for CMD-SHELL as Docker does)."""
    services = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]
    commands = {}
    for name, service in services.items():
        if "healthcheck" not in service:
            continue
        kind, *test = service["healthcheck"]["test"]
        if kind == "CMD-SHELL":
            line = test[0].replace("$$", "$")
            line = line.replace("celery ", f"{sys.executable} -m celery ", 1)
            commands[name] = ["sh", "-c", line]
        else:
            programs = {"python": [sys.executable], "celery": [sys.executable, "-m", "celery"]}
            commands[name] = [*programs.get(test[0], [test[0]]), *test[1:]]
    return commands


def test_reports_pushed_to_the_production_processes_come_out_as_anchored_recs(settings, tmp_path):
    node, node_url = anvil.start(anvil.free_port())
    processes = [node]
    try:
        settings.WEB3_PROVIDER_URI = node_url
        settings.CHAIN_CONFIRMATIONS = 1
        client.use_web3(None)
        address = client.deploy_anchor(client.web3())
        settings.ANCHOR_CONTRACT_ADDRESS = address
        # Short schedules through settings, as an operator would set them.
        for name in ("HOURLY_INTERVAL_SECONDS", "ANCHOR_INTERVAL_SECONDS", "REC_INTERVAL_SECONDS"):
            setattr(settings, name, 1)
        PeriodicTask.objects.filter(name__in=[n for n, _, _ in PERIODIC_TASKS]).delete()
        ensure_periodic_tasks()
        redis.Redis.from_url(BROKER).flushdb()

        miner = Miner(seed=901)
        source = SourceFactory(miner_address=miner.address.lower())
        token = token_for(source.customer)
        env = os.environ | {
            "DATABASE_URL": f"postgresql://127.0.0.1:5432/{connection.settings_dict['NAME']}",
            "REDIS_URL": BROKER,
            "WEB3_PROVIDER_URI": node_url,
            "ANCHOR_CONTRACT_ADDRESS": address,
            "CHAIN_CONFIRMATIONS": "1",
        }
        port = anvil.free_port()
        logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker", "beat")}  # noqa: SIM115
        start = {"cwd": ROOT, "env": env}
        python = [sys.executable, "-m"]
        web = subprocess.Popen(
            [*python, "gunicorn", "cg.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            stdout=logs["web"],
            stderr=subprocess.STDOUT,
            **start,
        )
        processes.append(web)
        processes.append(
            subprocess.Popen(
                [
                    *python,
                    "celery",
                    "-A",
                    "cg",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "WARNING",
                ],
                **start,
            )
        )
        processes.append(
            subprocess.Popen(
                [*python, "celery", "-A", "cg", "beat", "--loglevel", "INFO",
                 "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                 "--max-interval", "1"],
                stdout=logs["beat"],
                stderr=subprocess.STDOUT,
                **start,
            )
        )  # fmt: skip
        wait_for_port(port, web)
        base = f"http://127.0.0.1:{port}"

        # The two whole UTC days before today from a 2 MW array: hours of 2 MWh
        # from 06:00 to 18:00. Whole days, so the last hour, which stays open
        # until a later reading closes it, is a night hour whenever this runs.
        first = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first -= dt.timedelta(days=2)
        energy, batch = 0, []
        for hour in range(48):
            watts = 2_000_000 if 6 <= (first + dt.timedelta(hours=hour)).hour < 18 else 0
            samples = hourly_report(first + dt.timedelta(hours=hour), energy, watts)
            energy = samples[-1][2] + watts * 1000 * 5 // 60
            batch.append(call("tx_reportMinerPoGG", miner.report(samples), hour))
        answers = http_json(f"{base}/v1", batch)
        assert [a.get("result") for a in answers] == ["200"] * 48

        # 24 sunny hours of 12 x 166,666,666 mWh: 47.99... MWh, so 47 RECs.
        expected = 24 * 12 * (2_000_000 * 1000 * 5 // 60) // MWH
        deadline = time.monotonic() + 150
        recs = []
        while time.monotonic() < deadline:
            recs = http_json(f"{base}/api/v1/energy/recs?per_page=1000", token=token)
            if len(recs) == expected and {r["state"] for r in recs} == {"Processed"}:
                break
            time.sleep(1)

        tails = {n: (tmp_path / f"{n}.log").read_text()[-1500:] for n in logs}
        assert len(recs) == expected, f"{len(recs)} RECs; process logs: {tails}"
        assert {r["state"] for r in recs} == {"Processed"}
        assert all(r["height"] > 0 and len(r["hash"]) == 64 for r in recs)
        out = StringIO()
        call_command("verify_ledger", stdout=out)
        assert out.getvalue().splitlines()[-1].startswith("ledger verified")

        # The compose file's healthchecks, run as Docker runs them, pass against these
        # processes; the worker's fails once the worker is gone.
        probe_env = env | {"PORT": str(port), "HOSTNAME": socket.gethostname()}
        checks = compose_healthchecks()
        for name in ("web", "worker", "beat"):
            done = subprocess.run(checks[name], env=probe_env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, (name, done.stdout[-500:], done.stderr[-1500:])
        worker = processes[2]
        worker.terminate()
        worker.wait(timeout=20)
        done = subprocess.run(checks["worker"], env=probe_env, cwd=ROOT, capture_output=True,
                              timeout=60)  # fmt: skip
        assert done.returncode != 0
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        client.use_web3(None)
