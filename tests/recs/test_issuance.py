"""REC issuance on the database: spans, remainder transactions, counters, concurrency."""

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.units import MWH
from energy import certificates
from energy.models import Attribution, Source
from recs.cutting import cut_recs
from recs.models import Issuance, Numbering, Rec, Remainder
from recs.selectors import rec_transactions
from recs.services import rec_issue, recs_issue_all
from tests.energy.test_ledger_services import assert_in_step, day_aggregations
from tests.factories import (
    T0,
    SourceFactory,
    anchor_recs,
    append,
    assert_ledger_verified,
    mark_pending,
    mark_processed,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def anchored_and_verified() -> None:
    """Whatever the test issued, once sealed and anchored, passes verify_ledger."""
    anchor_recs()
    assert_ledger_verified()


@pytest.fixture(autouse=True)
def _ends_with_a_verified_ledger(request):
    yield
    if "anvil_node" not in request.fixturenames:  # those verify before their node stops
        anchored_and_verified()


def issuance(source: Source) -> Issuance:
    """Where issuance stands for the source (as if just created, before its first cut)."""
    return Issuance.objects.filter(source=source).first() or Issuance(source=source)


def conserved(source: Source) -> None:
    """Positive Processed generation = RECs x 1 MWh + the carry + what is in no REC."""
    rows = list(Attribution.objects.filter(source=source, state="Processed", value__gt=0))
    certificates.attach(rows)
    generated = sum(row.value for row in rows)
    waiting = sum(row.value for row in rows if row.rec is None)
    recs = Rec.objects.filter(source=source).count()
    assert generated == recs * MWH + issuance(source).carry + waiting


def settled_through(source: Source) -> None:
    """Nothing still open (positive, in no REC) lies below where the next cut starts."""
    below = list(Attribution.objects.filter(source=source, value__gt=0,
                                            seq__lt=issuance(source).seq_from))  # fmt: skip
    certificates.attach(below)
    assert [row.pk for row in below if row.rec is None] == []


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
    assert Attribution.objects.get(pk=attrs[3].pk).rec is None  # 5 mWh waits
    assert_in_step(Source.objects.get(pk=source.pk))
    conserved(source)
    [row] = api.get("/api/v1/energy/sources").json()
    assert (row["rec_number"], row["without_rec_number"]) == (3, 1)


def test_a_transaction_of_several_mwh_spans_several_recs(source):
    [big] = append(source, [3_500_000_000])
    mark_processed([big])

    assert rec_issue(source_id=source.pk) == 3

    big.refresh_from_db()
    openers = Remainder.objects.order_by("rec__seq")
    assert big.remainder == 2_500_000_000
    assert [(o.value, o.remainder) for o in openers] == [
        (2_500_000_000, 1_500_000_000),
        (1_500_000_000, 500_000_000),
    ]
    source.refresh_from_db()
    assert (issuance(source).carry, issuance(source).carry_from_id) == (500_000_000, big.pk)
    conserved(source)


def test_nothing_is_issued_from_new_pending_or_negative_transactions(source):
    _new, pending, _negative = append(source, [2 * MWH, 2 * MWH, -2 * MWH])
    mark_pending([pending])  # consumption is never sealed: it stays New

    assert rec_issue(source_id=source.pk) == 0
    assert Rec.objects.count() == 0


def test_issuing_again_issues_nothing_more(source):
    mark_processed(append(source, [MWH + 1]))
    rec_issue(source_id=source.pk)

    assert rec_issue(source_id=source.pk) == 0
    assert recs_issue_all() == 0
    assert Rec.objects.count() == 1


def test_a_late_hour_is_cut_in_time_order_with_the_energy_waiting_after_it(source):
    # Hour 2 is still New when the others are Processed: issuance reads the
    # source from its first open hour on, so the late hour is found.
    h1, h2, h3, h4, h5 = append(source, [600_000_000, 500_000_000, 700_000_000, 400_000_000, 5])
    mark_processed([h1, h3, h4, h5])

    assert rec_issue(source_id=source.pk) == 1
    source.refresh_from_db()
    assert issuance(source).seq_from == h2.seq  # everything before it is settled
    assert [t.pk for t in rec_transactions(rec=Rec.objects.get())] == [h1.pk, h3.pk]

    mark_processed([h2])
    assert rec_issue(source_id=source.pk) == 1

    second = Rec.objects.order_by("seq").last()
    opener, *members = rec_transactions(rec=second)
    # What h3 had left (0.3 MWh) opens it, then h2 (earlier than h4), then h4 crosses.
    assert (opener.kind, opener.value, opener.split_from_id) == ("remainder", 300_000_000, h3.pk)
    assert [(t.pk, t.remainder) for t in members] == [(h2.pk, 0), (h4.pk, 200_000_000)]
    source.refresh_from_db()
    assert issuance(source).seq_from == h5.seq  # only the 5 mWh still wait
    conserved(source)
    assert_in_step(source)


def test_the_daily_rows_move_by_what_each_rec_took_of_the_day(api, source):
    # Two days of 0.1 MWh hours, the first hour of the second day still New: four
    # RECs of ten hours, the third taking the last hours of day 1 and the first
    # Processed ones of day 2; eight hours wait.
    rows = append(source, [100_000_000] * 48)
    mark_processed(rows[:24] + rows[25:])

    with CaptureQueriesContext(connection) as queries:
        assert rec_issue(source_id=source.pk) == 4

    # Issuance knows what each REC took of each day: the day's Processed row is
    # split by REC, not aggregated again from the attributions.
    assert day_aggregations(queries) == 0
    assert_in_step(Source.objects.get(pk=source.pk))
    first, second, third, fourth = Rec.objects.filter(source=source).order_by("seq")
    url = f"/api/v1/energy/attributions/{source.external_id}/daily?per_page=100"
    daily = [
        (d["effective_time"][:10], d["state"], d["rec"]["id"] if "rec" in d else None, d["number"])
        for d in api.get(url).json()
    ]
    assert daily == [
        ("2019-03-16", "New", None, 1),
        ("2019-03-16", "Processed", None, 7),
        ("2019-03-16", "Processed", third.pk, 6),
        ("2019-03-16", "Processed", fourth.pk, 10),
        ("2019-03-15", "Processed", first.pk, 10),
        ("2019-03-15", "Processed", second.pk, 10),
        ("2019-03-15", "Processed", third.pk, 4),
    ]


def test_a_source_with_nothing_open_is_settled_to_its_end(source):
    rows = append(source, [MWH, -3, 0])
    mark_processed([rows[0], rows[2]])

    assert rec_issue(source_id=source.pk) == 1
    source.refresh_from_db()
    assert issuance(source).seq_from == source.attribution_count + 1
    assert recs_issue_all() == 0  # not due: nothing of it is read again


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
        settled_through(source)
        assert_in_step(Source.objects.get(pk=source.pk))
    for rec in Rec.objects.filter(source=source):
        held = rec_transactions(rec=rec)
        assert sum(t.value - t.remainder for t in held) == MWH


def _rec_contents(rec: Rec) -> tuple:
    """(opener as (value, remainder, split from) or None, [(member id, remainder)])."""
    opener = None
    members = []
    for t in rec_transactions(rec=rec):
        if isinstance(t, Remainder):
            opener = (t.value, t.remainder, t.split_from_id)
        else:
            members.append((t.pk, t.remainder))
    return opener, members


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rounds=st.lists(
        st.lists(
            st.tuples(
                st.lists(
                    st.one_of(st.integers(1, 5000), st.integers(1, MWH), st.integers(1, 3 * MWH)),
                    max_size=8,
                ),
                st.booleans(),  # True: these hours are processed only after the next cut
            ),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_issuing_many_sources_at_once_follows_the_rule_for_each(customer, rounds):
    """The batch cut (set-based on PostgreSQL) gives what ``cut_recs`` gives per source,
    hours processed late included."""
    sources = [SourceFactory(customer=customer) for _ in range(3)]
    start = {s.pk: T0 for s in sources}
    held = {s.pk: [] for s in sources}
    carry = {s.pk: (0, None) for s in sources}
    for number, round_ in enumerate(rounds, start=1):
        for source, (values, hold) in zip(sources, round_, strict=True):
            made = append(source, values, start=start[source.pk]) if values else []
            if made:
                start[source.pk] = made[-1].effective_time + dt.timedelta(hours=1)
            ready, held[source.pk] = held[source.pk], []
            if hold and number < len(rounds):
                held[source.pk] = made
            else:
                ready += made
            mark_processed(ready)
        expected = {}
        for source in sources:
            rows = list(
                Attribution.objects.filter(source=source, state="Processed", value__gt=0).order_by(
                    "effective_time", "id"
                )
            )
            certificates.attach(rows)
            waiting = [(row.pk, row.value) for row in rows if row.rec is None]
            plan = cut_recs(*carry[source.pk], waiting)
            expected[source.pk] = [
                ((c.opener.value, c.opener.remainder, c.opener.split_from) if c.opener else None,
                 c.members)
                for c in plan.recs
            ]  # fmt: skip
            if plan.recs:
                carry[source.pk] = (plan.carry, plan.carry_from)
        before = Rec.objects.count()

        assert recs_issue_all() == sum(len(cuts) for cuts in expected.values())

        new = Rec.objects.filter(seq__gt=before).order_by("seq")
        # Numbered after the customer's last REC, source by source.
        assert [r.source_id for r in new] == [s.pk for s in sources for _ in expected[s.pk]]
        assert [_rec_contents(r) for r in new] == [c for s in sources for c in expected[s.pk]]
        for source in sources:
            source.refresh_from_db()
            state = issuance(source)
            assert (state.carry, state.carry_from_id) == carry[source.pk]
            assert_in_step(source)
            conserved(source)
            settled_through(source)
    numbering = Numbering.objects.filter(customer=customer).first()
    numbered = numbering.rec_count if numbering else 0
    assert numbered == Rec.objects.count()
    assert sorted(Rec.objects.values_list("seq", flat=True)) == list(range(1, numbered + 1))


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
    from recs.services import rec_issue, recs_issue_all
    print(rec_issue(source_id=int(sys.argv[1])) if sys.argv[1:] else recs_issue_all())
    """
)


CONFIRMER = textwrap.dedent(
    """
    import random, sys, time, django
    django.setup()
    from chain.models import LedgerBlock
    from chain.services import block_confirm
    blocks = list(LedgerBlock.objects.filter(status="sent"))
    random.Random(int(sys.argv[1])).shuffle(blocks)  # hours confirmed out of time order
    while blocks:
        batch, blocks = blocks[:3], blocks[3:]
        assert all(block_confirm(block) for block in batch)
        time.sleep(0.01)
    print(0)
    """
)
LOOPING_ISSUER = textwrap.dedent(
    """
    import sys, time, django
    django.setup()
    from recs.services import rec_issue
    issued = 0
    for _ in range(int(sys.argv[2])):
        issued += rec_issue(source_id=int(sys.argv[1]))
        time.sleep(0.005)
    print(issued)
    """
)


def _run_at_once(*argvs: list[str], script: str = ISSUER, env: dict | None = None) -> list[int]:
    """Run ISSUER in one process per argv, all at once, against the test database.

    An argv may name another script as its first item (``script:NAME``).
    """
    name = connection.settings_dict["NAME"]
    env = os.environ | {"DATABASE_URL": f"postgresql://127.0.0.1:5432/{name}"} | (env or {})
    scripts = {"confirm": CONFIRMER, "loop": LOOPING_ISSUER}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", scripts.get(argv[0], script), *argv[1:]]
            if argv and argv[0] in scripts
            else [sys.executable, "-c", script, *argv],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    return [int(out.strip()) for out, _ in outputs]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_issuing_one_source_at_once_issue_its_recs_once():
    source = SourceFactory()
    mark_processed(append(source, [MWH // 4] * 40))  # 10 RECs

    issued = _run_at_once(*[[str(source.pk)]] * 3)

    assert sorted(issued) == [0, 0, 10]
    assert Rec.objects.filter(source=source).count() == 10
    conserved(source)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batch_and_per_source_issuers_at_once_issue_every_rec_once():
    first = SourceFactory()
    sources = [first, SourceFactory(customer=first.customer), SourceFactory()]
    for source in sources:
        mark_processed(append(source, [MWH // 3] * 31))  # 10 RECs, 1/3 MWh carried

    issued = _run_at_once([], [], [str(sources[1].pk)], [str(sources[2].pk)])

    assert sum(issued) == 30
    for source in sources:
        assert Rec.objects.filter(source=source).count() == 10
        conserved(source)
    for customer_id in {s.customer_id for s in sources}:
        seqs = sorted(Rec.objects.filter(customer_id=customer_id).values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_issuers_running_while_hours_are_confirmed_out_of_order_skip_nothing(anvil_node, settings):
    source = SourceFactory()
    rows = append(source, [MWH // 5] * 61)  # 12 RECs and 1/5 MWh waiting, once all are Processed
    for row in rows:
        mark_pending([row])  # a block each, all sent to the node
    node = {
        "WEB3_PROVIDER_URI": settings.WEB3_PROVIDER_URI,
        "ANCHOR_CONTRACT_ADDRESS": settings.ANCHOR_CONTRACT_ADDRESS,
        "CHAIN_CONFIRMATIONS": "1",
    }

    _, *looped = _run_at_once(["confirm", "7"], ["loop", str(source.pk), "60"],
                              ["loop", str(source.pk), "60"], env=node)  # fmt: skip
    last = rec_issue(source_id=source.pk)  # what the last confirmations left due

    assert sum(looped) + last == Rec.objects.filter(source=source).count() == 12
    conserved(source)
    settled_through(source)
    rows = list(Attribution.objects.filter(source=source))
    certificates.attach(rows)
    assert len([row for row in rows if row.rec is None]) == 1
    assert_in_step(source)
    anchored_and_verified()


def test_serials_number_each_sources_recs_contiguously_in_issuance_order(customer):
    sun, wind = SourceFactory(customer=customer), SourceFactory(customer=customer)
    first_sun, first_wind = append(sun, [2 * MWH + 5]), append(wind, [MWH])
    mark_processed(first_sun + first_wind)
    recs_issue_all()
    later = append(sun, [MWH], start=first_sun[-1].effective_time + dt.timedelta(hours=1))
    mark_processed(later)
    recs_issue_all()

    by_source = {
        s.pk: list(Rec.objects.filter(source=s).order_by("id").values_list("serial", flat=True))
        for s in (sun, wind)
    }

    assert by_source == {sun.pk: [1, 2, 3], wind.pk: [1]}
    assert Issuance.objects.get(source=sun).rec_count == 3
    assert Rec.objects.get(source=sun, serial=3).serial_number == f"{sun.pk}-3"
