"""The database itself refuses ledger rows that break an invariant."""

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction

from core.units import MWH
from energy.models import Attribution, Source
from recs.models import Link, Numbering, Rec
from tests.factories import T0, SourceFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db


def refused(write: Callable[[], object]) -> None:
    """Assert the database refuses this direct write."""
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def attribution(source, **fields) -> Attribution:
    values = {
        "source": source,
        "seq": 1,
        "external_id": "x",
        "effective_time": T0,
        "value": 5,
    }
    return Attribution(**(values | fields))


def test_a_well_formed_attribution_is_accepted(source):
    attribution(source).save()
    # seq and counters are the services' business; this only shows the baseline row passes.


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "Done"},
        {"effective_time": T0 + dt.timedelta(minutes=30)},
        {"hash": "XYZ"},
        {"state": "Processed"},  # without hash, height and block id
        {"state": "Pending"},  # without a hash
        {"block_id": "remainder"},  # only service transactions carry it
        {"seq": None},  # metered ones have a position
        {"seq": 0},
    ],
)
def test_bad_attribution_rows_are_refused(source, fields):
    refused(lambda: attribution(source, **fields).save())


def test_external_ids_and_hours_are_unique_per_source(source):
    attribution(source).save()

    refused(lambda: attribution(source, seq=2, effective_time=T0 + dt.timedelta(hours=1)).save())
    refused(lambda: attribution(source, seq=2, external_id="y").save())
    refused(
        lambda: attribution(
            source, external_id="y", effective_time=T0 + dt.timedelta(hours=1)
        ).save()
    )
    attribution(SourceFactory(), external_id="x").save()  # another source may reuse it


def test_a_remainder_transaction_must_be_processed_positive_and_split_off(source):
    attrs = append(source, [MWH + 5])
    mark_processed(attrs)
    good = {
        "source": source,
        "kind": "remainder",
        "seq": None,
        "block_id": "remainder",
        "state": "Processed",
        "split_from": attrs[0],
        "external_id": "r",
    }

    refused(lambda: attribution(**(good | {"split_from": None})).save())
    refused(lambda: attribution(**(good | {"value": 0})).save())
    refused(lambda: attribution(**(good | {"state": "New"})).save())
    refused(lambda: attribution(**(good | {"block_id": "abc"})).save())
    attribution(**good).save()


def bare_rec(source) -> Rec:
    """A REC row with no transactions: only to show what the database refuses."""
    numbering, _ = Numbering.objects.get_or_create(customer=source.customer)
    numbering.rec_count += 1
    numbering.save()
    return Rec.objects.create(customer=source.customer, source=source, seq=numbering.rec_count)


def forge_processed(row: Attribution) -> None:
    """Move a row the pipeline never seals (consumption) to Processed by hand."""
    Attribution.objects.filter(pk=row.pk).update(
        state="Processed", hash="ab" * 32, height=1, block_id="cd" * 32
    )


@pytest.mark.postgres
def test_only_processed_generation_of_the_recs_source_enters_a_rec(source):
    [new] = append(source, [5])
    [negative, good] = append(source, [-5, 7], start=T0 + dt.timedelta(hours=1))
    mark_processed([good])
    forge_processed(negative)
    [elsewhere] = append(other := SourceFactory(customer=source.customer), [9])
    mark_processed([elsewhere])
    rec = bare_rec(source)

    refused(lambda: Link.objects.create(attribution=new, rec=rec))
    refused(lambda: Link.objects.create(attribution=negative, rec=rec))
    refused(lambda: Link.objects.create(attribution=elsewhere, rec=rec))
    refused(lambda: Link.objects.create(attribution=good, rec=bare_rec(other)))
    refused(lambda: Link.objects.create(attribution=good, rec_id=rec.pk + 1000))
    refused(lambda: Link.objects.create(attribution_id=good.pk + 1000, rec=rec))
    refused(lambda: Link.objects.create(attribution=good, rec=rec, remainder=7))
    refused(lambda: Link.objects.create(attribution=good, rec=rec, remainder=-1))
    # One bad link refuses the whole statement, the good ones with it.
    refused(
        lambda: Link.objects.bulk_create(
            [Link(attribution=good, rec=rec), Link(attribution=new, rec=rec)]
        )
    )
    assert not Link.objects.filter(rec=rec).exists()
    Link.objects.create(attribution=good, rec=rec, remainder=6)


