"""/metrics: the pipeline's backlog and lag as Prometheus series, for the operators only."""

import datetime as dt
import ipaddress
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core.units import MWH
from energy.models import Attribution, Quality
from tests.factories import SourceFactory, append, issue, mark_pending, mark_processed
from tests.pushing import Miner, call, hourly_report, post

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


def scrape(client=None, **headers) -> dict[tuple, float]:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_the_ledger_series_follow_the_pipeline(chain):
    source = SourceFactory()
    rows = append(source, [MWH] * 4 + [MWH // 2] * 2, start=NOW - dt.timedelta(hours=10))
    mark_processed(rows[:2])
    issue(source)
    mark_pending(rows[2:4])
    Attribution.objects.filter(pk=rows[4].pk).update(quality=Quality.QUARANTINED)

    series = scrape()

    assert series[("cg_attributions", (("state", "New"),))] == 2
    assert series[("cg_attributions", (("state", "Pending"),))] == 2
    assert series[("cg_attributions", (("state", "Processed"),))] == 2
    assert series[("cg_recs_issued", ())] == 2
    assert series[("cg_quarantined_hours", ())] == 1
    # The oldest hour not sealed is rows[4]: it began six hours before this hour did.
    age = series[("cg_attribution_oldest_new_age_seconds", ())]
    assert 6 * 3600 <= age < 7 * 3600 + 600  # NOW is the start of the current hour
    assert series[("cg_ledger_blocks", (("status", "sent"),))] == 1  # the Pending rows' block
    assert series[("cg_ledger_oldest_unconfirmed_age_seconds", ())] >= 0
    assert series[("cg_node_up", ())] == 1
    assert series[("cg_signer_balance_wei", ())] > 0
    assert series[("cg_node_head_block", ())] >= 1


def test_reports_are_counted_by_outcome(chain):
    miner = Miner(seed=31)
    SourceFactory(miner_address=miner.address.lower())
    good = miner.report(hourly_report(NOW - dt.timedelta(hours=3), 0, 1000))
    bad = dict(good, signature="1" * 88)
    before = scrape()

    post(Client(), [call("tx_reportMinerPoGG", good, 1), call("tx_reportMinerPoGG", bad, 2)])

    after = scrape()
    accepted = ("cg_reports_total", (("method", "tx_reportMinerPoGG"), ("outcome", "accepted")))
    samples = ("cg_samples_total", (("method", "tx_reportMinerPoGG"), ("outcome", "accepted")))
    assert after[accepted] - before.get(accepted, 0) == 1
    assert after[samples] - before.get(samples, 0) == 12
    refused = [
        k for k in after if k[0] == "cg_reports_total" and ("outcome", "accepted") not in k[1]
    ]
    assert any(after[k] - before.get(k, 0) == 1 for k in refused)


def test_task_durations_are_recorded_per_stage(chain):
    from energy.tasks import attribute_hours

    attribute_hours.apply()  # in this process, as a worker runs it

    series = scrape()
    key = ("cg_task_duration_seconds_count", (("task", attribute_hours.name),))
    assert series[key] >= 1


def test_a_node_down_shows_as_a_series(settings):
    from chain import client

    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:1"
    client.use_web3(None)

    series = scrape()

    assert series[("cg_node_up", ())] == 0
    assert ("cg_signer_balance_wei", ()) not in series


def test_only_loopback_reads_metrics_unless_settings_say_more(settings):
    far = {"REMOTE_ADDR": "10.1.2.3"}

    refused = Client().get("/metrics", **far)

    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    settings.METRICS_TOKEN = "s3cret-token"
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **far).status_code == 403
    allowed = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **far)
    assert allowed.status_code == 200
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert Client().get("/metrics", **far).status_code == 200


def test_a_scrape_costs_the_same_few_queries_however_big_the_ledger(chain):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape()
        return len(captured)

    source = SourceFactory()
    mark_processed(append(source, [MWH] * 3))
    small = queries()
    for _ in range(10):
        mark_processed(append(SourceFactory(), [MWH] * 30))
    issue(source)

    assert queries() == small <= 20


PUSHER = textwrap.dedent(
    """
    import django
    django.setup()
    from energy.metrics import REPORTS
    REPORTS.labels("tx_reportMinerPoGG", "accepted").inc(5)
    """
)
SCRAPER = textwrap.dedent(
    """
    import django
    django.setup()
    from cg.metrics import exposition
    print(exposition().decode())
    """
)


@pytest.mark.postgres
def test_processes_add_up_in_multiprocess_mode(tmp_path):
    from django.db import connection

    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DATABASE_URL": f"postgresql://127.0.0.1:5432/{connection.settings_dict['NAME']}",
    }
    for _ in range(2):  # two worker processes, each its own file
        subprocess.run([sys.executable, "-c", PUSHER], env=env, cwd=ROOT, check=True)

    out = subprocess.run([sys.executable, "-c", SCRAPER], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip

    line = 'cg_reports_total{method="tx_reportMinerPoGG",outcome="accepted"} 10.0'
    assert line in out
    assert "cg_attributions{" in out


def test_the_grafana_dashboard_draws_series_that_metrics_exposes(chain):
    import json
    import re

    def family(name: str) -> str:
        return re.sub(r"_(total|bucket|count|sum)$", "", name)

    dashboard = json.loads((ROOT / "docker" / "grafana-dashboard.json").read_text())
    text = Client().get("/metrics").content.decode()
    exposed = {family(name) for name in re.findall(r"^# TYPE (\S+)", text, re.M)}
    drawn = {
        family(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcg_[a-z_]+", target["expr"])
    }

    assert len(dashboard["panels"]) >= 10
    assert drawn and drawn - exposed == set()
