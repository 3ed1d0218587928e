"""The RecToken contract on a real anvil node, driven with web3 alone: only the engine
mints; holders move tokens between wallets; a burn with a claim is a retirement."""

import pytest
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from chain import client

pytestmark = pytest.mark.django_db(transaction=True)

URI = "https://registry.example/api/v1/tokens/{id}.json"
ID = 12 * 1_000_000 + 2024 * 100 + 3  # source 12, vintage 2024-03


@pytest.fixture
def token(anvil_node):
    w3, _ = anvil_node
    address = client.deploy_contract(w3, "RecToken", URI)
    contract = w3.eth.contract(address=address, abi=client.contract_artifact("RecToken")["abi"])
    return w3, contract


def engine_sends(w3, call) -> dict:
    account = client.engine_account()
    tx = call.build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
    )
    signed = account.sign_transaction(tx)
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))


def test_minted_recs_move_between_wallets_and_retire_by_burning(token):
    w3, contract = token
    alice, bob = w3.eth.accounts[1], w3.eth.accounts[2]  # anvil's unlocked wallets

    engine_sends(w3, contract.functions.mint(alice, [ID], [100]))
    w3.eth.wait_for_transaction_receipt(
        contract.functions.safeTransferFrom(alice, bob, ID, 40, b"").transact({"from": alice})
    )
    beneficiary = w3.keccak(text="Acme Bakery Ltd")
    receipt = w3.eth.wait_for_transaction_receipt(
        contract.functions.retire(
            ID, 15, beneficiary, w3.keccak(text="2024 Scope 2"), b"US", 19723, 19812
        ).transact({"from": bob})
    )

    assert contract.functions.balanceOf(alice, ID).call() == 60
    assert contract.functions.balanceOf(bob, ID).call() == 25
    assert contract.functions.totalSupply(ID).call() == 85  # 15 burnt
    # The burn's TransferSingle log is in the receipt too: only Retired is read.
    [retired] = contract.events.Retired().process_receipt(receipt, errors=DISCARD)
    assert retired["args"]["holder"] == bob
    assert (retired["args"]["id"], retired["args"]["amount"]) == (ID, 15)
    assert retired["args"]["beneficiaryHash"] == beneficiary
    assert (retired["args"]["periodStart"], retired["args"]["periodEnd"]) == (19723, 19812)
    assert contract.functions.uri(ID).call() == URI


def test_only_the_engine_mints_and_a_claim_must_be_whole(token):
    w3, contract = token
    alice = w3.eth.accounts[1]
    engine_sends(w3, contract.functions.mint(alice, [ID], [5]))

    with pytest.raises(ContractLogicError):
        contract.functions.mint(alice, [ID], [1]).call({"from": alice})
    nobody = bytes(32)
    with pytest.raises(ContractLogicError):  # no beneficiary
        contract.functions.retire(ID, 1, nobody, nobody, b"US", 1, 2).call({"from": alice})
    with pytest.raises(ContractLogicError):  # a period ending before it starts
        contract.functions.retire(ID, 1, b"\x01" * 32, nobody, b"US", 5, 2).call({"from": alice})
    with pytest.raises(ContractLogicError):  # more than it holds
        contract.functions.retire(ID, 6, b"\x01" * 32, nobody, b"US", 1, 2).call({"from": alice})
    assert contract.functions.totalSupply(ID).call() == 5


def holder_sends(w3, call, sender) -> dict:
    return w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))


