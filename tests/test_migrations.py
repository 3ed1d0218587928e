"""Migrations carry a populated ledger forward without loss.

The ledger of the schema before issuance state left energy's rows (energy 0012,
recs 0005, chain 0002) is written through that schema's own models, then the
database is migrated to the latest schema and every fact is compared.
"""

import pytest
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("energy", "0012_links_leave_the_attribution_row"), ("recs", "0005_link"),
          ("chain", "0002_ledgerblock_kind_and_more")]  # fmt: skip
HASH = "ab" * 32


def migrate(targets):
    # As manage.py migrate does: the apps lift what a schema change would trip on
    # (SQLite's ledger guards) and set it up again after.
    emit_pre_migrate_signal(0, False, connection.alias)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    if set(targets) == set(executor.loader.graph.leaf_nodes()):
        emit_post_migrate_signal(0, False, connection.alias)
    return executor.loader.project_state(targets).apps


def contents_after(rec_ids: list[int]) -> dict[int, tuple]:
    """Each REC's (opening remainder, [(transaction id, remainder)]) read the way the API
    reads them, once the database is at the latest schema."""
    from recs.models import Rec, Remainder
    from recs.selectors import rec_transactions

    found = {}
    for rec in Rec.objects.filter(pk__in=rec_ids).order_by("pk"):
        opener, members = None, []
        for t in rec_transactions(rec=rec):
            if isinstance(t, Remainder):
                opener = (t.pk, t.split_from_id, t.value, t.remainder, t.external_id,
                          t.effective_time)  # fmt: skip
            else:
                members.append((t.pk, t.remainder))
        found[rec.pk] = (opener, members)
    return found


def test_a_populated_ledger_migrates_forward_with_every_rec_as_it_was():
    old = migrate(BEFORE)
    Customer, Source = old.get_model("energy", "Customer"), old.get_model("energy", "Source")
    Attribution, Rec = old.get_model("energy", "Attribution"), old.get_model("recs", "Rec")
    Link, Block = old.get_model("recs", "Link"), old.get_model("chain", "LedgerBlock")
    customer = Customer.objects.create(name="Before", rec_count=1)
    source = Source.objects.create(
        customer=customer, external_id="m", name="m", client_id="0x" + "1" * 64,
        attribution_count=2, daily_count=0, rec_number=2, rec_sum=1_400_000_000,
    )  # fmt: skip
    block = Block.objects.create(
        kind="attributions", height=1, previous_hash="0" * 64, root=HASH, hash="cd" * 32,
        count=2, leaves=b"", leaf_ids=b"", last_attribution_id=2, status="sealed",
    )  # fmt: skip
    rows = [
        Attribution.objects.create(
            source=source,
            seq=i + 1,
            external_id=f"x{i}",
            value=value,
            state="Processed",
            hash=HASH,
            height=7,
            block_id=HASH,
            ledger_block=block,
            effective_time=f"2019-03-15T0{i}:00:00Z",
        )
        for i, value in enumerate([600_000_000, 800_000_000])
    ]
    source.rec_carry, source.rec_carry_from_id, source.issue_seq_from = 400_000_000, rows[1].pk, 3
    source.save()
    rec = Rec.objects.create(customer=customer, source=source, seq=1, value=10**9)
    Link.objects.create(attribution=rows[0], rec=rec, remainder=0)
    Link.objects.create(attribution=rows[1], rec=rec, remainder=400_000_000)
    before = sorted(Link.objects.values_list("rec_id", "attribution_id", "remainder"))

    new = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    issuance = new.get_model("recs", "Issuance").objects.get(source_id=source.pk)
    assert (issuance.seq_from, issuance.carry, issuance.carry_from_id) == (3, 400_000_000,
                                                                          rows[1].pk)  # fmt: skip
    assert new.get_model("recs", "Numbering").objects.get(customer_id=customer.pk).rec_count == 1
    assert (
        sorted(
            (rec_id, pk, remainder)
            for rec_id, (_, members) in contents_after([rec.pk]).items()
            for pk, remainder in members
        )
        == before
    )
    moved = new.get_model("chain", "LedgerBlock").objects.get(pk=block.pk)
    assert (moved.kind, moved.last_leaf_id) == ("attributions", 2)
    # Later migrations: the REC got its serial, the customer its account.
    migrated = new.get_model("recs", "Rec").objects.get(pk=rec.pk)
    assert migrated.serial == 1
    assert migrated.leaf_version == 1  # sealed before leaves committed to the serial
    # ... and the first and last hour of its energy.
    assert (migrated.production_start.isoformat(), migrated.production_end.isoformat()) == (
        "2019-03-15T00:00:00+00:00",
        "2019-03-15T01:00:00+00:00",
    )
    assert issuance.rec_count == 1
    assert new.get_model("recs", "Account").objects.filter(customer_id=customer.pk).exists()


