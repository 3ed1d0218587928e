"""The database itself refuses ledger rows that break an invariant."""

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction

from chain.models import LedgerBlock
from core.units import MWH
from energy.models import Attribution, Customer, DailyAggregate, Source
from recs.models import Numbering, Rec, Remainder, Span
from tests.factories import (
    T0,
    CustomerFactory,
    SourceFactory,
    append,
    issue,
    mark_processed,
    rec_row,
)

pytestmark = pytest.mark.django_db


def refused(write: Callable[[], object]) -> None:
    """Assert the database refuses this direct write."""
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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
        {"block_id": "remainder"},  # only REC service transactions carry it
        {"seq": None},  # every one has a position
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


def bare_rec(source) -> Rec:
    """A REC row with no transactions: only to show what the database refuses."""
    numbering, _ = Numbering.objects.get_or_create(customer=source.customer)
    numbering.rec_count += 1
    numbering.save()
    return rec_row(
        source,
        seq=numbering.rec_count,
        serial=Rec.objects.filter(source=source).count() + 1,
    )


def forge_processed(row: Attribution) -> None:
    """Move a row the pipeline never seals (consumption) to Processed by hand."""
    Attribution.objects.filter(pk=row.pk).update(
        state="Processed", hash="ab" * 32, height=1, block_id="cd" * 32
    )


def span(rec: Rec, first: int, last: int, remainder: int = 0, **fields) -> Span:
    good = {"rec": rec, "source_id": rec.source_id, "seq_first": first, "seq_last": last,
            "remainder": remainder}  # fmt: skip
    return Span(**(good | fields))


@pytest.mark.postgres
def test_only_processed_generation_of_the_recs_source_enters_a_rec(source):
    append(source, [5])  # seq 1: New
    negative, good, _zero, also = append(source, [-5, 7, 0, 8], start=T0 + dt.timedelta(hours=1))
    mark_processed([good, also])
    forge_processed(negative)
    [elsewhere] = append(other := SourceFactory(customer=source.customer), [9])
    mark_processed([elsewhere])
    rec = bare_rec(source)

    refused(lambda: span(rec, 1, 1).save())  # New
    refused(lambda: span(rec, 1, 3).save())  # covers a New one
    refused(lambda: span(rec, 2, 2).save())  # negative
    refused(lambda: span(rec, 3, 4).save())  # ends at a row of no energy
    refused(lambda: span(bare_rec(other), 3, 3).save())  # the REC is of another source
    refused(lambda: span(rec, 3, 3, source_id=other.pk).save())
    refused(lambda: span(rec, 3, 3, rec_id=rec.pk + 1000).save())
    refused(lambda: span(rec, 9, 9).save())  # no such transaction
    refused(lambda: span(rec, 3, 3, remainder=7).save())  # more than it has left
    refused(lambda: span(rec, 3, 3, remainder=-1).save())
    refused(lambda: span(rec, 4, 3).save())
    # One bad span refuses the whole statement, the good ones with it.
    refused(lambda: Span.objects.bulk_create([span(rec, 3, 3), span(rec, 1, 1)]))
    assert not Span.objects.filter(rec=rec).exists()
    span(rec, 3, 5, remainder=6).save()
    assert Attribution.objects.get(pk=good.pk).rec == rec
    assert Attribution.objects.get(pk=_zero.pk).rec is None  # no energy: in no REC
    assert Attribution.objects.get(pk=also.pk).remainder == 6


@pytest.mark.postgres
def test_spans_of_a_source_never_overlap(source):
    rows = append(source, [5, 6, 7, 8])
    mark_processed(rows)
    first, second = bare_rec(source), bare_rec(source)
    span(first, 2, 3).save()

    refused(lambda: span(second, 3, 4).save())
    refused(lambda: span(second, 1, 4).save())
    refused(lambda: span(second, 2, 2).save())
    refused(lambda: Span.objects.bulk_create([span(second, 4, 4), span(first, 4, 4)]))
    Span.objects.bulk_create([span(second, 1, 1), span(second, 4, 4)])  # around it


@pytest.mark.postgres
def test_a_remainder_opens_a_rec_with_processed_energy_of_its_source(source):
    [big, pending] = append(source, [MWH + 5, 9])
    mark_processed([big])
    [elsewhere] = append(other := SourceFactory(customer=source.customer), [9])
    mark_processed([elsewhere])
    rec = bare_rec(source)

    def opener(**fields) -> Remainder:
        good = {
            "rec": rec, "source": source, "split_from": big, "effective_time": T0, "value": 5,
            "external_id": "r",
        }  # fmt: skip
        return Remainder(**(good | fields))

    refused(lambda: opener(value=0).save())
    refused(lambda: opener(remainder=5).save())
    refused(lambda: opener(split_from=pending).save())  # not Processed
    refused(lambda: opener(split_from=elsewhere).save())
    refused(lambda: opener(rec=bare_rec(other)).save())
    refused(lambda: opener(value=MWH + 6).save())  # more than the transaction had
    refused(lambda: opener(rec_id=rec.pk + 1000).save())
    opener().save()
    refused(lambda: opener(external_id="again").save())  # a REC opens once


