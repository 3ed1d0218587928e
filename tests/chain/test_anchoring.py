"""Seal attributions into blocks, anchor each root on chain, confirm, and survive faults."""

import datetime as dt

import pytest
import requests
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chain import client
from chain.audit import ledger_problems
from chain.confirming import rows_mark_sent
from chain.hashing import attribution_leaf, merkle_root
from chain.models import Deployment, LedgerBlock
from chain.services import anchoring_round, blocks_confirm, blocks_seal, blocks_send
from energy import transitions
from energy.models import Attribution, DailyAggregate, Source
from tests.energy.test_ledger_services import assert_in_step, day_aggregations
from tests.factories import T0, SourceFactory, append, token_for
from tests.table_stats import table_stats

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def source():
    return SourceFactory()


def states() -> list[str]:
    return list(Attribution.objects.order_by("id").values_list("state", flat=True))


def anchored_events(w3) -> list[dict]:
    contract = client.anchor_contract()
    return [e["args"] for e in contract.events.Anchored().get_logs(from_block=0)]


def test_new_generation_is_sealed_oldest_first_into_merkle_rooted_blocks(chain, source, settings):
    settings.BLOCK_MAX_TXS = 3
    rows = append(source, [5, 0, 7, -3, 9])  # the negative one stays out

    assert blocks_seal() == 3
    assert blocks_seal() == 1
    assert blocks_seal() == 0

    first, second = LedgerBlock.objects.order_by("ledger_height")
    leaves = [
        attribution_leaf(source.client_id, a.external_id, a.effective_time, a.value)
        for a in rows[:3]
    ]
    assert first.root == merkle_root(leaves).hex() and first.count == 3
    assert second.previous_hash == first.hash and second.ledger_height == 2
    assert first.leaf_list() == [(a.pk, leaf) for a, leaf in zip(rows[:3], leaves, strict=True)]
    # Sealing and sending write nothing to the rows: they get hash and block when
    # the confirmation pass settles them.
    assert states() == ["New"] * 5
    assert not Attribution.objects.filter(hash__isnull=False).exists()
    blocks_send()
    assert states() == ["New"] * 5
    blocks_confirm()
    stored = {a.pk: a for a in Attribution.objects.all()}
    assert stored[rows[0].pk].hash == leaves[0].hex()
    assert stored[rows[0].pk].ledger_block_id == first.pk
    assert stored[rows[3].pk].ledger_block_id is None


def test_a_block_moves_its_rows_new_pending_processed_with_the_chain_block(
    chain, source, api_for, settings
):
    settings.CHAIN_CONFIRMATIONS = 2
    append(source, [5, 7])
    blocks_seal()
    assert blocks_send() == 1
    assert blocks_confirm() == 0  # one confirmation of two: with the node, waiting
    assert states() == ["Pending", "Pending"]
    chain.testing.mine(1)

    assert blocks_confirm() == 1

    block = LedgerBlock.objects.get()
    receipt = chain.eth.get_transaction_receipt(block.tx_hash)
    assert block.status == "confirmed" and block.chain_block_number == receipt["blockNumber"]
    rows = api_for(source).get(f"/api/v1/energy/attributions/{source.pk}").json()
    for row in rows:
        assert row["state"] == "Processed"
        assert row["height"] == receipt["blockNumber"]
        assert row["block_id"] == bytes(receipt["blockHash"]).hex()
        assert "state_changed" in row
    [event] = anchored_events(chain)
    assert (event["height"], event["root"].hex(), event["count"]) == (1, block.root, 2)
    assert_in_step(Source.objects.get(pk=source.pk))


def test_confirmation_waits_for_enough_blocks(chain, source, settings):
    settings.CHAIN_CONFIRMATIONS = 3
    append(source, [5])
    blocks_seal()
    blocks_send()

    assert blocks_confirm() == 0
    chain.testing.mine(1)
    assert blocks_confirm() == 0
    chain.testing.mine(1)
    assert blocks_confirm() == 1
    assert states() == ["Processed"]


def test_one_anchor_transaction_per_block_of_many_attributions(chain, customer_sources):
    for source in customer_sources:
        append(source, list(range(1, 201)))

    result = anchoring_round()

    block = LedgerBlock.objects.get()
    receipt = chain.eth.get_transaction_receipt(block.tx_hash)
    assert result == {"sealed": 1000, "sent": 1, "confirmed": 1}
    assert block.count == 1000
    assert receipt["gasUsed"] < 50_000  # one small transaction, whatever the count


@pytest.fixture
def refreshes(monkeypatch):
    """The moves each daily shift of energy's transitions was asked for."""
    asked = []
    real_shift = transitions.daily_shift

    def counted(moved):
        asked.append(moved)
        real_shift(moved)

    monkeypatch.setattr(transitions, "daily_shift", counted)
    return asked


def attribution_writes(queries) -> int:
    """Statements that update attribution rows (one executemany counts once)."""
    return sum(
        "UPDATE energy_attribution " in q["sql"] or 'UPDATE "energy_attribution" ' in q["sql"]
        for q in queries
    )


