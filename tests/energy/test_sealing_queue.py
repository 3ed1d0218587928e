"""Generation waits in its own queue to be sealed, and marking a block's rows
rewrites them in place: no index of the attribution table names what anchoring
writes."""

import datetime as dt

import pytest

from chain.audit import ledger_problems
from chain.models import LedgerBlock
from chain.services import blocks_seal
from energy.models import Attribution, Unsealed
from tests.factories import (
    T0,
    SourceFactory,
    append,
    assert_ledger_verified,
    mark_processed,
    node_calls_in_the_test_transaction,
)
from tests.table_stats import table_stats

pytestmark = pytest.mark.django_db


def waiting() -> set[int]:
    return set(Unsealed.objects.values_list("attribution_id", flat=True))


def problems() -> list[str]:
    with node_calls_in_the_test_transaction():
        return list(ledger_problems())


def test_generation_waits_to_be_sealed_until_a_block_seals_it():
    source = SourceFactory()
    generation, nothing, _consumption = append(source, [5, 0, -3])

    # Consumption is never sealed; an hour of nothing is, as a zero.
    assert waiting() == {generation.pk, nothing.pk}
    assert blocks_seal() == 2
    assert waiting() == set()
    [block] = LedgerBlock.objects.all()
    assert block.leaf_ids_list() == [generation.pk, nothing.pk]
    # Sealed again by nothing: what was sealed left the queue with its block.
    assert blocks_seal() == 0


def test_sealing_takes_the_oldest_hours_first_whenever_they_arrived():
    early, late = SourceFactory(), SourceFactory()
    later = append(early, [1, 2], start=T0 + dt.timedelta(hours=5))
    assert blocks_seal(limit=1) == 1
    # An hour older than everything sealed so far arrives late: it goes next.
    [old] = append(late, [7])

    assert blocks_seal(limit=1) == 1
    newest = LedgerBlock.objects.order_by("-ledger_height").first()
    assert newest.leaf_ids_list() == [old.pk]
    assert waiting() == {later[1].pk}


def test_verify_ledger_names_generation_lost_from_the_queue_or_left_in_it():
    source = SourceFactory()
    sealed, lost = append(source, [5, 6])
    mark_processed([sealed])
    assert_ledger_verified()

    Unsealed.objects.filter(attribution_id=lost.pk).delete()
    Unsealed.objects.create(attribution_id=sealed.pk, effective_time=sealed.effective_time, xid=0)

    said = problems()
    assert f"attribution {lost.pk}: generation in no block and not waiting to be sealed" in said
    assert f"attribution {sealed.pk}: waits to be sealed, though it is in a block" in said


@pytest.mark.postgres
def test_marking_a_blocks_rows_rewrites_each_in_its_page_and_writes_no_index():
    source = SourceFactory()
    rows = append(source, list(range(1, 25)))
    before = _updates()

    mark_processed(rows)

    updated, in_place = (after - was for after, was in zip(_updates(), before, strict=True))
    assert updated == len(rows)  # each row written once, straight to Processed
    assert in_place == len(rows)  # HOT: same page, no index entry written
    assert set(Attribution.objects.values_list("state", flat=True)) == {"Processed"}
    assert_ledger_verified()


def _updates() -> tuple[int, int]:
    """Row updates of energy_attribution in this transaction, and how many were HOT."""
    return table_stats("energy_attribution", "n_tup_upd", "n_tup_hot_upd")


def test_verify_ledger_names_a_row_waiting_though_a_block_not_yet_sent_seals_it():
    source = SourceFactory()
    [row] = append(source, [5])
    assert blocks_seal() == 1  # sealed, not yet sent: the row does not name its block yet
    Unsealed.objects.create(attribution_id=row.pk, effective_time=row.effective_time, xid=0)

    assert f"attribution {row.pk}: waits to be sealed, though a block seals it" in problems()


@pytest.mark.postgres
def test_sealing_takes_its_rows_off_the_queue_without_reading_the_whole_queue():
    # A queue never analyzed (as one just filled): an array of ids to delete was
    # planned as a scan of every queued row, once for each block.
    source = SourceFactory()
    rows = append(source, [1] * 3000)
    before = _queue_scans()

    assert blocks_seal(limit=100) == 100

    assert _queue_scans() == before
    [block] = LedgerBlock.objects.all()
    assert block.leaf_ids_list() == [row.pk for row in rows[:100]]
    assert waiting() == {row.pk for row in rows[100:]}


def _queue_scans() -> int:
    """Whole-table scans of energy_unsealed in this transaction."""
    return table_stats("energy_unsealed", "seq_scan")[0]


@pytest.mark.postgres
def test_verify_ledger_names_a_row_waiting_where_sealing_no_longer_looks():
    source = SourceFactory()
    _first, second = append(source, [1, 2], start=T0 + dt.timedelta(hours=5))
    assert blocks_seal(limit=1) == 1  # sealing looks past the first row from now on
    assert problems() == []

    # Queued by a transaction that ended before sealing looked, yet older than its cursor.
    Unsealed.objects.filter(attribution_id=second.pk).update(effective_time=T0, xid=1)

    message = f"attribution {second.pk}: waits before the sealing cursor, where sealing never looks"
    assert message in problems()