def test_a_rec_is_exactly_one_mwh(source):
    refused(lambda: rec_row(source, seq=1, serial=1, value=MWH - 1))
    refused(lambda: rec_row(source, seq=0, serial=1))
    refused(lambda: rec_row(source, seq=1, serial=0))
    refused(lambda: rec_row(source, seq=1, serial=1, production_end=T0 - dt.timedelta(hours=1)))
    refused(lambda: rec_row(source, seq=1, serial=1, state="Processed"))


def test_recs_are_unique_per_customer_position_and_source_serial(source):
    rec_row(source, seq=1, serial=1)

    refused(lambda: rec_row(source, seq=1, serial=2))
    refused(lambda: rec_row(source, seq=2, serial=1))


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


def test_a_rec_and_a_daily_row_name_only_a_customer_and_source_that_exist(source):
    missing = Source.objects.order_by("-pk").first().pk + 1
    nobody = Customer.objects.order_by("-pk").first().pk + 1

    def recs(**bad):
        fields = {"customer_id": source.customer_id, "source_id": source.pk}
        hours = {"production_start": T0, "production_end": T0}
        # One statement over two rows, the second naming nobody: neither is written,
        # and at once, not when the transaction commits.
        Rec.objects.bulk_create(
            [Rec(seq=1, serial=1, **fields, **hours), Rec(seq=2, serial=2, **fields | bad, **hours)]
        )

    refused(lambda: recs(source_id=missing))
    refused(lambda: recs(customer_id=nobody))
    daily = {"seq": 1, "day": T0.date(), "state": "New", "number": 1, "value": 5}
    orphan = DailyAggregate(source_id=missing, **daily)
    refused(lambda: DailyAggregate.objects.bulk_create([orphan]))
    assert not Rec.objects.exists() and not DailyAggregate.objects.exists()


def test_a_customer_or_source_still_named_is_never_deleted(source):
    bare_rec(source)
    daily = {"seq": 1, "day": T0.date(), "state": "New", "number": 1, "value": 5}
    other = SourceFactory()
    DailyAggregate.objects.create(source=other, **daily)

    def delete(table, pk, named_by):
        with pytest.raises(IntegrityError, match=named_by), transaction.atomic():
            raw(f"DELETE FROM {table} WHERE id = %s", [pk])

    delete("energy_source", source.pk, "recs_rec.source_id")
    delete("energy_customer", source.customer_id, "recs_rec.customer_id")
    delete("energy_source", other.pk, "energy_dailyaggregate.source_id")
    # Deleting through the application takes the derived daily rows along.
    other.delete()
    assert not Source.objects.filter(pk=other.pk).exists()
    assert not DailyAggregate.objects.filter(source_id=other.pk).exists()


