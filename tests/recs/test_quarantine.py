"""Implausible energy is held, never issued: quarantined hours wait for an operator."""

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.units import MWH
from energy import certificates
from energy.hourly import attribute_due_hours
from energy.models import Attribution, Quality, Source
from recs.models import Issuance, Rec, Span
from recs.selectors import rec_transactions
from recs.services import rec_issue, recs_issue_all
from tests.factories import (
    SourceFactory,
    anchor_recs,
    append,
    assert_ledger_verified,
    mark_processed,
    rec_row,
)
from tests.pushing import Miner, call, post

pytestmark = pytest.mark.django_db

HOUR = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)


def push(miner: Miner, samples: list[tuple]) -> None:
    answer = post(Client(), call("tx_reportMinerPoGG", miner.report(samples))).json()
    assert answer.get("result") == "200", answer


def test_a_burst_above_capacity_is_quarantined_though_the_hour_adds_up(customer):
    # 1 kW of capacity; the hour holds 0.9 kWh (under 1 kW x 1 h x 1.10), but 0.9 kWh
    # in five minutes is 10.8 kW: no 1 kW plant produces that.
    miner = Miner(seed=43)
    SourceFactory(customer=customer, miner_address=miner.address.lower(), capacity_wh=1000)
    minutes = [2 + 5 * i for i in range(12)]
    burst = [(HOUR + dt.timedelta(minutes=m), 0, 0 if m < 30 else 900_000) for m in minutes]
    steady = [(HOUR + dt.timedelta(hours=1, minutes=m), 0, 900_000 + 10 * (m - 2)) for m in minutes]
    push(miner, burst)
    push(miner, steady)
    push(miner, [(HOUR + dt.timedelta(hours=2, minutes=2), 0, 900_700)])

    assert attribute_due_hours() == 2
    spiked, calm = Attribution.objects.order_by("seq")

    assert spiked.value == 900_000 and spiked.quality == Quality.QUARANTINED
    assert spiked.quality_reason.startswith("its samples imply 10800 W, more than its capacity")
    assert calm.quality is None


def quarantine(rows: list[Attribution]) -> None:
    Attribution.objects.filter(pk__in=[r.pk for r in rows]).update(
        quality=Quality.QUARANTINED, quality_reason="above capacity"
    )


def held_out(source: Source) -> list[Attribution]:
    rows = list(Attribution.objects.filter(source=source).order_by("seq"))
    certificates.attach(rows)
    return rows


def test_fifty_mwh_an_hour_from_five_kw_is_quarantined_and_never_issued(customer, api):
    miner = Miner(seed=41)
    SourceFactory(customer=customer, miner_address=miner.address.lower(), capacity_wh=5000)
    push(miner, [(HOUR, 0, 0), (HOUR + dt.timedelta(hours=1), 0, 50 * MWH)])
    push(miner, [(HOUR + dt.timedelta(hours=2), 0, 50 * MWH + 5_000_000)])  # 5 kWh: plausible

    assert attribute_due_hours() == 2
    big, fine = Attribution.objects.order_by("seq")
    mark_processed([big, fine])

    assert recs_issue_all() == 0
    assert (big.quality, fine.quality) == ("quarantined", None)
    assert "more than its capacity of 5000 W gives in an hour x 1.10" in big.quality_reason
    listed = api.get(f"/api/v1/energy/attributions/{big.source_id}").json()
    by_id = {row["id"]: row for row in listed}
    assert by_id[big.pk]["quality"] == {"state": "quarantined", "reason": big.quality_reason}
    assert "quality" not in by_id[fine.pk]
    # Nothing after the held hour is settled: it holds where issuance stands.
    assert Issuance.objects.get(source_id=big.source_id).seq_from == big.seq


def test_an_hour_at_capacity_times_the_margin_is_plausible(customer, settings):
    settings.PLAUSIBILITY_MARGIN = __import__("decimal").Decimal("1.5")
    miner = Miner(seed=42)
    SourceFactory(customer=customer, miner_address=miner.address.lower(), capacity_wh=1000)
    push(miner, [(HOUR, 0, 0), (HOUR + dt.timedelta(hours=1), 0, 1_500_000)])
    push(miner, [(HOUR + dt.timedelta(hours=2), 0, 3_000_001)])

    attribute_due_hours()

    assert list(Attribution.objects.order_by("seq").values_list("quality", flat=True)) == [
        None,
        "quarantined",
    ]


