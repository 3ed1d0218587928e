"""The two bodies of issuance, set-based SQL and plain Python, give the same ledger.

Embedded SQLite runs the Python body and PostgreSQL the SQL one; both run here,
on PostgreSQL, on the same rows, and every row they write is compared.
"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain import client
from core.units import MWH
from energy.models import Attribution, DailyAggregate, Source
from recs.models import Issuance, Numbering, Rec, Remainder, Span
from recs.services import _issue
from tests.factories import T0, SourceFactory, append, mark_processed

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


class Rollback(Exception):
    pass


def ledger() -> dict:
    """Every row issuance writes, keyed by what both bodies give the same (ids of new
    rows are drawn from sequences, which a rollback does not rewind)."""
    recs = {r.pk: (r.source_id, r.seq) for r in Rec.objects.all()}
    return {
        "recs": sorted((*recs[pk], r.serial, r.customer_id, r.value, r.state,
                        str(r.production_start), str(r.production_end))
                       for pk, r in Rec.objects.in_bulk().items()),
        "spans": sorted((recs[s.rec_id], s.source_id, s.seq_first, s.seq_last, s.remainder)
                        for s in Span.objects.all()),
        "remainders": sorted((recs[o.rec_id], o.source_id, o.split_from_id, o.value, o.remainder,
                              o.external_id, str(o.effective_time))
                             for o in Remainder.objects.all()),
        "sources": sorted(Source.objects.values_list("pk", *Source.COUNTERS, "daily_count")),
        "issuance": sorted(Issuance.objects.values_list(
            "source_id", "seq_from", "carry", "carry_from_id", "rec_count")),
        "numbering": sorted(Numbering.objects.values_list("customer_id", "rec_count")),
        "daily": sorted((d.source_id, d.seq, str(d.day), d.state,
                         recs[d.rec_id] if d.rec_id else None, d.number, d.value)
                        for d in DailyAggregate.objects.all()),
    }  # fmt: skip


def issued_by(sql: bool, source_ids: list[int]) -> tuple[int, dict]:
    """What one body issues, then rolled back."""
    try:
        with transaction.atomic():
            issued = _issue(source_ids, sql=sql)
            after = ledger()
            raise Rollback
    except Rollback:
        return issued, after


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    per_source=st.lists(
        st.tuples(
            st.lists(
                st.one_of(st.integers(1, 5000), st.integers(1, MWH), st.integers(1, 3 * MWH)),
                min_size=1,
                max_size=10,
            ),
            st.integers(0, 10),  # how many of its first hours were issued before
            st.booleans(),  # whether its newest hour is still Pending
        ),
        min_size=1,
        max_size=3,
    )
)
def test_the_sql_and_the_python_bodies_write_the_same_rows(customer, per_source):
    client.deployed_contract.cache_clear()  # the ledger below starts at height 1 again
    with transaction.atomic():  # each example starts from an empty ledger
        sources = []
        for values, earlier, hold in per_source:
            source = SourceFactory(customer=customer)
            rows = append(source, values, start=T0)
            done, rest = rows[:earlier], rows[earlier:]
            if done:
                mark_processed(done)
                _issue([source.pk], sql=True)  # a carry and issued RECs to start from
            mark_processed(rest[:-1] if hold and rest else rest)
            sources.append(source.pk)
        before = ledger()

        with_sql, by_sql = issued_by(True, sources)
        with_python, by_python = issued_by(False, sources)

        assert with_sql == with_python
        assert by_sql == by_python
        assert (by_sql["recs"] != before["recs"]) == (with_sql > 0)
        transaction.set_rollback(True)


def test_a_late_hour_is_cut_alike_by_both_bodies(source):
    h1, h2, h3 = append(source, [600_000_000, 800_000_000, 700_000_000])
    mark_processed([h1, h3])
    _issue([source.pk], sql=True)
    mark_processed([h2])

    assert issued_by(True, [source.pk]) == issued_by(False, [source.pk])
    assert issued_by(True, [source.pk])[0] == 1


def test_held_released_and_rejected_hours_are_cut_alike_by_both_bodies(source):
    rows = append(source, [600_000_000, 800_000_000, 700_000_000, 900_000_000, 400_000_000])
    for row, quality in zip(rows, [None, "quarantined", "rejected", "released", None], strict=True):
        if quality:  # held first, then decided, as an operator does
            held = Attribution.objects.filter(pk=row.pk)
            held.update(quality="quarantined", quality_reason="t")
            held.update(quality=quality)
    mark_processed(rows)

    assert issued_by(True, [source.pk]) == issued_by(False, [source.pk])
    assert issued_by(True, [source.pk])[0] == 1  # 0.6 + 0.9 + 0.4 of plausible energy
