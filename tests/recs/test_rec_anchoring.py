"""RECs get a hash over their energy's origins and are anchored like attributions."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chain.hashing import rec_leaf
from chain.models import LedgerBlock
from chain.services import anchoring_round
from core.units import MWH
from recs.models import Rec
from recs.services import recs_issue_all
from tests.factories import (
    SourceFactory,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    past_the_triggers,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issued(chain, client_for):
    source = SourceFactory()
    rows = append(source, [900_000_000, 101_200_000, 998_800_000, 2_500_000_000])
    anchoring_round()  # the generation is Processed
    assert recs_issue_all() == 4
    return source, rows, client_for(source.customer)


def test_recs_are_sealed_sent_and_processed_with_a_hash_over_their_origins(issued):
    source, rows, api = issued

    result = anchoring_round()

    assert result == {"sealed": 4, "sent": 1, "confirmed": 1}
    block = LedgerBlock.objects.get(kind="recs")
    recs = list(Rec.objects.order_by("seq"))
    assert {r.state for r in recs} == {"Processed"}
    assert {r.height for r in recs} == {block.chain_block_number}
    # REC 2 holds 1.2 kWh split off row 1 and 998.8 kWh of row 2.
    expected = rec_leaf(
        source.client_id,
        [(bytes.fromhex(rows[1].__class__.objects.get(pk=rows[1].pk).hash), 1_200_000),
         (bytes.fromhex(rows[2].__class__.objects.get(pk=rows[2].pk).hash), 998_800_000)],
        serial=2,
    )  # fmt: skip
    assert recs[1].hash == expected.hex()
    listed = api.get("/api/v1/energy/recs").json()
    assert all(r["state"] == "Processed" and "hash" in r and "height" in r for r in listed)
    assert listed[0]["value"] == 1.0 and len(listed) == 4


def test_verify_ledger_checks_recs_too(issued):
    anchoring_round()
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("ledger verified: 2 block(s)")


def tampered(table: str, update: str, params: list) -> str:
    """Rewrite issuance's rows past the triggers, as someone with database access would;
    what verify_ledger then says (it must fail)."""
    past_the_triggers(table, update, params)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)
    return out.getvalue()


@pytest.mark.postgres
def test_verify_ledger_names_a_rec_whose_transactions_were_changed(issued):
    _, rows, _ = issued
    anchoring_round()
    [first] = Rec.objects.filter(seq=1)

    said = tampered(
        "recs_span", "UPDATE recs_span SET remainder = remainder + 1 WHERE seq_last = %s",
        [rows[1].seq],
    )  # fmt: skip

    assert f"REC {first.pk}: its transactions no longer hash to its leaf" in said


@pytest.mark.postgres
def test_verify_ledger_names_a_rec_that_does_not_hold_one_mwh(issued):
    anchoring_round()
    [first] = Rec.objects.filter(seq=1)

    said = tampered(  # a span cut short
        "recs_span", "UPDATE recs_span SET seq_first = seq_first + 1 WHERE rec_id = %s",
        [first.pk],
    )  # fmt: skip

    assert f"REC {first.pk}: its transactions hold 0.1 MWh, not 1 MWh" in said


@pytest.mark.postgres
def test_verify_ledger_names_a_remainder_that_the_previous_rec_did_not_pass_on(issued):
    anchoring_round()
    [second] = Rec.objects.filter(seq=2)

    said = tampered(  # its value and what it passes on both one mWh more: the same hash
        "recs_remainder",
        "UPDATE recs_remainder SET value = value + 1, remainder = remainder + 1 WHERE rec_id = %s",
        [second.pk],
    )

    assert f"REC {second.pk}: opens with " in said
    assert "but the source's previous REC passed on 0.0012 MWh" in said


def test_the_whole_pipeline_runs_from_generation_to_anchored_recs(chain):
    source = SourceFactory()
    append(source, [MWH // 2] * 5)
    out = StringIO()

    call_command("run_pipeline", stdout=out)

    assert [r.state for r in Rec.objects.filter(source=source)] == ["Processed", "Processed"]
    assert "RECs issued: 2" in out.getvalue()


def test_recs_cut_from_one_hour_of_several_mwh_have_distinct_hashes(chain, source):
    """Each REC's leaf commits to its serial: RECs of the same hour, holding the same
    energy of the same transaction, are still told apart (no hash counts twice)."""
    mark_processed(append(source, [3 * MWH]))
    recs = issue(source)

    hashes = [Rec.objects.get(pk=rec.pk).hash for rec in recs]

    assert len(recs) == 3
    assert len(set(hashes)) == 3
    assert_ledger_verified()