def decide(admin_client, rows, action: str, reason: str):
    return admin_client.post(
        reverse("admin:energy_attribution_changelist"),
        {"action": action, "_selected_action": [r.pk for r in rows], "reason": reason},
        follow=True,
    )


def test_an_operator_releases_a_held_hour_with_a_reason_and_it_is_issued(admin_client, source):
    rows = append(source, [600_000_000, 500_000_000])
    quarantine(rows[1:])
    mark_processed(rows)
    assert rec_issue(source_id=source.pk) == 0

    decide(admin_client, rows, "release_hours", "")  # no reason: nothing decided
    assert Attribution.objects.get(pk=rows[1].pk).quality == "quarantined"
    decide(admin_client, rows, "release_hours", "meter replaced; reading checked on site")

    released = Attribution.objects.get(pk=rows[1].pk)
    assert (released.quality, released.quality_reason) == (
        "released",
        "meter replaced; reading checked on site",
    )
    assert LogEntry.objects.filter(object_id=str(rows[1].pk)).exists()
    assert rec_issue(source_id=source.pk) == 1
    anchor_recs()
    assert_ledger_verified()


def test_a_rejected_hour_stays_visible_and_never_enters_a_rec(admin_client, source):
    rows = append(source, [600_000_000, 3 * MWH, 500_000_000])
    quarantine(rows[1:2])
    mark_processed(rows)

    decide(admin_client, rows[1:2], "reject_hours", "no such plant output")
    decide(admin_client, rows[1:2], "release_hours", "changed my mind")  # decided once

    assert rec_issue(source_id=source.pk) == 1
    [rec] = Rec.objects.all()
    assert [t.pk for t in rec_transactions(rec=rec)] == [rows[0].pk, rows[2].pk]
    rejected = Attribution.objects.get(pk=rows[1].pk)
    assert (rejected.quality, rejected.rec) == ("rejected", None)
    # Settled: the cuts that follow do not read it again.
    source.refresh_from_db()
    assert Issuance.objects.get(source=source).seq_from == source.attribution_count + 1
    anchor_recs()
    assert_ledger_verified()


@pytest.mark.postgres
def test_the_database_refuses_a_span_over_a_held_hour(source):
    rows = append(source, [600_000_000, 500_000_000])
    quarantine(rows[1:])
    mark_processed(rows)
    rec = rec_row(source, seq=1, serial=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        Span.objects.create(rec=rec, source=source, seq_first=1, seq_last=2)
    assert connection.vendor == "postgresql"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    hours=st.lists(
        st.tuples(
            st.integers(1, 2 * MWH),
            st.sampled_from([None, "quarantined", "rejected", "released"]),
        ),
        min_size=1,
        max_size=12,
    ),
    release_later=st.booleans(),
)
def test_no_rec_holds_held_energy_and_conservation_counts_it(customer, hours, release_later):
    source = SourceFactory(customer=customer)
    rows = append(source, [value for value, _ in hours])
    for row, (_, quality) in zip(rows, hours, strict=True):
        if quality:  # held first, then decided, as an operator does
            held = Attribution.objects.filter(pk=row.pk)
            held.update(quality="quarantined", quality_reason="test")
            held.update(quality=quality)
    mark_processed(rows)
    rec_issue(source_id=source.pk)
    if release_later:
        Attribution.objects.filter(source=source, quality="quarantined").update(
            quality="released", quality_reason="later"
        )
        rec_issue(source_id=source.pk)

    every = held_out(source)
    assert not [r for r in every if r.rec and r.quality in ("quarantined", "rejected")]
    generated = sum(r.value for r in every)
    in_recs = Rec.objects.filter(source=source).count() * MWH
    carry = state.carry if (state := Issuance.objects.filter(source=source).first()) else 0
    waiting = sum(r.value for r in every if r.rec is None and r.quality in (None, "released"))
    held = sum(r.value for r in every if r.quality in ("quarantined", "rejected"))
    assert generated == in_recs + carry + waiting + held


def test_a_generation_source_without_a_capacity_has_every_hour_held(customer):
    miner = Miner(seed=43)  # onboarded before capacities were asked for
    SourceFactory(customer=customer, miner_address=miner.address.lower(), capacity_wh=None)
    push(miner, [(HOUR, 0, 0), (HOUR + dt.timedelta(hours=1), 0, 1000)])

    attribute_due_hours()

    [hour] = Attribution.objects.all()
    assert (hour.quality, hour.quality_reason) == (
        "quarantined",
        "the source has no capacity to bound its energy by",
    )
