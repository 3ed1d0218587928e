"""Proofs anyone can check with web3 alone, and verify_ledger catching tampering."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.test import Client
from eth_abi import encode
from eth_hash.auto import keccak

from chain import client
from chain.hashing import merkle_verify
from chain.services import anchoring_round
from core.units import MWH
from energy.models import Attribution, DailyAggregate, Source
from recs.models import Rec
from recs.services import rec_issue
from tests.factories import (
    CustomerFactory,
    SourceFactory,
    append,
    past_the_triggers,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def anchored(chain):
    source = SourceFactory()
    rows = append(source, [12_312_000, 5, 0, 77])
    anchoring_round()
    api = Client()
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(source.customer)}"
    return source, rows, api


def proof_url(source, attribution) -> str:
    return f"/api/v1/energy/attributions/{source.external_id}/{attribution.pk}/proof"


def test_a_proof_checks_out_against_the_chain_with_web3_alone(chain, anchored):
    source, rows, api = anchored

    proof = api.get(proof_url(source, rows[1])).json()

    # 1. The leaf is what the attribution asserts.
    fields = proof["leaf_fields"]
    leaf = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint64", "int256"],
            [
                keccak(b"cg.attribution.v1"),
                bytes.fromhex(fields["client_id"][2:]),
                keccak(fields["external_id"].encode()),
                fields["effective_time"],
                fields["value"],
            ],
        )
    )
    assert "0x" + leaf.hex() == proof["leaf"] and fields["value"] == 5
    # 2. The proof leads to the root, as OpenZeppelin's MerkleProof checks it on chain.
    nodes = [bytes.fromhex(p[2:]) for p in proof["proof"]]
    root = bytes.fromhex(proof["root"][2:])
    assert merkle_verify(nodes, root, leaf)
    contract = chain.eth.contract(
        address=proof["contract_address"], abi=client.anchor_artifact()["abi"]
    )
    assert contract.functions.verify(nodes, root, leaf).call()
    # 3. The root is what was anchored at that height, in that chain block.
    [event] = contract.events.Anchored().get_logs(
        from_block=proof["chain_block_number"],
        to_block=proof["chain_block_number"],
        argument_filters={"height": proof["ledger_height"]},
    )
    assert bytes(event["args"]["root"]) == root
    assert "0x" + bytes(event["blockHash"]).hex() == proof["chain_block_hash"]
    assert event["transactionHash"].to_0x_hex() == proof["transaction_hash"]
    assert proof["chain_id"] == chain.eth.chain_id


def test_an_unsealed_transaction_has_no_proof_yet(chain):
    source = SourceFactory()
    [row] = append(source, [-5])  # consumption is never sealed
    api = Client()
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(source.customer)}"

    response = api.get(proof_url(source, row))

    assert response.status_code == 409
    assert response.json()["error"] == "not_anchored"


def test_another_devices_or_customers_transaction_is_404(anchored):
    source, rows, api = anchored
    other = SourceFactory(customer=source.customer)
    stranger = SourceFactory()

    assert api.get(proof_url(other, rows[0])).status_code == 404
    assert api.get(proof_url(stranger, rows[0])).status_code == 404
    assert api.get(f"/api/v1/energy/attributions/{source.pk}/abc/proof").status_code == 404


def verify() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def tamper(sql: str, params: list) -> None:
    past_the_triggers("energy_attribution", sql, params)


def test_verify_ledger_passes_on_an_untouched_ledger(anchored):
    assert verify().splitlines()[-1].startswith("ledger verified: 1 block(s)")


@pytest.mark.postgres
def test_verify_ledger_names_an_attribution_whose_value_was_edited(anchored):
    _, rows, _ = anchored
    tamper("UPDATE energy_attribution SET value = value + 1 WHERE id = %s", [rows[2].pk])

    out = StringIO()
    with pytest.raises(CommandError, match="3 problem"):
        call_command("verify_ledger", stdout=out)

    said = out.getvalue()
    assert f"attribution {rows[2].pk}: its content no longer hashes" in said
    # The rows derived from it no longer add up either.
    source = rows[2].source_id
    assert f"source {source}: its daily rows are not what its attributions add up to" in said
    assert f"source {source}: without_rec_sum is " in said


def test_verify_ledger_names_a_daily_row_or_counter_edited_by_hand(anchored):
    _, rows, _ = anchored
    source = Source.objects.get(pk=rows[0].source_id)
    DailyAggregate.objects.filter(source=source).update(number=F("number") + 1)
    Source.objects.filter(pk=source.pk).update(without_rec_sum=F("without_rec_sum") + 1)

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    said = out.getvalue()
    assert f"source {source.pk}: its daily rows are not what its attributions add up to" in said
    assert f"source {source.pk}: without_rec_sum is " in said


@pytest.mark.postgres
def test_verify_ledger_names_a_rec_moved_to_another_customer(anchored):
    source, rows, _ = anchored
    append(source, [MWH], start=rows[-1].effective_time + dt.timedelta(hours=1))
    anchoring_round()
    assert rec_issue(source_id=source.pk) == 1
    rec = Rec.objects.get()
    other = CustomerFactory()
    past_the_triggers(  # as the probe of issue 12 did
        "recs_rec", "UPDATE recs_rec SET customer_id = %s, seq = 51 WHERE id = %s",
        [other.pk, rec.pk],
    )  # fmt: skip

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    said = out.getvalue()
    assert f"REC {rec.pk}: belongs to customer {other.pk}, not to its source's customer" in said
    assert f"customer {other.pk}: 1 RECs numbered 51..51, but its numbering stands at 0" in said
    assert f"customer {source.customer_id}: 0 RECs numbered None..None, but its numbering" in said


@pytest.mark.postgres
def test_verify_ledger_catches_a_rewritten_hash(anchored):
    _, rows, _ = anchored
    tamper("UPDATE energy_attribution SET hash = %s WHERE id = %s", ["ab" * 32, rows[0].pk])

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    assert f"attribution {rows[0].pk}: its hash or block is not block 1's" in out.getvalue()


@pytest.mark.postgres
def test_verify_ledger_catches_a_block_whose_root_differs_from_the_chain(anchored):
    past_the_triggers("chain_ledgerblock", "UPDATE chain_ledgerblock SET root = %s", ["cd" * 32])

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    text = out.getvalue()
    assert "block 1: its leaves give root" in text
    assert "block 1: chain has root" in text
    assert Attribution.objects.count() == 4


def test_chain_deploy_prints_a_working_contract_address_last(chain):
    out = StringIO()

    call_command("chain_deploy", stdout=out)

    address = out.getvalue().splitlines()[-1]
    assert chain.eth.get_code(address)
    contract = chain.eth.contract(address=address, abi=client.anchor_artifact()["abi"])
    assert contract.functions.engine().call() == client.engine_account().address


def test_verify_ledger_on_a_chain_without_our_contract_deploys_nothing(anchored, chain):
    """The audit of a ledger against the wrong chain fails; it never writes to fix it."""
    from chain.models import Deployment

    client.use_web3(client._in_process_web3())  # a chain that never saw our anchors
    head = client.web3().eth.block_number

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    assert "no Anchor contract is known on this chain" in out.getvalue()
    assert "block 1: confirmed, but no Anchored event on chain" in out.getvalue()
    assert client.web3().eth.block_number == head
    assert Deployment.objects.count() == 1  # the first chain's, nothing new


@pytest.mark.postgres
def test_verify_ledger_cannot_write_to_the_database():
    from django.db import DatabaseError

    from chain.management.commands.verify_ledger import _read_only

    _read_only(True)
    try:
        with pytest.raises(DatabaseError, match="read-only"):
            SourceFactory()
    finally:
        _read_only(False)
    SourceFactory()  # and the session is writable again afterwards


@pytest.mark.postgres
def test_verify_ledger_names_a_transaction_moved_back_past_the_triggers(anchored):
    _, rows, _ = anchored
    tamper("UPDATE energy_attribution SET state = 'New' WHERE id = %s", [rows[1].pk])

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)

    found = out.getvalue()

    assert f"attribution {rows[1].pk}: New, but block 1 (confirmed) makes it Processed" in found
