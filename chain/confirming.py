"""Confirming: a sent block is final once its transaction is deep enough in the chain.

Confirming also settles the rows of the blocks: the owner of a final block's rows
marks them Processed, and those of a block still waiting Pending. Sending leaves
them alone, so a block final by the first pass after it has each row written once.
"""

import logging

from django.db import transaction
from django.utils import timezone

from chain import client, leaves
from chain.models import LedgerBlock
from chain.sending import LEAVES, NODE_DOWN, backoff, in_node, receipt_final, receipt_of

log = logging.getLogger(__name__)
Status = LedgerBlock.Status

# How many blocks' rows one transaction marks: what follows from the rows (energy's
# daily rows) is worked out once for all of them, and a transaction stays bounded.
MARK_AT_ONCE = 20


def rows_mark(blocks: list[LedgerBlock]) -> None:
    """The owners of these blocks' rows mark them sent; inside a transaction that
    holds the blocks locked, so no block's rows are marked twice."""
    for kind, group in leaves.by_kind(blocks).items():
        leaves.kind(kind).mark_sent(group)
    LedgerBlock.objects.filter(pk__in=[block.pk for block in blocks]).update(rows_marked=True)


def unmarked(pks: list[int] | None = None) -> list[LedgerBlock]:
    """Locked, oldest first, at most MARK_AT_ONCE: blocks whose rows are not marked
    yet, of ``pks`` when given, else the sent ones."""
    blocks = LedgerBlock.objects.select_for_update().filter(rows_marked=False)
    blocks = blocks.filter(pk__in=pks) if pks is not None else blocks.filter(status=Status.SENT)
    return list(blocks.order_by("ledger_height")[:MARK_AT_ONCE])


def rows_mark_sent() -> int:
    """Mark Pending the rows of every sent block not marked yet; how many blocks."""
    marked = 0
    while True:
        with transaction.atomic():
            blocks = unmarked()
            if not blocks:
                return marked
            rows_mark(blocks)
        marked += len(blocks)


def blocks_confirm() -> int:
    """Confirm the sent blocks whose transaction has enough confirmations, then mark
    the rows of the sent blocks still waiting as sent (Pending); how many confirmed.

    Sending leaves the rows alone: a block final by this pass has its rows written
    once, straight to Processed, instead of once on sending and again here.
    """
    final = []
    sent = LedgerBlock.objects.filter(status=Status.SENT).defer(*LEAVES)
    for block in sent.order_by("ledger_height"):
        try:
            if (receipt := _final_receipt(block)) is not None:
                final.append((block, receipt))
        except NODE_DOWN as error:
            log.warning("confirming: node unreachable: %s", error)
            break
    confirmed = sum(
        _confirmed(final[start : start + MARK_AT_ONCE])
        for start in range(0, len(final), MARK_AT_ONCE)
    )
    rows_mark_sent()
    return confirmed


def block_confirm(block: LedgerBlock) -> bool:
    """Confirm one sent block if its transaction is deep enough; whether it was."""
    receipt = _final_receipt(block)
    return receipt is not None and _confirmed([(block, receipt)]) == 1


def _final_receipt(block: LedgerBlock):
    """The receipt of a sent block's transaction if it is deep enough, else None.

    A transaction gone from the node (dropped, or taken out by a reorg) is sent
    again as it is; a reverted one is signed again with a fresh nonce.
    """
    w3 = client.web3()
    receipt = receipt_of(block)
    if receipt is None:
        if not in_node(block):
            LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
                status=Status.SIGNED, last_error="transaction left the chain; resending"
            )
            log.warning("block %s: transaction %s gone", block.ledger_height, block.tx_hash)
        return None
    if receipt["status"] != 1:
        backoff(block, f"transaction {block.tx_hash} reverted", status=Status.SEALED)
        return None
    return receipt if receipt_final(w3, receipt) else None


def _confirmed(final: list) -> int:
    """Record (block, final receipt) pairs in one transaction: the blocks confirmed
    and their rows Processed (given their leaf and block too where sending has not
    marked them); how many."""
    with transaction.atomic():
        confirmed = []
        for block, receipt in final:
            chain_hash = bytes(receipt["blockHash"]).hex()
            updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
                status=Status.CONFIRMED,
                chain_block_number=receipt["blockNumber"],
                chain_block_hash=chain_hash,
                confirmed_at=timezone.now(),
            )
            if updated:
                block.chain_block_number = receipt["blockNumber"]
                block.chain_block_hash = chain_hash
                confirmed.append(block)
        if not confirmed:
            return 0
        # Locked, so a concurrent rows_mark_sent cannot mark them too. The locked
        # copies carry the leaves that blocks_confirm deferred: the rows of these
        # blocks are given them now, without reading each block again.
        behind = {block.pk: block for block in unmarked([block.pk for block in confirmed])}
        for block in confirmed:
            block.rows_marked = block.pk not in behind
            if not block.rows_marked:
                block.leaves = behind[block.pk].leaves
                block.leaf_ids = behind[block.pk].leaf_ids
        for kind, group in leaves.by_kind(confirmed).items():
            leaves.kind(kind).mark_confirmed(group)
        if behind:
            LedgerBlock.objects.filter(pk__in=behind).update(rows_marked=True)
    return len(confirmed)
