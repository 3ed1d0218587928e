"""Crash tests: a Celery worker killed with SIGKILL in the middle of a stage.

Each test runs a real worker (its own process, on PostgreSQL, Redis and anvil),
sends it the stage's task, waits until the stage is half done, and kills the
worker with ``kill -9``. While nothing runs, /metrics and the pipeline page must
show the stall; then the pipeline runs again and nothing may be lost or
doubled: conservation, ``verify_ledger``, and the signer's nonces without a gap
or a repeat.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from cg.celery import app
from cg.pipeline import run_until_idle
from chain import client
from chain.audit import ledger_problems
from chain.models import LedgerBlock
from core.units import MWH
from energy.models import Attribution, Source
from recs.models import Rec
from recs.services import recs_issue_all
from tests.factories import SourceFactory, append, mark_processed
from tests.pushing import Miner, call, hourly_report, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=2)


def flush_broker() -> None:
    """Empty the broker: queued tasks, and the unacknowledged one of a killed worker,
    which Redis would hand to another worker an hour later."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def start_worker(anvil_url: str, **env) -> subprocess.Popen:
    flush_broker()
    worker_env = os.environ | {
        "DATABASE_URL": f"postgresql://127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "WEB3_PROVIDER_URI": anvil_url,
        "ANCHOR_CONTRACT_ADDRESS": settings.ANCHOR_CONTRACT_ADDRESS,
        "CHAIN_CONFIRMATIONS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cg", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
         "--without-gossip"],
        cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def kill_when(worker: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    """SIGKILL the worker as soon as ``ready()`` holds: the stage is half done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        if ready():
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            flush_broker()
            return
        time.sleep(0.005)
    worker.kill()
    raise AssertionError(f"never caught the worker {what}")


def busy_with(table: str) -> bool:
    """Another connection has a transaction open on ``table``, running or between
    statements (the worker's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query ILIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0] > 0


def blocks(*statuses: str) -> int:
    return LedgerBlock.objects.filter(status__in=statuses).count()


def stage(name: str) -> tuple[float, float]:
    """(backlog, lag in seconds) of a stage, as /metrics shows it."""
    text = Client().get("/metrics").content.decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("stage") == name:
                found[sample.name] = sample.value
    return found["cg_stage_backlog"], found["cg_stage_lag_seconds"]


def page_waiting(name: str) -> int:
    staff = Client()
    staff.force_login(User.objects.get_or_create(username="op", is_staff=True)[0])
    html = staff.get("/admin/pipeline/").content.decode()
    row = html.split(f'data-stage="{name}"', 1)[1].split("</tr>", 1)[0]
    return int(row.split('class="num">', 1)[1].split("<", 1)[0])


def nonces_without_gaps(w3) -> None:
    used = sorted(LedgerBlock.objects.exclude(nonce=None).values_list("nonce", flat=True))
    assert used == list(range(used[0], used[0] + len(used))), used  # no gap, no repeat
    sent = w3.eth.get_transaction_count(client.engine_account().address)
    assert sent == used[-1] + 1  # the node saw every one of them, and nothing else
    heights = [
        e["args"]["height"]
        for e in client.anchor_contract().events.Anchored().get_logs(from_block=0)
    ]
    assert sorted(heights) == sorted(LedgerBlock.objects.values_list("ledger_height", flat=True))


def verified() -> None:
    assert list(ledger_problems()) == []


def test_a_worker_killed_in_the_hourly_step_loses_and_doubles_nothing(anvil_node):
    w3, url = anvil_node
    miners = [Miner(seed=5000 + i) for i in range(300)]
    for miner in miners:
        SourceFactory(miner_address=miner.address.lower())
    for miner in miners:  # a day of hourly reports each, pushed over JSON-RPC
        energy, batch = 0, []
        for hour in range(24):
            samples = hourly_report(START + dt.timedelta(hours=hour), energy, 500_000)
            energy = samples[-1][2]
            batch.append(call("tx_reportMinerPoGG", miner.report(samples), hour))
        assert {a.get("result") for a in post(Client(), batch).json()} == {"200"}
    worker = start_worker(url)

    app.send_task("energy.tasks.attribute_hours")
    kill_when(worker, lambda: busy_with("energy_"), "in the hourly step")

    assert Attribution.objects.count() == 0  # its transaction died with it
    assert stage("hours from readings")[0] == 300
    assert page_waiting("hours from readings") == 300
    run_until_idle()
    for source in Source.objects.all():
        rows = list(Attribution.objects.filter(source=source).order_by("seq"))
        assert len(rows) == 23  # 24 reports close 23 whole hours, once each
        assert len({r.effective_time for r in rows}) == 23
        assert sum(r.value for r in rows) == source.hourly_closed_energy  # conserved
    verified()
    nonces_without_gaps(w3)


def test_a_worker_killed_in_issuance_issues_every_rec_once(anvil_node):
    w3, url = anvil_node
    sources = [SourceFactory() for _ in range(400)]
    rows = [r for s in sources for r in append(s, [MWH // 2] * 20, start=START)]
    mark_processed(rows)  # 10 RECs a source
    worker = start_worker(url)

    app.send_task("recs.tasks.issue_due_recs")
    kill_when(worker, lambda: busy_with("recs_"), "in issuance")

    assert Rec.objects.count() in (0, 2500, 4000)  # whole batches of 250 sources, or none
    backlog = stage("issuance")[0]
    assert backlog == 400 - Rec.objects.count() // 10 and page_waiting("issuance") == backlog
    run_until_idle()
    assert recs_issue_all() == 0
    assert Rec.objects.count() == 4000
    for source in sources:
        assert sorted(Rec.objects.filter(source=source).values_list("serial", flat=True)) == list(
            range(1, 11)
        )
    verified()
    nonces_without_gaps(w3)


@pytest.mark.parametrize("moment", ["sending", "confirming"])
def test_a_worker_killed_while_anchoring_anchors_every_block_once(anvil_node, moment):
    w3, url = anvil_node
    for _ in range(30):
        append(SourceFactory(), [MWH // 7] * 20, start=START)
    worker = start_worker(url, BLOCK_MAX_TXS="5")  # 600 hours: 120 blocks to send

    app.send_task("chain.tasks.anchor_ledger")
    if moment == "sending":
        kill_when(worker, lambda: blocks("sent", "confirmed") >= 5 and blocks("sealed", "signed"),
                  "sending")  # fmt: skip
        backlog, lag = stage("sending")
        assert backlog > 0 and lag >= 0
    else:
        kill_when(worker, lambda: blocks("confirmed") >= 5 and blocks("sent"), "confirming")
        backlog, _ = stage("confirming")
        assert backlog > 0
    assert page_waiting(moment) == backlog

    run_until_idle()  # anchors what was left, then issues RECs and anchors them
    assert LedgerBlock.objects.filter(kind="attributions").count() == 120
    assert blocks("confirmed") == LedgerBlock.objects.count()
    assert set(Attribution.objects.values_list("state", flat=True)) == {"Processed"}
    verified()
    nonces_without_gaps(w3)