def leaf_reads(queries) -> int:
    """Statements that read ledger blocks' leaves."""
    return sum('"chain_ledgerblock"."leaves"' in q["sql"] for q in queries)


def test_blocks_waiting_in_one_round_mark_their_rows_at_once(chain, source, settings, refreshes):
    settings.CHAIN_CONFIRMATIONS = 5  # each block's transaction is mined on its own
    settings.BLOCK_MAX_TXS = 24
    append(source, list(range(1, 24 * 4 + 1)))  # four days, four blocks of a day each
    while blocks_seal():
        pass
    assert blocks_send() == 4
    refreshes.clear()

    assert blocks_confirm() == 0

    assert states() == ["Pending"] * 96
    assert len(refreshes) == 1  # the daily rows of the four days, worked out once
    assert_in_step(Source.objects.get(pk=source.pk))


def test_blocks_final_by_the_first_confirmation_write_their_rows_once(
    chain, source, settings, refreshes
):
    settings.BLOCK_MAX_TXS = 24
    append(source, list(range(1, 24 * 4 + 1)))
    while blocks_seal():
        pass
    refreshes.clear()

    with CaptureQueriesContext(connection) as queries:
        assert blocks_send() == 4
        assert blocks_confirm() == 4

    assert states() == ["Processed"] * 96
    # Straight from New to Processed: one write per block, never Pending on the way,
    # and the daily rows worked out once.
    assert attribution_writes(queries) == 4
    assert len(refreshes) == 1
    # The blocks' leaves (400 kB a block of 10,000 rows) are read once, by the pass
    # that locks the blocks to mark their rows; the pass for blocks still waiting
    # finds none.
    assert leaf_reads(queries) == 2
    # Whole blocks moved from New to Processed: the daily rows are shifted by the
    # counts of each day, not aggregated again from the attributions.
    assert day_aggregations(queries) == 0
    assert list(ledger_problems()) == []
    assert_in_step(Source.objects.get(pk=source.pk))


def test_daily_rows_that_lost_step_are_aggregated_again_when_their_rows_move(
    chain, source, settings
):
    settings.BLOCK_MAX_TXS = 24
    append(source, list(range(1, 24 * 2 + 1)))  # two days
    blocks_seal()
    # The first day's row says its 24 transactions are Pending, though they are New:
    # a shift from New would take what no row holds.
    DailyAggregate.objects.filter(source=source, day=T0.date()).update(state="Pending")

    with CaptureQueriesContext(connection) as queries:
        blocks_send()
        blocks_confirm()

    assert day_aggregations(queries) == 1
    assert_in_step(Source.objects.get(pk=source.pk))


def test_a_day_moving_on_leaves_the_daily_rows_after_it_as_they_were(chain, source, settings):
    settings.BLOCK_MAX_TXS = 24
    append(source, list(range(1, 24 * 3 + 1)))  # three days, one block of the first
    blocks_seal()
    later = dict(DailyAggregate.objects.filter(source=source).values_list("day", "pk"))

    blocks_send()
    blocks_confirm()

    rows = DailyAggregate.objects.filter(source=source).order_by("seq")
    assert [(r.day, r.state) for r in rows] == [
        (T0.date(), "Processed"),
        (T0.date() + dt.timedelta(days=1), "New"),
        (T0.date() + dt.timedelta(days=2), "New"),
    ]
    # The first day's row was rebuilt twice; the rows after it were not touched.
    assert [r.pk for r in rows[1:]] == [later[r.day] for r in rows[1:]]
    assert rows[0].pk != later[T0.date()]
    assert_in_step(Source.objects.get(pk=source.pk))


@pytest.mark.postgres
def test_a_day_moving_on_reads_no_daily_rows_after_it(chain, source, settings):
    # Anchoring a backlog moves an hour or a day of each source at a time; reading
    # every daily row after it, to renumber rows that keep their place, made each block
    # cost as much as the history ahead of it.
    settings.BLOCK_MAX_TXS = 24
    append(source, list(range(1, 24 * 60 + 1)))  # sixty days; the first one a block
    assert blocks_seal() == 24
    blocks_send()

    with transaction.atomic():
        before = _daily_rows_read()
        rows_mark_sent()
        read = _daily_rows_read() - before

    assert read < 5  # the first day's row (and its rewrite), not the 59 after it
    rows = DailyAggregate.objects.filter(source=source).order_by("seq")
    assert [r.state for r in rows] == ["Pending"] + ["New"] * 59
    assert_in_step(Source.objects.get(pk=source.pk))


def _daily_rows_read() -> int:
    """Daily rows read in this transaction, by table scans or through an index."""
    return sum(table_stats("energy_dailyaggregate", "seq_tup_read", "idx_tup_fetch"))


@pytest.fixture
def customer_sources():
    first = SourceFactory()
    return [first] + [SourceFactory(customer=first.customer) for _ in range(4)]


@pytest.fixture
def api_for():
    def make(source):
        api = Client()
        api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(source.customer)}"
        return api

    return make


