"""RECs as tokens on a real node (anvil): minted through the API, moved and burnt by
wallets with web3 alone, redeemed, through a node outage, a dropped mint and a reorg;
the ledger ends verified with the supply balanced."""

import datetime as dt
import re
import threading

import pytest
from django.conf import settings as django_settings

from cg.pipeline import run_until_idle
from chain import anvil, client
from chain.models import EngineTransaction, LedgerBlock
from chain.token_events import token_events_index
from chain.transactions import transactions_confirm, transactions_send
from core.units import MWH
from recs.accounts import account_open
from recs.models import Bundle, Redemption, Retirement, Tokenization
from recs.tokens import token_id
from tests.factories import T0, CustomerFactory, append, assert_ledger_verified

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(anvil_node, settings):
    """anvil with the Anchor and a RecToken deployed by the engine, as production sets
    them; yields (web3, the contract, raw RPC)."""
    w3, _ = anvil_node
    settings.REC_TOKEN_ADDRESS = client.deploy_contract(w3, "RecToken", "https://x/{id}.json")
    client.deployed_contract.cache_clear()

    def rpc(method, *params):
        return w3.provider.make_request(method, list(params))["result"]

    return w3, client.rec_token_contract(), rpc


def holdings() -> list[tuple[str, int, int, str]]:
    return sorted(Bundle.objects.values_list("account__customer__name", "first", "last", "status"))


def sent(w3, call, sender) -> dict:
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    assert receipt["status"] == 1
    return receipt


