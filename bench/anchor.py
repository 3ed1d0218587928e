"""Anchoring benchmark: seal 1,000,000 attributions into blocks and anchor them on anvil.

1,000 sources x 1,000 hourly attributions are loaded with COPY, hour after hour
for every meter as the hourly step writes live readings (``--by-source``: each
meter's whole history at once, as a backfill lands), then sealed into blocks of
BLOCK_MAX_TXS (10,000) leaves, each block's root sent to the Anchor contract on
a real local node (anvil, from npm) and confirmed; the attributions move
New -> Pending -> Processed along the way.

    make bench
    python bench/anchor.py --sources 100 --hours 1000
"""

import argparse
import time

from common import fresh_django, load_meters, wal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=1000)
    parser.add_argument(
        "--by-source",
        action="store_true",
        help="write each meter's whole history at once (a backfill) instead of hour after"
        " hour for every meter, as the hourly step writes live readings",
    )
    args = parser.parse_args()

    fresh_django()
    from django.conf import settings

    from chain import anvil, client
    from chain.audit import ledger_problems
    from chain.models import LedgerBlock
    from chain.services import blocks_confirm, blocks_seal, blocks_send
    from energy.models import Attribution

    t0 = time.perf_counter()
    total = load_meters(
        "bench-anchor",
        args.sources,
        args.hours,
        lambda source_id, h: (h * 7919 + source_id) % 5_000_000_000,
        processed=False,
        by_hour=not args.by_source,
    )
    layout = "each meter's history at once" if args.by_source else "hour after hour"
    print(f"loaded {total:,} attributions ({layout}) in {time.perf_counter() - t0:.1f} s")

    process, url = anvil.start(anvil.free_port())
    try:
        settings.WEB3_PROVIDER_URI = url
        settings.CHAIN_CONFIRMATIONS = 1
        client.use_web3(None)
        w3 = client.web3()
        settings.ANCHOR_CONTRACT_ADDRESS = client.deploy_anchor(w3)

        t0 = time.perf_counter()
        sealed = 0
        while done := blocks_seal():
            sealed += done
        seal_seconds = time.perf_counter() - t0

        wal_before, checkpoints_before = wal()
        t0 = time.perf_counter()
        sent = blocks_send()
        confirmed = 0
        while confirmed < sent:
            confirmed += blocks_confirm()
        anchor_seconds = time.perf_counter() - t0
        wal_after, checkpoints_after = wal()

        gas = sum(
            w3.eth.get_transaction_receipt(tx)["gasUsed"]
            for tx in LedgerBlock.objects.values_list("tx_hash", flat=True)
        )

        # What `manage.py verify_ledger` does: every leaf, root, block hash and
        # anchor, and every daily row and source counter, recomputed.
        t0 = time.perf_counter()
        problems = list(ledger_problems())
        verify_seconds = time.perf_counter() - t0
        assert problems == [], problems[:5]
    finally:
        anvil.stop(process)
    processed = Attribution.objects.filter(state="Processed").count()
    assert sealed == processed == total, (sealed, processed, total)

    print()
    print(f"{'stage':<58} {'seconds':>8} {'rate':>20}")
    print("-" * 88)
    print(
        f"{'seal: leaf hashes, Merkle roots, chained blocks':<58} {seal_seconds:>8.2f} "
        f"{sealed / seal_seconds:>10,.0f} attributions/s"
    )
    print(
        f"{f'anchor: {sent} transactions sent, confirmed; rows -> Processed':<58} "
        f"{anchor_seconds:>8.2f} {sealed / anchor_seconds:>10,.0f} attributions/s"
    )
    print(
        f"{'verify_ledger: leaves, roots, hash chain, anchors, daily rows':<58} "
        f"{verify_seconds:>8.2f} {total / verify_seconds:>10,.0f} attributions/s"
    )
    print("-" * 88)
    print(
        f"{total:,} attributions in {sent} blocks of {settings.BLOCK_MAX_TXS:,}; "
        f"{gas:,} gas in all, {gas / total:.2f} gas per attribution"
    )
    print(
        f"anchoring wrote {(wal_after - wal_before) / 2**30:.2f} GiB of WAL "
        f"({(wal_after - wal_before) / total:,.0f} bytes per attribution) and asked for "
        f"{checkpoints_after - checkpoints_before} checkpoint(s)"
    )
    print(
        "targets: sealing 100,000 attributions/s; at most 5 gas per attribution; "
        "verify_ledger 50,000 attributions/s"
    )


if __name__ == "__main__":
    main()
