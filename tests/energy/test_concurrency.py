"""Concurrent writers against the real PostgreSQL: nothing lost, nothing doubled."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from chain.audit import ledger_problems
from chain.models import LedgerBlock
from chain.services import blocks_seal
from energy.models import Attribution, DailyAggregate, Source
from energy.services import NewAttribution, attributions_append, source_create
from tests.energy.test_ledger_services import assert_in_step
from tests.factories import (
    T0,
    CustomerFactory,
    SourceFactory,
    append,
    node_calls_in_the_test_transaction,
)

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


@pytest.mark.parametrize("first", ["writer", "deleter"])
def test_a_source_is_never_deleted_under_a_daily_row_being_written(first):
    """The daily rows' source is checked per statement (core.ledger_guard.owned_by),
    with the lock a foreign key takes: whichever of a writer and a deleter goes first,
    the other waits for it, then is refused; no row is left naming no source."""
    source = SourceFactory()
    went, done = threading.Event(), threading.Event()
    statements = {
        "writer": (
            "INSERT INTO energy_dailyaggregate (source_id, seq, day, state, number, value)"
            " VALUES (%s, 1, '2024-01-01', 'New', 1, 5)"
        ),
        "deleter": "DELETE FROM energy_source WHERE id = %s",
    }

    @in_thread
    def run(role: str) -> str:
        if role != first:
            went.wait(10)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statements[role], [source.pk])
                if role == first:
                    went.set()
                    done.wait(1)  # hold the transaction open while the other tries
            return "written"
        except IntegrityError:
            return "refused"
        finally:
            done.set()

    with ThreadPoolExecutor(2) as pool:
        roles = ["writer", "deleter"]
        outcomes = dict(zip(roles, pool.map(run, roles), strict=True))

    second = "deleter" if first == "writer" else "writer"
    assert outcomes == {first: "written", second: "refused"}
    kept = Source.objects.filter(pk=source.pk).exists()
    rows = DailyAggregate.objects.filter(source_id=source.pk).count()
    assert (kept, rows) == ((True, 1) if first == "writer" else (False, 0))


def test_a_late_hour_committed_while_sealing_looked_is_sealed_by_its_next_look():
    early, late = SourceFactory(), SourceFactory()
    append(early, [1, 2, 3], start=T0 + dt.timedelta(hours=10))
    assert blocks_seal(limit=1) == 1
    queued, looked = threading.Event(), threading.Event()

    @in_thread
    def writer() -> Attribution:
        with transaction.atomic():
            [row] = append(late, [7])  # older than every hour sealed, and not committed
            queued.set()
            assert looked.wait(10)
        return row

    with ThreadPoolExecutor(1) as pool:
        written = pool.submit(writer)
        assert queued.wait(10)
        # Sealing looks while the late hour's transaction is open, and moves on.
        assert blocks_seal(limit=1) == 1
        looked.set()
        old = written.result()

    assert blocks_seal(limit=1) == 1
    newest = LedgerBlock.objects.order_by("-ledger_height").first()
    assert newest.leaf_ids_list() == [old.pk]  # the oldest hour went next
    assert blocks_seal() == 1 and blocks_seal() == 0
    with node_calls_in_the_test_transaction():
        assert list(ledger_problems()) == []
