"""Migrations carry a populated ledger forward without loss.

The ledger of the schema before issuance state left energy's rows (energy 0012,
recs 0005, chain 0002) is written through that schema's own models, then the
database is migrated to the latest schema and every fact is compared.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("energy", "0012_links_leave_the_attribution_row"), ("recs", "0005_link"),
          ("chain", "0002_ledgerblock_kind_and_more")]  # fmt: skip
HASH = "ab" * 32


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


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
    after = new.get_model("recs", "Link").objects.values_list(
        "rec_id", "attribution_id", "remainder"
    )
    assert sorted(after) == before
    moved = new.get_model("chain", "LedgerBlock").objects.get(pk=block.pk)
    assert (moved.kind, moved.last_leaf_id) == ("attributions", 2)