class TestAppendOnly:
    """What a transaction asserts never changes, and it is never deleted: PostgreSQL's
    triggers and, for the embedded ledger, SQLite's."""

    def test_deleting_ledger_rows_is_refused(self, source):
        rows = append(source, [MWH + 5, MWH - 5])
        mark_processed(rows)
        first, second = issue(source)

        refused(lambda: Attribution.objects.filter(pk=rows[0].pk).delete())
        refused(lambda: Span.objects.filter(rec=first).delete())
        refused(lambda: Remainder.objects.filter(rec=second).delete())
        refused(lambda: Rec.objects.filter(pk=first.pk).delete())
        report = source.reports.create(
            method="tx_reportMinerPoGG", received=T0, request_id=uuid.uuid4(), samples=1
        )
        source.readings.create(report=report, sample_time=T0, power=1, energy=5)
        refused(lambda: source.readings.all().delete())
        refused(lambda: source.reports.all().delete())

    @pytest.mark.parametrize(
        "change",
        [
            {"value": 6},
            {"effective_time": T0 + dt.timedelta(days=9)},
            {"external_id": "rewritten"},
            {"carbon_offset": 1},
            {"evidence": b"\x01" * 32},
        ],
    )
    def test_rewriting_an_attribution_is_refused(self, source, change):
        [row] = append(source, [5])

        refused(lambda: Attribution.objects.filter(pk=row.pk).update(**change))

    @pytest.mark.parametrize(
        "change",
        [
            {"state": "Pending"},
            {"state": "New"},
            {"hash": "ab" * 32},
            {"height": 999},
            {"block_id": "cd" * 32},
        ],
    )
    def test_a_processed_transaction_never_moves_back(self, source, change):
        rows = append(source, [5])
        mark_processed(rows)

        refused(lambda: Attribution.objects.filter(pk=rows[0].pk).update(**change))

    def test_a_processed_rec_never_moves_back(self, source):
        mark_processed(append(source, [MWH]))
        [rec] = issue(source)

        refused(lambda: Rec.objects.filter(pk=rec.pk).update(state="New"))
        refused(lambda: Rec.objects.filter(pk=rec.pk).update(hash="ab" * 32))

    def test_a_decision_on_a_quarantined_hour_is_final(self, source):
        plausible, held = append(source, [5, 6])
        Attribution.objects.filter(pk=held.pk).update(quality="quarantined")
        Attribution.objects.filter(pk=held.pk).update(quality="rejected")

        refused(lambda: Attribution.objects.filter(pk=held.pk).update(quality="released"))
        refused(lambda: Attribution.objects.filter(pk=held.pk).update(quality=None))
        refused(lambda: Attribution.objects.filter(pk=plausible.pk).update(quality="released"))

    def test_moving_forward_is_allowed(self, source):
        rows = append(source, [5])

        mark_processed(rows)

        assert Attribution.objects.get(pk=rows[0].pk).state == "Processed"

    def test_a_recs_spans_and_remainders_are_final_once_set(self, source):
        rows = append(source, [MWH + 5, MWH - 5])
        mark_processed(rows)
        first, second = issue(source)  # the first transaction keeps 5 mWh for the next REC
        spans = Span.objects.filter(rec=first)
        opener = Remainder.objects.filter(rec=second)

        refused(lambda: spans.update(remainder=4))
        refused(lambda: spans.update(seq_last=2))
        refused(lambda: spans.update(rec=bare_rec(source)))
        refused(lambda: opener.update(value=6))
        refused(lambda: opener.update(split_from=rows[1]))

    def test_deleting_or_rewriting_a_rec_is_refused(self, source):
        rec = bare_rec(source)

        refused(lambda: Rec.objects.filter(pk=rec.pk).update(source=SourceFactory()))
        refused(lambda: Rec.objects.filter(pk=rec.pk).update(customer=CustomerFactory(), seq=51))

    def test_a_ledger_block_is_never_deleted_and_what_it_seals_never_changes(self, source):
        rows = append(source, [5])
        mark_processed(rows)
        block = LedgerBlock.objects.get()

        sealed = LedgerBlock.objects.filter(pk=block.pk)

        refused(lambda: raw("DELETE FROM chain_ledgerblock WHERE id = %s", [block.pk]))
        for column in ("root", "hash", "previous_hash"):
            refused(lambda c=column: sealed.update(**{c: "ab" * 32}))
        refused(lambda: sealed.update(leaves=b"\x01" * 32))
        refused(lambda: sealed.update(ledger_height=9))
        # Its life on chain moves on.
        sealed.update(last_error="seen")

    def test_a_row_names_only_a_ledger_block_that_exists(self, source):
        mark_processed(append(source, [MWH]))
        [rec] = issue(source)
        block = LedgerBlock.objects.order_by("ledger_height").first()
        fresh = append(source, [5, 6], start=T0 + dt.timedelta(days=1))
        missing = LedgerBlock.objects.order_by("-pk").first().pk + 1

        # One statement over several rows: one of them names no block, none is written.
        refused(
            lambda: raw(
                "UPDATE energy_attribution SET ledger_block_id = CASE WHEN id = %s"
                " THEN %s ELSE %s END WHERE id IN (%s, %s)",
                [fresh[1].pk, missing, block.pk, fresh[0].pk, fresh[1].pk],
            )
        )
        assert {
            row.ledger_block_id for row in Attribution.objects.filter(pk__in=[r.pk for r in fresh])
        } == {None}
        refused(lambda: attribution(source, seq=9, external_id="y", ledger_block_id=missing).save())
        refused(lambda: Rec.objects.filter(pk=rec.pk).update(ledger_block_id=missing))
        # Naming a block that exists is how anchoring marks rows.
        Attribution.objects.filter(pk=fresh[0].pk).update(ledger_block_id=block.pk)

    def test_readings_and_reports_are_never_rewritten(self, source):
        report = source.reports.create(
            method="tx_reportMinerPoGG", received=T0, request_id=uuid.uuid4(), samples=1,
            signed='{"version":1}', signature="sig",
        )  # fmt: skip
        reading = source.readings.create(report=report, sample_time=T0, power=1, energy=5)

        refused(lambda: type(reading).objects.filter(pk=reading.pk).update(energy=6))
        refused(lambda: type(report).objects.filter(pk=report.pk).update(signed="{}"))
        refused(lambda: type(report).objects.filter(pk=report.pk).update(digest=b"\x02" * 32))
