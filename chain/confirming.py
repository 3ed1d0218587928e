"""Confirming: a sent block is final once its transaction is deep enough in the chain."""

import logging

from django.db import transaction
from django.utils import timezone

from chain import client, leaves
from chain.models import LedgerBlock
from chain.sending import NODE_DOWN, backoff, in_node, receipt_final, receipt_of

log = logging.getLogger(__name__)
Status = LedgerBlock.Status


def blocks_confirm() -> int:
    """Confirm the sent blocks whose transaction has enough confirmations; how many."""
    confirmed = 0
    sent = LedgerBlock.objects.filter(status=Status.SENT).defer("leaves", "leaf_ids")
    for block in sent.order_by("ledger_height"):
        try:
            confirmed += block_confirm(block)
        except NODE_DOWN as error:
            log.warning("confirming: node unreachable: %s", error)
            break
    return confirmed


def block_confirm(block: LedgerBlock) -> bool:
    """Confirm one sent block if its transaction is deep enough; whether it was.

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
        return False
    if receipt["status"] != 1:
        backoff(block, f"transaction {block.tx_hash} reverted", status=Status.SEALED)
        return False
    if not receipt_final(w3, receipt):
        return False
    chain_hash = bytes(receipt["blockHash"]).hex()
    with transaction.atomic():
        updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
            status=Status.CONFIRMED,
            chain_block_number=receipt["blockNumber"],
            chain_block_hash=chain_hash,
            confirmed_at=timezone.now(),
        )
        if updated:
            leaves.kind(block.kind).mark_confirmed(block, receipt["blockNumber"], chain_hash)
    return bool(updated)