def test_the_indexer_follows_mints_transfers_and_retirements(token, settings):
    from chain.models import TokenEvent
    from chain.token_events import token_events_index

    w3, contract = token
    settings.REC_TOKEN_ADDRESS = contract.address
    alice, bob = w3.eth.accounts[1], w3.eth.accounts[2]
    engine_sends(w3, contract.functions.mint(alice, [ID, ID + 1], [100, 7]))
    holder_sends(w3, contract.functions.safeTransferFrom(alice, bob, ID, 40, b""), alice)
    claim = (w3.keccak(text="Acme"), w3.keccak(text=""), b"US", 19723, 19812)
    holder_sends(w3, contract.functions.retire(ID, 15, *claim), bob)

    assert token_events_index() == 5  # a batch mint of 2 ids, a transfer, a burn, a claim
    assert token_events_index() == 0  # nothing new: each event once

    rows = list(TokenEvent.objects.order_by("block_number", "log_index", "position"))
    zero = "0x" + "0" * 40
    assert [(r.kind, r.sender, r.receiver or None, int(r.token_id), int(r.amount))
            for r in rows] == [
        ("transfer", zero, alice, ID, 100),
        ("transfer", zero, alice, ID + 1, 7),
        ("transfer", alice, bob, ID, 40),
        ("transfer", bob, zero, ID, 15),
        ("retired", bob, None, ID, 15),
    ]  # fmt: skip
    assert rows[-1].claim["beneficiary_hash"] == "0x" + w3.keccak(text="Acme").hex().removeprefix(
        "0x"
    )
    assert (rows[-1].claim["country"], rows[-1].claim["period_end"]) == ("US", 19812)


def test_a_reorg_takes_back_the_events_of_the_blocks_it_replaced(token, settings):
    from chain.models import TokenEvent
    from chain.token_events import token_events_index

    w3, contract = token
    settings.REC_TOKEN_ADDRESS = contract.address
    alice, carol, dave = w3.eth.accounts[1], w3.eth.accounts[3], w3.eth.accounts[4]
    engine_sends(w3, contract.functions.mint(alice, [ID], [10]))
    token_events_index()
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    holder_sends(w3, contract.functions.safeTransferFrom(alice, carol, ID, 3, b""), alice)
    assert token_events_index() == 1  # carol's transfer, one confirmation deep

    # The chain reorganises: carol's block is replaced by one where dave gets 4.
    w3.provider.make_request("evm_revert", [snapshot])
    holder_sends(w3, contract.functions.safeTransferFrom(alice, dave, ID, 4, b""), alice)
    token_events_index()

    receivers = list(TokenEvent.objects.order_by("block_number").values_list("receiver", "amount"))
    assert [(r, int(a)) for r, a in receivers] == [(alice, 10), (dave, 4)]


def test_the_indexer_decodes_every_event_as_web3_does(token):
    from chain.token_events import _decoders

    w3, contract = token
    alice, bob = w3.eth.accounts[1], w3.eth.accounts[2]
    engine_sends(w3, contract.functions.mint(alice, [ID, ID + 1], [100, 7]))  # a batch
    holder_sends(w3, contract.functions.safeTransferFrom(alice, bob, ID, 40, b""), alice)
    claim = (w3.keccak(text="Acme"), w3.keccak(text="2024"), b"US", 19723, 19812)
    holder_sends(w3, contract.functions.retire(ID, 15, *claim), bob)
    redeem = contract.functions.safeTransferFrom(bob, contract.address, ID, 5, "ACC-7 €".encode())
    holder_sends(w3, redeem, bob)

    logs = w3.eth.get_logs({"address": contract.address, "fromBlock": 0})
    ours = _decoders(contract)
    theirs = {topic: getattr(contract.events, e.name)() for topic, e in ours.items()}
    decoded = [
        (ours[bytes(entry["topics"][0])].process_log(entry),
         theirs[bytes(entry["topics"][0])].process_log(entry))
        for entry in logs
    ]  # fmt: skip

    assert [mine["event"] for mine, _ in decoded] == [
        "TransferBatch", "TransferSingle", "TransferSingle", "Retired",
        "TransferSingle", "TransferSingle", "Redeemed",
    ]  # fmt: skip
    for mine, web3s in decoded:
        assert mine["args"] == dict(web3s["args"])
        for key in ("blockNumber", "blockHash", "transactionHash", "logIndex"):
            assert mine[key] == web3s[key]
    assert decoded[-1][0]["args"]["account"] == "ACC-7 €"
