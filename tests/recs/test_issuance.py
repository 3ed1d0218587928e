"""REC issuance on the database: links, remainder transactions, counters, concurrency."""

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.models import Attribution, Source
from energy.units import MWH
from recs.models import Rec
from recs.services import rec_issue, recs_issue_all
from tests.energy.test_ledger_services import assert_in_step
from tests.factories import T0, SourceFactory, append, mark_pending, mark_processed

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def conserved(source: Source) -> None:
    """Positive Processed generation = RECs x 1 MWh + the carry + what is in no REC."""
    source.refresh_from_db()
    metered = Attribution.objects.filter(source=source, kind="metered", state="Processed")
    generated = metered.filter(value__gt=0).aggregate(s=Sum("value"))["s"] or 0
    waiting = metered.filter(value__gt=0, rec__isnull=True).aggregate(s=Sum("value"))["s"] or 0
    recs = Rec.objects.filter(source=source).count()
    assert generated == recs * MWH + source.rec_carry + waiting


def test_recs_and_the_remainder_transaction_as_the_spec_shows(api, source):
    attrs = append(source, [900_000_000, 101_200_000, 998_800_000, 5])
    mark_processed(attrs)

    assert rec_issue(source_id=source.pk) == 2

    first, second = Rec.objects.order_by("seq")
    detail = api.get(f"/api/v1/energy/recs/{second.pk}").json()
    incoming, member = detail["transactions"]
    assert (incoming["block_id"], incoming["value"]) == ("remainder", 0.0012)
    assert incoming["effective_time"] == "2019-03-15T01:00:00.000+0000"  # the split one's hour
    assert (member["id"], member["value"]) == (attrs[2].pk, 0.9988)
    closing = api.get(f"/api/v1/energy/recs/{first.pk}").json()["transactions"][-1]
    assert (closing["id"], closing["remainder"]) == (attrs[1].pk, 0.0012)
    assert Attribution.objects.get(pk=attrs[3].pk).rec_id is None  # 5 mWh waits
    assert_in_step(Source.objects.get(pk=source.pk))
    conserved(source)
    [row] = api.get("/api/v1/energy/sources").json()
    assert (row["rec_number"], row["without_rec_number"]) == (3, 1)


def test_a_transaction_of_several_mwh_spans_several_recs(source):
    [big] = append(source, [3_500_000_000])
    mark_processed([big])

    assert rec_issue(source_id=source.pk) == 3

    big.refresh_from_db()
    openers = Attribution.objects.filter(kind="remainder").order_by("rec__seq")
    assert big.remainder == 2_500_000_000
    assert [(o.value, o.remainder) for o in openers] == [
        (2_500_000_000, 1_500_000_000),
        (1_500_000_000, 500_000_000),
    ]
    source.refresh_from_db()
    assert (source.rec_carry, source.rec_carry_from_id) == (500_000_000, big.pk)
    conserved(source)


def test_nothing_is_issued_from_new_pending_or_negative_transactions(source):
    _new, pending, negative = append(source, [2 * MWH, 2 * MWH, -2 * MWH])
    mark_pending([pending])
    mark_processed([negative])

    assert rec_issue(source_id=source.pk) == 0
    assert Rec.objects.count() == 0


def test_issuing_again_issues_nothing_more(source):
    mark_processed(append(source, [MWH + 1]))
    rec_issue(source_id=source.pk)

    assert rec_issue(source_id=source.pk) == 0
    assert recs_issue_all() == 0
    assert Rec.objects.count() == 1


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rounds=st.lists(
        st.lists(
            st.one_of(st.integers(1, 5000), st.integers(1, MWH), st.integers(1, 4 * MWH)),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_conservation_holds_after_every_round(customer, rounds):
    source = SourceFactory(customer=customer)
    start = T0
    for values in rounds:
        made = append(source, values, start=start)
        start = made[-1].effective_time + dt.timedelta(hours=1)
        mark_processed(made)
        rec_issue(source_id=source.pk)
        conserved(source)
        assert_in_step(Source.objects.get(pk=source.pk))
    for rec in Rec.objects.filter(source=source):
        held = rec.transactions.all()
        assert sum(t.value - t.remainder for t in held) == MWH


def test_operators_issue_a_source_now_from_the_admin(admin_client, source):
    mark_processed(append(source, [2 * MWH]))

    admin_client.post(
        reverse("admin:energy_source_changelist"),
        {"action": "issue_recs_now", "_selected_action": [source.pk]},
    )

    assert Rec.objects.filter(source=source).count() == 2


ISSUER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from recs.services import rec_issue
    print(rec_issue(source_id=int(sys.argv[1])))
    """
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_issuing_one_source_at_once_issue_its_recs_once():
    source = SourceFactory()
    mark_processed(append(source, [MWH // 4] * 40))  # 10 RECs
    name = connection.settings_dict["NAME"]
    env = os.environ | {"DATABASE_URL": f"postgresql://127.0.0.1:5432/{name}"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", ISSUER, str(source.pk)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=60) for w in workers]

    assert all(w.returncode == 0 for w in workers), outputs
    assert sorted(int(out.strip()) for out, _ in outputs) == [0, 0, 10]
    assert Rec.objects.filter(source=source).count() == 10
    conserved(source)