TODAY = [
    ("energy", "0014_issuance_state_leaves_energy"),
    ("recs", "0006_issuance_state_leaves_energy"),
    ("chain", "0004_ledger_height"),
]


def test_links_become_spans_and_remainder_transactions_move_to_recs():
    """A ledger with a row of no energy inside a REC, an hour Processed late (so one REC
    skips it and the next holds it) and a transaction of several MWh: every REC holds
    the same transactions and remainders after the migration as before."""
    old = migrate(TODAY)
    get = old.get_model
    Customer, Source, Attribution = (
        get("energy", "Customer"),
        get("energy", "Source"),
        get("energy", "Attribution"),
    )
    Rec, Link, Block = get("recs", "Rec"), get("recs", "Link"), get("chain", "LedgerBlock")
    Daily = get("energy", "DailyAggregate")
    customer = Customer.objects.create(name="Today")
    source = Source.objects.create(
        customer=customer, external_id="m", name="m", client_id="0x" + "2" * 64,
        attribution_count=6, daily_count=1, rec_number=5, rec_sum=4_600_000_000,
        without_rec_number=1,
    )  # fmt: skip
    block = Block.objects.create(
        kind="attributions", ledger_height=1, previous_hash="0" * 64, root=HASH,
        hash="cd" * 32, count=6, leaves=b"", leaf_ids=b"", last_leaf_id=6, status="sealed",
    )  # fmt: skip
    values = [600_000_000, 0, 500_000_000, 300_000_000, 900_000_000, 2_300_000_000]
    rows = [
        Attribution.objects.create(
            source=source, kind="metered", seq=i + 1, external_id=f"x{i}", value=value,
            state="Processed", hash=f"{i:02x}" * 32, height=7, block_id=HASH,
            ledger_block=block, effective_time=f"2019-03-15T0{i}:00:00Z",
        )
        for i, value in enumerate(values)
    ]  # fmt: skip
    recs = [Rec.objects.create(customer=customer, source=source, seq=k, value=10**9)
            for k in range(1, 5)]  # fmt: skip

    def remainder(rec, split, value):
        return Attribution.objects.create(
            source=source, kind="remainder", external_id=f"{source.pk}-r{rec.seq}",
            effective_time=split.effective_time, value=value, state="Processed",
            block_id="remainder", split_from=split,
        )  # fmt: skip

    # REC 1: x0 and x2 (x1 has no energy), x2 keeping 0.1 MWh. REC 2: those 0.1 MWh
    # and x4, cut while x3 was not yet Processed. REC 3: x3, and x5 keeping 1.6 MWh;
    # REC 4: those 1.6 MWh alone, passing 0.6 MWh on (the carry).
    links = [(rows[0], recs[0], 0), (rows[2], recs[0], 100_000_000),
             (remainder(recs[1], rows[2], 100_000_000), recs[1], 0), (rows[4], recs[1], 0),
             (rows[3], recs[2], 0), (rows[5], recs[2], 1_600_000_000),
             (remainder(recs[3], rows[5], 1_600_000_000), recs[3], 600_000_000)]  # fmt: skip
    for attribution, rec, left in links:
        Link.objects.create(attribution=attribution, rec=rec, remainder=left)
    Daily.objects.create(source=source, seq=1, day="2019-03-15", state="Processed",
                         rec=recs[2], number=2, value=2_600_000_000)  # fmt: skip
    before = {}
    for rec in recs:
        opener, members = None, []
        for link in Link.objects.filter(rec=rec).select_related("attribution"):
            a = link.attribution
            if a.kind == "remainder":
                opener = (a.pk, a.split_from_id, a.value, link.remainder, a.external_id,
                          a.effective_time)  # fmt: skip
            else:
                members.append((a.seq, a.pk, link.remainder))
        before[rec.pk] = (opener, [(pk, left) for _, pk, left in sorted(members)])

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from energy.models import Attribution as Now
    from energy.models import DailyAggregate
    from recs.models import Span

    assert contents_after([rec.pk for rec in recs]) == before
    spans = Span.objects.order_by("rec_id", "seq_first")
    assert [(s.rec_id, s.seq_first, s.seq_last, s.remainder) for s in spans] == [
        (recs[0].pk, 1, 3, 100_000_000), (recs[1].pk, 5, 5, 0),
        (recs[2].pk, 4, 4, 0), (recs[2].pk, 6, 6, 1_600_000_000),
    ]  # fmt: skip
    assert sorted(Now.objects.values_list("pk", flat=True)) == [r.pk for r in rows]
    assert Now.objects.get(pk=rows[1].pk).rec is None  # no energy: in no REC
    assert DailyAggregate.objects.get(source_id=source.pk).rec_id == recs[2].pk
