"""Concurrent writers against the real PostgreSQL: nothing lost, nothing doubled."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from energy.models import Attribution, Source
from energy.services import NewAttribution, attributions_append, source_create
from tests.energy.test_ledger_services import assert_in_step
from tests.factories import T0, CustomerFactory, SourceFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def in_thread(work):
    def run(*args):
        try:
            return work(*args)
        finally:
            connection.close()

    return run


def test_parallel_appends_to_one_source_keep_positions_and_counters_exact():
    source = SourceFactory()
    hours = iter(range(10_000))
    lock = threading.Lock()
    accepted, refused = [], []

    @in_thread
    def writer(worker: int) -> None:
        for _ in range(15):
            with lock:
                hour = next(hours)
            rows = [NewAttribution(f"w{worker}-h{hour}", T0 + dt.timedelta(hours=hour), hour + 1)]
            try:
                attributions_append(source=source, rows=rows)
                accepted.append(hour)
            except ValidationError:
                refused.append(hour)  # a later hour committed first: refused, not reordered

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))

    assert len(accepted) + len(refused) == 60 and accepted
    stored = list(Attribution.objects.filter(source=source).order_by("seq"))
    assert sorted(accepted) == [int(a.external_id.split("-h")[1]) for a in stored]
    assert_in_step(source)


def test_racing_creates_of_one_external_id_make_one_source():
    customer = CustomerFactory()
    barrier = threading.Barrier(4)

    @in_thread
    def create(i: int) -> str:
        barrier.wait()
        try:
            source_create(
                customer=customer, external_id="meter-1", name=f"try {i}", capacity_wh=1000
            )
            return "created"
        except ValidationError:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(create, range(4)))

    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert Source.objects.filter(customer=customer, external_id="meter-1").count() == 1
