"""Confirming: a sent block is final once its transaction is deep enough in the chain."""

import logging

from django.db import transaction
from django.utils import timezone

from chain import client, leaves
from chain.models import LedgerBlock
from chain.sending import (
    MARK_AT_ONCE,
    NODE_DOWN,
    backoff,
    in_node,
    receipt_final,
    receipt_of,
    rows_mark,
    unmarked,
)

log = logging.getLogger(__name__)
Status = LedgerBlock.Status


def blocks_confirm() -> int:
    """Confirm the sent blocks whose transaction has enough confirmations; how many."""
    final = []
    sent = LedgerBlock.objects.filter(status=Status.SENT).defer("leaves", "leaf_ids")
    for block in sent.order_by("ledger_height"):
        try:
            if (receipt := _final_receipt(block)) is not None:
                final.append((block, receipt))
        except NODE_DOWN as error:
            log.warning("confirming: node unreachable: %s", error)
            break
    return sum(
        _confirmed(final[start : start + MARK_AT_ONCE])
        for start in range(0, len(final), MARK_AT_ONCE)
    )


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
    """Record (block, final receipt) pairs in one transaction: the blocks confirmed,
    their rows marked sent if they were not yet, then confirmed; how many."""
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
        if behind := unmarked([block.pk for block in confirmed]):
            rows_mark(behind)
        for kind, group in leaves.by_kind(confirmed).items():
            leaves.kind(kind).mark_confirmed(group)
    return len(confirmed)