class TestFaults:
    def test_an_unreachable_node_leaves_the_block_to_retry_with_its_nonce(
        self, chain, source, monkeypatch
    ):
        append(source, [5])
        blocks_seal()
        client.anchor_contract()  # deployed while the node was up
        real_send = chain.eth.send_raw_transaction

        def down(raw):
            raise requests.ConnectionError("connection refused")

        monkeypatch.setattr(chain.eth, "send_raw_transaction", down)
        assert blocks_send() == 0
        block = LedgerBlock.objects.get()
        assert block.status == "signed" and block.attempts == 1
        assert block.next_attempt_at > dt.datetime.now(dt.UTC)
        assert states() == ["New"]
        nonce = block.nonce

        monkeypatch.setattr(chain.eth, "send_raw_transaction", real_send)
        LedgerBlock.objects.update(next_attempt_at=None)  # the backoff has passed
        assert blocks_send() == 1
        assert blocks_confirm() == 1
        block.refresh_from_db()
        assert block.nonce == nonce
        assert len(anchored_events(chain)) == 1

    def test_a_worker_stopped_between_sending_and_confirming_loses_nothing(
        self, chain, source, settings
    ):
        settings.BLOCK_MAX_TXS = 2
        append(source, [5, 6, 7, 8, 9])
        while blocks_seal():
            pass

        assert blocks_send() == 3  # and the worker stops here
        # The node has all three transactions; the rows are as the blocks say: New.
        assert (
            list(LedgerBlock.objects.values_list("status", "rows_marked")) == [("sent", False)] * 3
        )
        assert states() == ["New"] * 5
        assert list(ledger_problems()) == []

        assert blocks_confirm() == 3  # gives them hash and block, Processed, at once

        assert states() == ["Processed"] * 5
        assert len(anchored_events(chain)) == 3
        assert list(ledger_problems()) == []
        assert_in_step(Source.objects.get(pk=source.pk))

    def test_resending_a_mined_transaction_never_anchors_twice(self, chain, source):
        append(source, [5])
        blocks_seal()
        blocks_send()
        # As if the worker died before recording the send: it goes out again.
        LedgerBlock.objects.update(status="signed")

        assert blocks_send() == 1
        assert blocks_confirm() == 1
        assert len(anchored_events(chain)) == 1
        account = client.engine_account().address
        assert chain.eth.get_transaction_count(account) == LedgerBlock.objects.get().nonce + 1

    def test_a_reorg_before_confirmation_is_detected_and_the_block_anchored_again(
        self, chain, source, settings
    ):
        settings.CHAIN_CONFIRMATIONS = 2
        append(source, [5])
        blocks_seal()
        client.anchor_contract()  # deployed before the snapshot
        snapshot = chain.testing.snapshot()
        blocks_send()
        assert blocks_confirm() == 0

        chain.testing.revert(snapshot)  # the anchoring transaction is gone

        assert blocks_confirm() == 0
        assert LedgerBlock.objects.get().status == "signed"
        assert blocks_send() == 1
        chain.testing.mine(1)
        assert blocks_confirm() == 1
        assert len(anchored_events(chain)) == 1
        assert states() == ["Processed"]

    def test_a_reverted_transaction_is_signed_again_with_a_fresh_nonce(
        self, chain, source, monkeypatch
    ):
        append(source, [5])
        blocks_seal()
        # Anchor height 1 behind the engine's back so the block's own transaction reverts.
        contract = client.anchor_contract()
        account = client.engine_account()
        sneaky = contract.functions.anchor(1, b"\1" * 32, b"\2" * 32, 1).build_transaction(
            {"from": account.address, "nonce": chain.eth.get_transaction_count(account.address)}
        )
        chain.eth.send_raw_transaction(account.sign_transaction(sneaky).raw_transaction)
        blocks_send()

        assert blocks_confirm() == 0
        block = LedgerBlock.objects.get()
        assert block.status == "sealed" and "reverted" in block.last_error
        assert states() == ["New"]  # back to be signed again: its rows were never marked
        assert list(ledger_problems()) == []

    def test_no_node_call_is_made_inside_a_database_transaction(self, chain):
        with pytest.raises(client.RpcInsideTransaction), transaction.atomic():
            client.web3().eth.get_block("latest")


def test_a_deployed_anchor_is_remembered_across_restarts_and_redeployed_on_a_new_chain(chain):
    engine = client.engine_account().address
    first = client.anchor_contract().address
    nonce = chain.eth.get_transaction_count(engine)

    client.deployed_contract.cache_clear()  # what a restarted process starts with
    assert client.anchor_contract().address == first
    assert chain.eth.get_transaction_count(engine) == nonce  # nothing deployed again

    fresh = client._in_process_web3()  # the node lost its state
    client.use_web3(fresh)
    again = client.anchor_contract()

    assert fresh.eth.get_code(again.address)
    assert fresh.eth.get_transaction_count(engine) == 1
    assert Deployment.objects.get().address == again.address
