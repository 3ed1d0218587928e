"""Appending attributions and keeping the daily rows and counters in step."""

import datetime as dt
from collections import Counter, defaultdict

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.units import MWH
from energy import certificates
from energy.models import Attribution, DailyAggregate, Source
from energy.services import NewAttribution, attributions_append
from tests.factories import (
    T0,
    SourceFactory,
    append,
    assert_ledger_verified,
    issue,
    mark_pending,
    mark_processed,
)

pytestmark = pytest.mark.django_db


def with_recs(source: Source) -> list[Attribution]:
    """The source's transactions, each with the REC holding it (looked up once)."""
    rows = list(Attribution.objects.filter(source=source).order_by("seq"))
    certificates.attach(rows)
    return rows


def expected_daily(source: Source) -> list[tuple]:
    """The /daily rows recomputed from scratch, in listing order."""
    groups: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for a in with_recs(source):
        key = (a.effective_time.date(), a.state, a.rec.pk if a.rec else None)
        groups[key][0] += 1
        groups[key][1] += a.value
    rank = {"New": 0, "Pending": 1, "Processed": 2}
    order = sorted(groups, key=lambda k: (-k[0].toordinal(), rank[k[1]], k[2] or 0))
    return [(*key, *groups[key]) for key in order]


def expected_counters(source: Source) -> dict[str, int]:
    totals = Counter()
    for a in with_recs(source):
        bucket = "rec" if a.rec else "without_rec" if a.state == "Processed" else "new"
        totals[f"{bucket}_number"] += 1
        totals[f"{bucket}_sum"] += a.value
    return {name: totals[name] for name in Source.COUNTERS}


def assert_in_step(source: Source) -> None:
    source.refresh_from_db()
    rows = DailyAggregate.objects.filter(source=source).order_by("-seq")
    assert [(r.day, r.state, r.rec_id, r.number, r.value) for r in rows] == expected_daily(source)
    assert [r.seq for r in rows] == list(range(source.daily_count, 0, -1))
    assert {n: getattr(source, n) for n in Source.COUNTERS} == expected_counters(source)
    metered = Attribution.objects.filter(source=source).order_by("effective_time")
    assert [a.seq for a in metered] == list(range(1, source.attribution_count + 1))


def day_aggregations(queries) -> int:
    """Statements that aggregate days of attributions again (energy.daily._aggregate)."""
    return sum("SELECT t.source_id, t.day" in q["sql"] for q in queries)


values = st.integers(min_value=-(10**7), max_value=3 * MWH)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(
        st.tuples(st.integers(0, 60), st.lists(values, min_size=1, max_size=30)),
        min_size=1,
        max_size=5,
    ),
    actions=st.lists(st.tuples(st.sampled_from(["pend", "process", "rec"]), st.randoms())),
)
def test_daily_rows_and_counters_always_match_a_full_recount(customer, batches, actions):
    source = SourceFactory(customer=customer)
    start = T0
    for gap_hours, batch in batches:
        start += dt.timedelta(hours=gap_hours)
        created = append(source, batch, start=start)
        start = created[-1].effective_time + dt.timedelta(hours=1)
        assert_in_step(source)
    for action, rnd in actions:
        # Consumption is never sealed: only generation moves on.
        fresh = list(Attribution.objects.filter(source=source, value__gte=0).order_by("seq"))
        if action == "pend":
            new = [a for a in fresh if a.state == "New"]
            mark_pending(rnd.sample(new, k=min(len(new), rnd.randint(0, 10))))
        elif action == "process":
            todo = [a for a in fresh if a.state != "Processed"]
            mark_processed(todo[: rnd.randint(0, len(todo))])
        else:
            issue(source)
        assert_in_step(source)
    assert_ledger_verified()


def test_appending_assigns_positions_and_carbon_offsets(customer):
    source = SourceFactory(customer=customer, emission_factor="0.5")

    first = append(source, [10, 20])
    second = append(source, [30], start=T0 + dt.timedelta(hours=5))

    assert [a.seq for a in first + second] == [1, 2, 3]
    assert [a.carbon_offset for a in first + second] == [5, 10, 15]
    source.refresh_from_db()
    assert (source.attribution_count, source.new_number, source.new_sum) == (3, 3, 60)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (T0, "is not after the newest"),
        (T0 - dt.timedelta(hours=1), "is not after the newest"),
        (T0 + dt.timedelta(hours=2, minutes=1), "must start an hour"),
        (dt.datetime(2019, 3, 16), "must be in UTC"),
        (T0.astimezone(dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(days=1), "in UTC"),
    ],
)
def test_appending_out_of_order_or_off_the_hour_changes_nothing(source, when, message):
    append(source, [7])
    before = list(Attribution.objects.values_list("id", "value"))

    with pytest.raises(ValidationError, match=message):
        attributions_append(
            source=source,
            rows=[
                NewAttribution("ok", T0 + dt.timedelta(hours=1), 1),
                NewAttribution("bad", when, 1),
            ],
        )

    assert list(Attribution.objects.values_list("id", "value")) == before
    source.refresh_from_db()
    assert source.attribution_count == 1
