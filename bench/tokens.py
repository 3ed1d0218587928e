"""RECs as tokens: what a mint costs in gas, and how fast the ledger follows the chain.

On a real node (anvil, from the npm lock): issues three sources' RECs of one vintage
month (1,200 each), then tokenizes 1,000, 100 and 10 RECs, each of its own source
(a fresh token id) to its own fresh wallet, so each mint pays the same first-time
storage; the gas of each is its receipt's. Then wallets make ``--events`` transfers
of the tokens and the indexer (chain.token_events, with the recs app following)
reads them from final blocks: events per second.

    make bench
    python bench/tokens.py --events 2000   # a quick run
"""

import argparse
import time

from common import fresh_django, load_meters

MWH = 10**9


def tokenize(customer, source, quantity: int, wallet: str) -> int:
    """Tokenize ``quantity`` RECs of ``source`` to ``wallet`` through the service, send
    and confirm its mint; the gas it used."""
    from chain.models import EngineTransaction
    from chain.transactions import transactions_confirm, transactions_send
    from recs.tokenizations import token_contract, tokenization_create

    made = tokenization_create(customer=customer, contract=token_contract(), wallet=wallet,
                               quantity=quantity, source_id=source.pk)  # fmt: skip
    assert transactions_send() == 1 and transactions_confirm() == 1
    tx = EngineTransaction.objects.get(purpose="tokenization", owner_id=made.pk)
    return tx.gas_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="token transfers indexed")
    args = parser.parse_args()

    fresh_django()
    from django.conf import settings

    from chain import anvil, client
    from chain.token_events import token_events_index
    from energy.models import Customer, Source
    from recs.models import Tokenization
    from recs.services import rec_issue

    process, url = anvil.start(anvil.free_port())
    try:
        settings.WEB3_PROVIDER_URI, settings.CHAIN_CONFIRMATIONS = url, 1
        client.use_web3(None)
        w3 = client.web3()
        settings.ANCHOR_CONTRACT_ADDRESS = client.deploy_anchor(w3)
        settings.REC_TOKEN_ADDRESS = client.deploy_contract(w3, "RecToken", "https://x/{id}")
        client.deployed_contract.cache_clear()

        load_meters("Bench Energy", 3, 600, lambda source, hour: 2 * MWH, processed=True)
        customer = Customer.objects.get(name="Bench Energy")
        sources = list(Source.objects.filter(customer=customer).order_by("pk"))
        for source in sources:
            rec_issue(source_id=source.pk)
        wallets = w3.eth.accounts[1:4]
        gas = {
            n: tokenize(customer, source, n, wallet)
            # The first mint of the contract also starts its total supply: 1,000 pays it,
            # so the ratio below is the unfavourable one.
            for n, source, wallet in zip((1000, 100, 10), sources, wallets, strict=True)
        }
        # Transfers between wallets, mined 500 to a block; the indexer reads them.
        contract = client.rec_token_contract()
        minted = int(Tokenization.objects.earliest("pk").tokens[0][0])  # the 1,000 RECs' id
        token_events_index()  # the mints' blocks: the timed index starts after them
        rpc = w3.provider.make_request
        rpc("evm_setAutomine", [False])
        sender, receiver = wallets[0], wallets[2]
        nonce = w3.eth.get_transaction_count(sender)
        for i in range(args.events):
            contract.functions.safeTransferFrom(sender, receiver, minted, 0, b"").transact(
                {"from": sender, "nonce": nonce + i, "gas": 100_000}
            )
            if i % 500 == 499:
                rpc("evm_mine", [])
        rpc("evm_mine", [])
        rpc("evm_setAutomine", [True])
        t0 = time.perf_counter()
        indexed = 0
        while done := token_events_index():
            indexed += done
        seconds = time.perf_counter() - t0
    finally:
        anvil.stop(process)

    rate = indexed / seconds
    print()
    print(f"{'measure (anvil)':<52} {'value':>10} {'target':>10}")
    print("-" * 74)
    for n, used in sorted(gas.items()):
        print(f"{f'gas of tokenizing {n:,} RECs (one mint)':<52} {used:>10,}")
    print(f"{'gas per REC, tokenizing 100 RECs':<52} {gas[100] / 100:>10,.0f} {'<= 1,000':>10}")
    ratio = gas[1000] / gas[10]
    print(f"{'gas of 1,000 RECs vs 10':<52} {ratio:>9.2f}x {'<= 1.5x':>10}")
    print(f"{f'indexing {indexed:,} final transfer events, events/s':<52} {rate:>10,.0f} "
          f"{'>= 2,000':>10}")  # fmt: skip


if __name__ == "__main__":
    main()