def test_a_rec_is_exactly_one_mwh(source):
    refused(
        lambda: Rec.objects.create(customer=source.customer, source=source, seq=1, value=MWH - 1)
    )
    refused(lambda: Rec.objects.create(customer=source.customer, source=source, seq=0))
    refused(
        lambda: Rec.objects.create(
            customer=source.customer, source=source, seq=1, state="Processed"
        )
    )


def test_recs_are_unique_per_customer_position(source):
    Rec.objects.create(customer=source.customer, source=source, seq=1)

    refused(lambda: Rec.objects.create(customer=source.customer, source=source, seq=1))


@pytest.mark.parametrize(
    "fields",
    [
        {"client_id": "0x12"},
        {"miner_address": "0x1134e1FEcA30FE9EAF77222b30C6CC571b33CD52"},  # not lower-cased
        {"miner_address": "0xabc"},
        {"type": "nuclear"},
        {"node_type": "planet"},
        {"state": "broken"},
        {"capacity_wh": 0},
        {"emission_factor": -1},
        {"attribution_count": 1},  # counters must partition the transactions
    ],
)
def test_bad_source_rows_are_refused(customer, fields):
    refused(lambda: SourceFactory(customer=customer, **fields))


def test_external_ids_are_unique_per_customer(customer):
    SourceFactory(customer=customer, external_id="m-1")

    refused(lambda: SourceFactory(customer=customer, external_id="m-1"))
    SourceFactory(external_id="m-1")  # another customer


def test_a_source_cannot_be_its_own_parent(source):
    refused(lambda: Source.objects.filter(pk=source.pk).update(parent=source))


@pytest.mark.postgres
class TestAppendOnly:
    """What a transaction asserts never changes, and it is never deleted."""

    def test_deleting_an_attribution_is_refused(self, source):
        [row] = append(source, [5])

        refused(lambda: Attribution.objects.filter(pk=row.pk).delete())

    @pytest.mark.parametrize(
        "change",
        [
            {"value": 6},
            {"effective_time": T0 + dt.timedelta(days=9)},
            {"external_id": "rewritten"},
        ],
    )
    def test_rewriting_an_attribution_is_refused(self, source, change):
        [row] = append(source, [5])

        refused(lambda: Attribution.objects.filter(pk=row.pk).update(**change))

    def test_moving_forward_is_allowed(self, source):
        rows = append(source, [5])

        mark_processed(rows)

        assert Attribution.objects.get(pk=rows[0].pk).state == "Processed"

    def test_a_transactions_rec_and_remainder_are_final_once_set(self, source):
        rows = append(source, [MWH + 5, 7])
        mark_processed(rows[:1])
        [rec] = issue(source)  # the first transaction keeps 5 mWh for the next REC
        mark_processed(rows[1:])
        link = Link.objects.filter(attribution=rows[0])

        refused(lambda: link.update(remainder=4))
        refused(lambda: link.update(rec=bare_rec(source)))
        refused(lambda: link.delete())
        refused(lambda: Link.objects.create(attribution=rows[0], rec=rec))  # in one REC only
        Link.objects.create(attribution=rows[1], rec=rec)  # joining a REC is allowed

    def test_deleting_or_rewriting_a_rec_is_refused(self, source):
        rec = bare_rec(source)

        refused(lambda: Rec.objects.filter(pk=rec.pk).delete())
        refused(lambda: Rec.objects.filter(pk=rec.pk).update(source=SourceFactory()))
