"""Readings become hourly attributions: the pipeline step, its task and its command."""

import datetime as dt
import threading
from io import StringIO

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from cg.celery import app
from energy.hourly import attribute_due_hours
from energy.models import Attribution, Reading, Source
from energy.tasks import attribute_hours
from tests.energy.test_ledger_services import assert_in_step
from tests.factories import SourceFactory, token_for
from tests.pushing import Miner, call, hourly_report, post

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=3
)


def push(miner: Miner, samples: list[tuple]) -> None:
    answer = post(Client(), call("tx_reportMinerPoGG", miner.report(samples))).json()
    assert answer.get("result") == "200", answer


def a_day_of_reports(miner: Miner, watts_by_hour: list[int]) -> int:
    """The first report's 0/0 sample at midnight, then 24 hourly reports of 12 samples."""
    push(miner, [(DAY, 0, 0)])
    energy = 0
    for hour, watts in enumerate(watts_by_hour):
        samples = hourly_report(DAY + dt.timedelta(hours=hour, minutes=5), energy, watts)
        # Shift by one step so each report ends on the hour.
        samples = [(t, p, e + watts * 1000 * 5 // 60) for t, p, e in samples]
        push(miner, samples)
        energy = samples[-1][2]
    return energy


@pytest.fixture
def miner(customer):
    miner = Miner(seed=31)
    SourceFactory(customer=customer, miner_address=miner.address.lower(), emission_factor="0.5")
    return miner


SOLAR_DAY = (
    [0] * 6 + [200, 900, 2000, 3500, 4200, 4800, 5000, 4700, 4000, 3000, 1800, 600] + [0] * 6
)


def test_a_day_of_hourly_reports_gives_24_attributions_that_add_up(miner, api):
    total = a_day_of_reports(miner, SOLAR_DAY)

    made = attribute_due_hours()

    source = Source.objects.get()
    rows = list(Attribution.objects.filter(source=source).order_by("effective_time"))
    assert made == 24 and len(rows) == 24
    assert [r.effective_time for r in rows] == [DAY + dt.timedelta(hours=h) for h in range(24)]
    per_hour = [12 * (w * 1000 * 5 // 60) for w in SOLAR_DAY]  # twelve 5-minute steps
    assert [r.value for r in rows] == per_hour
    assert sum(r.value for r in rows) == total
    assert {r.state for r in rows} == {"New"}
    assert rows[12].carbon_offset == per_hour[12] // 2  # x 0.5 t/MWh, in mg
    assert len({r.external_id for r in rows}) == 24
    assert_in_step(source)
    daily = api.get(f"/api/v1/energy/attributions/{source.pk}/daily").json()
    assert daily == [
        {
            "total": 1,
            "effective_time": daily[0]["effective_time"],
            "number": 24,
            "state": "New",
            "value": total / 10**9,
        }
    ]


def test_running_again_makes_nothing_new_until_a_later_reading_arrives(miner):
    a_day_of_reports(miner, SOLAR_DAY)
    attribute_due_hours()

    assert attribute_due_hours() == 0
    push(miner, [(DAY + dt.timedelta(hours=24, minutes=30), 0, 41_100_000)])
    assert attribute_due_hours() == 0  # the hour from 24:00 closes at 25:00
    push(miner, [(DAY + dt.timedelta(hours=25), 0, 41_100_000)])
    assert attribute_due_hours() == 1


def test_a_gap_between_reports_is_apportioned_across_its_hours(miner):
    push(miner, [(DAY, 0, 0), (DAY + dt.timedelta(minutes=30), 0, 1000)])
    push(miner, [(DAY + dt.timedelta(hours=3, minutes=30), 0, 7000)])

    attribute_due_hours()

    values = list(Attribution.objects.order_by("effective_time").values_list("value", flat=True))
    assert values == [2000, 2000, 2000]  # 2 mWh a minute from 00:30 to 03:30


def test_consumption_becomes_negative_transactions_that_stay_new(customer, api):
    consumer = SourceFactory(customer=customer, type="consumer")
    readings = [
        (DAY, 0),
        (DAY + dt.timedelta(hours=1), 3_000_000),
        (DAY + dt.timedelta(hours=2), 3_500_000),
    ]
    for when, energy in readings:
        # Consumption is stamped on receipt; store these samples as if received then.
        Reading.objects.create(
            source=consumer,
            report=consumer.reports.create(
                method="edr_reportConsumeData",
                received=when,
                request_id="00000000-0000-0000-0000-000000000000",
                samples=1,
            ),
            sample_time=when,
            power=0,
            energy=energy,
        )
    Source.objects.filter(pk=consumer.pk).update(
        last_sample_time=readings[-1][0], last_energy=3_500_000
    )

    attribute_due_hours()

    [source] = api.get("/api/v1/energy/sources").json()
    assert (source["new_number"], source["new_sum"]) == (2, -0.0035)
    assert (source["without_rec_number"], source["rec_number"]) == (0, 0)
    assert [a["value"] for a in api.get(f"/api/v1/energy/attributions/{consumer.pk}").json()] == [
        -0.0005,
        -0.003,
    ]


def test_consumption_pushed_over_json_rpc_is_recorded(customer):
    consumer = SourceFactory(customer=customer, type="consumer")
    token = token_for(customer)
    for energy in (10, 20):
        params = {"clientId": consumer.client_id, "power": 5, "energy": energy}
        answer = post(
            Client(), call("edr_reportConsumeData", params), HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        assert answer.json()["result"] == "OK"

    assert list(Reading.objects.values_list("energy", flat=True)) == [10, 20]


@pytest.mark.django_db(transaction=True)
def test_run_pipeline_runs_until_idle_and_says_what_it_did(chain, customer):
    miner = Miner(seed=33)
    SourceFactory(customer=customer, miner_address=miner.address.lower())
    a_day_of_reports(miner, SOLAR_DAY)
    out = StringIO()

    call_command("run_pipeline", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[-1] == (
        "pipeline idle (hourly attributions 24, ledger rows sealed 24, blocks sent 1,"
        " blocks confirmed 1, RECs issued 0, mints sent 0, mints confirmed 0,"
        " token events indexed 0)"
    )
    assert set(Attribution.objects.values_list("state", flat=True)) == {"Processed"}


@pytest.mark.django_db(transaction=True)
def test_the_task_runs_on_a_celery_worker_through_redis(customer):
    miner = Miner(seed=32)
    SourceFactory(customer=customer, miner_address=miner.address.lower())
    a_day_of_reports(miner, SOLAR_DAY)

    # What other runs left in the broker (queued, or unacknowledged by a worker that
    # died, which Redis hands out again an hour later) is not this test's.
    if settings.CELERY_BROKER_URL.startswith("redis"):
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with start_worker(app, perform_ping_check=False, pool="solo"):
        result = attribute_hours.delay()
        assert result.get(timeout=30) == 24

    assert Attribution.objects.count() == 24


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_workers_running_the_step_at_once_split_the_sources(customer):
    miners = [Miner(seed=100 + i) for i in range(6)]
    for m in miners:
        SourceFactory(customer=customer, miner_address=m.address.lower())
        a_day_of_reports(m, SOLAR_DAY)
    barrier = threading.Barrier(3)
    made, errors = [], []

    def worker():
        try:
            barrier.wait()
            while done := attribute_due_hours(limit=1):
                made.append(done)
        except Exception as error:  # reported below: a thread's failure must fail the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(made) == Attribution.objects.count() == 6 * 24
    for source in Source.objects.all():
        assert_in_step(source)
