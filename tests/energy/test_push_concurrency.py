"""Many requests for one source at once lose nothing and double nothing (PostgreSQL)."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client

from energy.models import Reading, Report, Source
from tests.factories import SourceFactory
from tests.pushing import Miner, call, hourly_report, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

START = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)


def run_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_clients_retrying_the_same_reports_at_once_store_each_sample_once():
    miner = Miner(seed=41)
    SourceFactory(miner_address=miner.address.lower())
    reports = [
        miner.report(hourly_report(START + dt.timedelta(hours=h), 1_000_000 * h, 1000))
        for h in range(8)
    ]

    def client(_):
        answers = [post(Client(), call("tx_reportMinerPoGG", r)).json() for r in reports]
        return [a.get("result") for a in answers]

    results = run_threads(6, client)

    # Every client sends in order, so whoever first reaches a report finds all
    # earlier ones stored: every copy is either stored or a retry, all accepted.
    assert results == [["200"] * 8] * 6
    expected = sorted({s for r in reports for s in r["dataList"]})
    assert Reading.objects.count() == len(expected) == 96
    source = Source.objects.get()
    newest = Reading.objects.order_by("-sample_time").first()
    assert (source.last_sample_time, source.last_energy) == (newest.sample_time, newest.energy)
    assert sum(Report.objects.values_list("samples", flat=True)) == 96


def test_batches_for_many_miners_at_once_keep_every_sample():
    miners = [Miner(seed=500 + i) for i in range(20)]
    for m in miners:
        SourceFactory(miner_address=m.address.lower())

    def client(i):
        # Each thread sends one hour for every miner, in a different miner order.
        hour = START + dt.timedelta(hours=i)
        order = miners[i:] + miners[:i]
        batch = [
            call("tx_reportMinerPoGG", m.report(hourly_report(hour, 1000 * i, 60)), n)
            for n, m in enumerate(order)
        ]
        return [a.get("result") or a["error"]["code"] for a in post(Client(), batch).json()]

    results = run_threads(4, client)

    accepted = sum(r.count("200") for r in results)
    assert accepted + sum(r.count(12207) for r in results) == 80
    assert Reading.objects.count() == accepted * 12
    for source in Source.objects.all():
        newest = source.readings.order_by("-sample_time").first()
        assert source.last_energy == newest.energy