def test_recs_live_on_chain_and_come_back(token, customer, source, client_for, settings):
    w3, contract, rpc = token
    api = client_for(customer)
    alice, bob = w3.eth.accounts[1], w3.eth.accounts[2]
    the_id = token_id(source.pk, T0.date())
    append(source, [MWH] * 6)
    run_until_idle()  # hours sealed, anchored, cut into 6 RECs, anchored
    assert holdings() == [("Hill Valley Energy", 1, 6, "active")]

    # The node is down when the mint is first tried: it waits, nothing is lost.
    made = api.post("/api/v1/energy/tokenizations", {"quantity": 5, "wallet": alice},
                    format="json", HTTP_IDEMPOTENCY_KEY="t").json()  # fmt: skip
    url = settings.WEB3_PROVIDER_URI
    settings.WEB3_PROVIDER_URI = f"http://127.0.0.1:{anvil.free_port()}"  # nobody listens
    client.use_web3(None)
    assert transactions_send() == 0
    assert EngineTransaction.objects.get().attempts == 1
    settings.WEB3_PROVIDER_URI = url
    client.use_web3(None)
    EngineTransaction.objects.update(next_attempt_at=None)

    # Back, but the node drops the mint from its pool: it is sent again, same nonce.
    rpc("evm_setAutomine", False)
    assert transactions_send() == 1
    first = EngineTransaction.objects.get()
    rpc("anvil_dropTransaction", first.tx_hash)
    assert transactions_confirm() == 0
    assert EngineTransaction.objects.get().status == "signed"
    assert transactions_send() == 1
    rpc("evm_mine")
    rpc("evm_setAutomine", True)
    assert transactions_confirm() == 1
    minted = api.get(f"/api/v1/energy/tokenizations/{made['id']}").json()
    assert minted["state"] == "Processed"
    assert EngineTransaction.objects.get().nonce == first.nonce
    assert contract.functions.balanceOf(alice, the_id).call() == 5

    # Anchoring goes on beside minting, from the same account: one nonce sequence.
    append(source, [MWH // 2], start=T0.replace(hour=6))
    run_until_idle()
    account = client.engine_account().address
    used = sorted(
        [*LedgerBlock.objects.values_list("nonce", flat=True),
         *EngineTransaction.objects.values_list("nonce", flat=True)]
    )  # fmt: skip
    assert used == list(range(2, w3.eth.get_transaction_count(account)))  # 0, 1: deploys

    # Wallets trade with web3 alone; bob burns 2 with a claim: a retirement appears.
    sent(w3, contract.functions.safeTransferFrom(alice, bob, the_id, 3, b""), alice)
    claim = (w3.keccak(text="Acme Bakery Ltd"), w3.keccak(text="Scope 2"), b"US", 17970, 17970)
    sent(w3, contract.functions.retire(the_id, 2, *claim), bob)
    run_until_idle()
    retirement = Retirement.objects.get()
    assert (retirement.wallet, retirement.quantity) == (bob, 2)
    statement = api.get(f"/statements/{retirement.statement}.json").json()
    assert statement["retirement"]["on_chain"]["tx_hash"] == retirement.tx_hash
    assert statement["anchor"] is not None  # its leaf is anchored like any retirement's
    assert holdings() == [
        ("Hill Valley Energy", 1, 2, "retired"),
        ("Hill Valley Energy", 3, 5, "on_chain"),
        ("Hill Valley Energy", 6, 6, "active"),
    ]

    # A burn in a block that a reorg then replaces was never final: nothing recorded.
    settings.CHAIN_CONFIRMATIONS = 2
    snapshot = rpc("evm_snapshot")
    sent(w3, contract.functions.retire(the_id, 1, *claim), bob)
    token_events_index()
    rpc("evm_revert", snapshot)
    rpc("evm_mine")
    rpc("evm_mine")
    token_events_index()
    assert Retirement.objects.count() == 1
    settings.CHAIN_CONFIRMATIONS = 1

    # The rest comes back: bob's 1 to a buyer's account, alice's 2 to the holder's.
    buyer = CustomerFactory(name="Buyer")
    buyer_code = account_open(customer=buyer).code
    holder_code = account_open(customer=customer).code
    sent(w3, contract.functions.safeTransferFrom(bob, contract.address, the_id, 1,
                                                 buyer_code.encode()), bob)  # fmt: skip
    sent(w3, contract.functions.safeTransferFrom(alice, contract.address, the_id, 2,
                                                 holder_code.lower().encode()), alice)  # fmt: skip
    run_until_idle()

    assert Redemption.objects.count() == 2
    assert contract.functions.totalSupply(the_id).call() == 0
    assert holdings() == [
        ("Buyer", 3, 3, "active"),
        ("Hill Valley Energy", 1, 2, "retired"),
        ("Hill Valley Energy", 4, 6, "active"),
    ]
    assert Tokenization.objects.get().state == "Processed"
    assert_ledger_verified()


@pytest.mark.parametrize(
    ("embedded", "error"), [(True, "chain_unavailable"), (False, "tokenization_off")]
)
def test_a_tokenization_the_engine_cannot_mint_is_refused_and_changes_nothing(
    token, customer, source, client_for, settings, embedded, error
):
    append(source, [MWH] * 2)
    run_until_idle()
    # No RecToken configured: embedded mode would deploy one, but the node is down;
    # production tokenizes nothing.
    settings.EMBEDDED, settings.REC_TOKEN_ADDRESS = embedded, None
    client.deployed_contract.cache_clear()
    settings.WEB3_PROVIDER_URI = f"http://127.0.0.1:{anvil.free_port()}"
    client.use_web3(None)

    refused = client_for(customer).post(
        "/api/v1/energy/tokenizations", {"quantity": 1, "wallet": token[0].eth.accounts[1]},
        format="json", HTTP_IDEMPOTENCY_KEY="t",
    )  # fmt: skip

    assert refused.status_code == 503
    assert refused.json()["error"] == error
    assert Tokenization.objects.count() == EngineTransaction.objects.count() == 0
    assert holdings() == [("Hill Valley Energy", 1, 2, "active")]


def readme_snippet() -> str:
    text = (django_settings.BASE_DIR / "README.md").read_text()
    found = re.search(r"<!-- snippet: web3-tokens -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its web3-tokens snippet"
    return found.group(1)


def test_the_readme_snippet_trades_retires_and_redeems(token, customer, source, client_for):
    w3, contract, _ = token
    march = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    append(source, [MWH] * 10, start=march)
    run_until_idle()
    buyer = CustomerFactory(name="Buyer")
    account = account_open(customer=buyer)
    type(account).objects.filter(pk=account.pk).update(code="CGA-7K2M-QX9D-4RTP")
    made = client_for(customer).post(
        "/api/v1/energy/tokenizations", {"quantity": 10, "wallet": w3.eth.accounts[1]},
        format="json", HTTP_IDEMPOTENCY_KEY="t",
    ).json()  # fmt: skip
    run_until_idle()
    namespace = {
        "NODE_URL": django_settings.WEB3_PROVIDER_URI,
        "REC_TOKEN_ABI": client.contract_artifact("RecToken")["abi"],
        "made": made,
        "buyer": w3.eth.accounts[2],
    }

    exec(compile(readme_snippet(), "README.md", "exec"), namespace)
    run_until_idle()

    the_id = token_id(source.pk, march.date())
    assert contract.functions.balanceOf(w3.eth.accounts[2], the_id).call() == 5
    assert contract.functions.totalSupply(the_id).call() == 5
    retirement = Retirement.objects.get()
    assert (retirement.quantity, retirement.period_end) == (2, dt.date(2024, 3, 31))
    assert Redemption.objects.get().account == account
    assert holdings() == [
        ("Buyer", 3, 5, "active"),
        ("Hill Valley Energy", 1, 2, "retired"),
        ("Hill Valley Energy", 6, 10, "on_chain"),
    ]
    assert_ledger_verified()


@pytest.mark.postgres
def test_workers_at_once_tokenize_what_is_held_and_never_share_a_nonce(token, customer, source):
    from django.db import connection

    from chain.services import blocks_confirm, blocks_seal, blocks_send
    from core.errors import InsufficientHoldings
    from recs.tokenizations import tokenization_create

    w3, contract, _ = token
    append(source, [MWH] * 8)
    run_until_idle()
    outcomes, errors = [], []

    def at_once(work, n: int) -> None:
        barrier = threading.Barrier(n)

        def run():
            try:
                barrier.wait()
                work()
            except Exception as error:  # a thread's failure must fail the test
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def tokenize():
        try:
            tokenization_create(customer=customer, contract=contract,
                                wallet=w3.eth.accounts[1], quantity=3)  # fmt: skip
            outcomes.append("made")
        except InsufficientHoldings:
            outcomes.append("refused")

    at_once(tokenize, 4)  # 8 held, 3 each: two can be made, whatever the order
    assert errors == []
    assert sorted(outcomes) == ["made", "made", "refused", "refused"]
    assert holdings() == [("Hill Valley Energy", 1, 6, "minting"),
                          ("Hill Valley Energy", 7, 8, "active")]  # fmt: skip

    # Anchoring work waits beside the mints; three workers send everything at once.
    append(source, [MWH // 4] * 3, start=T0.replace(hour=8))
    while blocks_seal():
        pass
    at_once(lambda: (transactions_send(), blocks_send()), 3)
    assert errors == []
    assert transactions_confirm() == 2 and blocks_confirm() >= 1

    account = client.engine_account().address
    used = sorted(
        [*LedgerBlock.objects.values_list("nonce", flat=True),
         *EngineTransaction.objects.values_list("nonce", flat=True)]
    )  # fmt: skip
    assert used == list(range(2, w3.eth.get_transaction_count(account)))
    assert contract.functions.balanceOf(w3.eth.accounts[1], token_id(source.pk, T0.date())
                                        ).call() == 6  # fmt: skip
    run_until_idle()
    assert_ledger_verified()


def test_a_mint_that_reverts_on_chain_fails_and_the_recs_come_back(
    token, customer, source, client_for
):
    from chain.transactions import _sign

    w3, contract, rpc = token
    append(source, [MWH] * 3)
    run_until_idle()
    wallet = w3.eth.accounts[5]
    made = client_for(customer).post(
        "/api/v1/energy/tokenizations", {"quantity": 2, "wallet": wallet},
        format="json", HTTP_IDEMPOTENCY_KEY="t",
    ).json()  # fmt: skip
    signed = _sign(EngineTransaction.objects.get())  # its gas estimated while it would pass
    # Before it is sent, the wallet becomes a contract that cannot take ERC-1155 tokens.
    rpc("anvil_setCode", wallet, client.contract_artifact("Anchor")["deployedBytecode"])

    assert transactions_send() == 1
    assert w3.eth.get_transaction_receipt(signed.tx_hash)["status"] == 0
    transactions_confirm()

    shown = client_for(customer).get(f"/api/v1/energy/tokenizations/{made['id']}").json()
    assert shown["state"] == "Failed"
    assert EngineTransaction.objects.get().status == "failed"
    assert holdings() == [("Hill Valley Energy", 1, 3, "active")]
    assert contract.functions.totalSupply(token_id(source.pk, T0.date())).call() == 0
    run_until_idle()
    assert_ledger_verified()
