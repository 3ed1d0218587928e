"""POST /tokenizations: RECs leave an account for a wallet as RecToken tokens, in one
mint; the ledger follows what wallets then do (burns to retire, redemptions)."""

import pytest
from web3 import Web3

from chain import client
from chain.models import EngineTransaction
from chain.token_events import token_events_index
from chain.transactions import transactions_confirm, transactions_send
from core.units import MWH
from recs.models import Bundle, IdempotentRequest, Redemption, Retirement, Tokenization
from recs.tokens import token_id
from tests.factories import (
    T0,
    CustomerFactory,
    anchor_all,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    node_calls_in_the_test_transaction,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/energy/tokenizations"


@pytest.fixture
def holder(customer, source):
    """The source's customer, holding RECs 1..5 of it, all of March 2019."""
    mark_processed(append(source, [MWH] * 5))
    issue(source, anchor=False)
    return customer


@pytest.fixture
def w3():
    with node_calls_in_the_test_transaction() as w3:
        yield w3


def tokenize(api, body: dict, key: str = "t1"):
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def chain_round() -> None:
    """What the chain's worker does: send the mints, settle them, index the events."""
    transactions_send()
    transactions_confirm()
    while token_events_index():
        pass


def holdings() -> list[tuple[int, int, str]]:
    return sorted(Bundle.objects.values_list("first", "last", "status"))


def contract(w3):
    return client.rec_token_contract()


def everything() -> tuple:
    return (
        holdings(),
        Tokenization.objects.count(),
        EngineTransaction.objects.count(),
        IdempotentRequest.objects.count(),
    )


def test_tokenized_recs_are_minted_to_the_wallet_in_one_transaction(api, holder, source, w3):
    alice = w3.eth.accounts[1]
    the_id = token_id(source.pk, T0.date())

    made = tokenize(api, {"source": str(source.pk), "quantity": 3, "wallet": alice.lower()})

    assert made.status_code == 201, made.json()
    body = made.json()
    s = source.pk
    assert body == {
        "id": body["id"],
        "state": "New",
        "wallet": alice,  # checksummed
        "contract": contract(w3).address,
        "quantity": 3,
        "bundles": [{"source": s, "first": f"{s}-1", "last": f"{s}-3", "quantity": 3}],
        "tokens": [{"token_id": str(the_id), "amount": 3}],
        "created": body["created"],
    }
    assert holdings() == [(1, 3, "minting"), (4, 5, "active")]

    transactions_send()
    pending = api.get(f"{URL}/{body['id']}").json()
    assert pending["state"] == "Pending"
    assert pending["tx_hash"] == EngineTransaction.objects.get().tx_hash

    transactions_confirm()
    done = api.get(f"{URL}/{body['id']}").json()
    assert done["state"] == "Processed"
    receipt = w3.eth.get_transaction_receipt(done["tx_hash"])
    assert done["height"] == receipt["blockNumber"]
    assert contract(w3).functions.balanceOf(alice, the_id).call() == 3
    assert holdings() == [(1, 3, "on_chain"), (4, 5, "active")]
    summary = api.get("/api/v1/energy/account").json()
    assert (summary["held"], summary["on_chain"]) == (2, 3)
    listed = api.get(URL).json()
    assert [(t["id"], t["total"]) for t in listed] == [(body["id"], 1)]
    anchor_all()
    assert_ledger_verified()


def test_the_same_key_answers_once_and_mints_once(api, holder, source, w3):
    body = {"quantity": 2, "wallet": w3.eth.accounts[1]}

    first = tokenize(api, body, key="k")
    again = tokenize(api, body, key="k")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert Tokenization.objects.count() == EngineTransaction.objects.count() == 1
    assert tokenize(api, {**body, "quantity": 1}, key="k").json()["error"] == (
        "idempotency_key_reused"
    )


@pytest.mark.parametrize(
    "wallet",
    [
        "0x12",  # too short
        "0x" + "g" * 40,  # not hex
        "0x" + "0" * 40,  # the zero address: tokens there are lost
        "0xA0b86991C6218b36c1d19D4a2e9Eb0cE3606eB48".replace("A0b", "a0B"),  # bad checksum
        12,
    ],
)
def test_a_wallet_that_is_not_an_address_changes_nothing(api, holder, w3, wallet):
    before = everything()

    refused = tokenize(api, {"quantity": 1, "wallet": wallet})

    assert refused.status_code == 400, refused.json()
    assert refused.json()["param"] == "wallet"
    assert everything() == before


def test_more_than_the_account_holds_changes_nothing(api, holder, w3):
    before = everything()

    refused = tokenize(api, {"quantity": 6, "wallet": w3.eth.accounts[1]})

    assert refused.status_code == 409
    assert refused.json()["error"] == "insufficient_holdings"
    assert everything() == before


def test_recs_in_a_pending_transfer_cannot_be_tokenized(api, holder, source, w3):
    buyer = CustomerFactory(name="Buyer")
    to = api.get("/api/v1/energy/account").json()  # opens the holder's account
    assert to["held"] == 5
    from recs.accounts import account_open

    code = account_open(customer=buyer).code
    sent = api.post("/api/v1/energy/transfers", {"to": code, "quantity": 5}, format="json",
                    HTTP_IDEMPOTENCY_KEY="tr")  # fmt: skip
    assert sent.status_code == 201
    before = everything()

    s = source.pk
    refused = tokenize(api, {"recs": [f"{s}-1"], "wallet": w3.eth.accounts[1]})

    assert refused.status_code == 409
    assert refused.json()["error"] == "insufficient_holdings"
    assert everything() == before


def test_a_mint_that_would_revert_fails_and_gives_the_recs_back(api, holder, w3, settings):
    # A contract this engine did not deploy: its mint refuses the engine's key.
    other = w3.eth.contract(
        abi=client.contract_artifact("RecToken")["abi"],
        bytecode=client.contract_artifact("RecToken")["bytecode"],
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        other.constructor("x").transact({"from": w3.eth.accounts[2]})
    )
    settings.REC_TOKEN_ADDRESS = receipt["contractAddress"]
    client.deployed_contract.cache_clear()
    made = tokenize(api, {"quantity": 2, "wallet": w3.eth.accounts[1]}).json()
    nonce_before = w3.eth.get_transaction_count(client.engine_account().address)

    chain_round()

    failed = api.get(f"{URL}/{made['id']}").json()
    assert failed["state"] == "Failed"
    assert holdings() == [(1, 5, "active")]
    tx = EngineTransaction.objects.get()
    assert (tx.status, tx.nonce) == ("failed", None)  # refused before it took a nonce
    assert w3.eth.get_transaction_count(client.engine_account().address) == nonce_before
    anchor_all()
    assert_ledger_verified()


def test_a_burn_with_a_claim_becomes_a_retirement_with_a_statement(api, holder, source, w3):
    alice = w3.eth.accounts[1]
    the_id = token_id(source.pk, T0.date())
    tokenize(api, {"quantity": 4, "wallet": alice})
    chain_round()
    token = contract(w3)
    beneficiary, purpose = w3.keccak(text="Acme Bakery Ltd"), w3.keccak(text="Scope 2")
    w3.eth.wait_for_transaction_receipt(
        token.functions.retire(the_id, 3, beneficiary, purpose, b"US", 17970, 17970).transact(
            {"from": alice}
        )
    )

    chain_round()

    retirement = Retirement.objects.get()
    assert (retirement.account, retirement.wallet, retirement.quantity) == (None, alice, 3)
    assert retirement.beneficiary_hash == bytes(beneficiary).hex()
    assert holdings() == [(1, 3, "retired"), (4, 4, "on_chain"), (5, 5, "active")]
    shown = api.get(f"/statements/{retirement.statement}", HTTP_ACCEPT="application/json")
    assert shown.status_code == 200
    statement = shown.json()["retirement"]
    assert statement["quantity"] == 3
    assert statement["on_chain"]["wallet"] == alice
    assert statement["on_chain"]["beneficiary_hash"] == "0x" + bytes(beneficiary).hex()
    anchor_all()
    assert_ledger_verified()


def test_tokens_sent_back_to_the_contract_return_as_active_recs(api, holder, source, w3):
    alice = w3.eth.accounts[1]
    buyer = CustomerFactory(name="Buyer")
    from recs.accounts import account_open

    code = account_open(customer=buyer).code
    the_id = token_id(source.pk, T0.date())
    tokenize(api, {"quantity": 5, "wallet": alice})
    chain_round()
    token = contract(w3)

    w3.eth.wait_for_transaction_receipt(
        token.functions.safeTransferFrom(alice, token.address, the_id, 2, code.encode()).transact(
            {"from": alice}
        )
    )
    chain_round()

    redemption = Redemption.objects.get()
    assert (redemption.account.customer, redemption.quantity) == (buyer, 2)
    assert token.functions.totalSupply(the_id).call() == 3
    assert sorted(Bundle.objects.values_list("account__customer__name", "first", "last",
                                             "status")) == [
        ("Buyer", 1, 2, "active"),
        ("Hill Valley Energy", 3, 5, "on_chain"),
    ]  # fmt: skip
    assert Web3.to_checksum_address(redemption.wallet) == alice
    # Anyone with a token sees what happened to the token id, newest first.
    events = api.get(f"/api/v1/energy/tokens/{the_id}/events").json()
    assert [(e["kind"], e["from"], e.get("to"), e["amount"], e["total"]) for e in events] == [
        ("redeemed", alice, None, 2, 4),
        ("transfer", token.address, "0x" + "0" * 40, 2, 4),  # the contract burns them
        ("transfer", alice, token.address, 2, 4),
        ("transfer", "0x" + "0" * 40, alice, 5, 4),  # the mint
    ]
    assert events[0]["claim"] == {"account": code}
    assert api.get(f"/api/v1/energy/tokens/{'f' * 65}/events").status_code == 404
    anchor_all()
    assert_ledger_verified()


def test_the_audit_names_recs_the_ledger_holds_on_chain_that_the_contract_does_not(
    api, holder, source, w3
):
    from chain.audit import ledger_problems

    tokenize(api, {"quantity": 4, "wallet": w3.eth.accounts[1]})
    chain_round()
    anchor_all()
    assert_ledger_verified()

    # Someone with database access takes a REC back from chain without a redemption.
    Bundle.objects.filter(status="on_chain").update(last=3, quantity=3)
    Bundle.objects.create(account=Bundle.objects.first().account, source=source, first=4,
                          last=4, quantity=1, status="active")  # fmt: skip

    the_id = token_id(source.pk, T0.date())
    problems = list(ledger_problems())
    assert any(
        f"token {the_id}: the contract's supply at block" in p and "holds 3 RECs" in p
        for p in problems
    ), problems


def test_operators_see_mints_waiting_in_the_pipeline_status(api, holder, w3):
    from cg.status import pipeline_status

    tokenize(api, {"quantity": 2, "wallet": w3.eth.accounts[1]})

    waiting = {s.name: s for s in pipeline_status().stages}["mints"]
    assert (waiting.waiting, waiting.unit) == (1, "transactions")
    assert waiting.oldest is not None
    chain_round()
    assert {s.name: s for s in pipeline_status().stages}["mints"].waiting == 0
