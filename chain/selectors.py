"""Reads of the anchored ledger: proofs for single attributions."""

from chain.hashing import merkle_levels, merkle_proof
from chain.models import LedgerBlock
from energy.models import Attribution


def attribution_proof(*, attribution: Attribution) -> dict | None:
    """Everything needed to check the attribution against the chain; None if unsealed."""
    block = attribution.ledger_block
    if block is None:
        return None
    leaves = block.leaf_list()
    index = [pk for pk, _ in leaves].index(attribution.pk)
    levels = merkle_levels([leaf for _, leaf in leaves])
    source = attribution.source
    proof = {
        "attribution_id": attribution.pk,
        "leaf": "0x" + attribution.hash,
        "leaf_fields": {
            "client_id": source.client_id,
            "external_id": attribution.external_id,
            "effective_time": int(attribution.effective_time.timestamp()),
            "value": attribution.value,
        },
        "proof": ["0x" + node.hex() for node in merkle_proof(levels, index)],
        "root": "0x" + block.root,
        "ledger_height": block.height,
        "ledger_block_hash": "0x" + block.hash,
        "previous_block_hash": "0x" + block.previous_hash,
        "leaf_count": block.count,
        "status": block.status,
    }
    if block.status in (LedgerBlock.Status.SENT, LedgerBlock.Status.CONFIRMED):
        proof |= {
            "chain_id": block.chain_id,
            "contract_address": block.contract_address,
            "transaction_hash": block.tx_hash,
        }
    if block.status == LedgerBlock.Status.CONFIRMED:
        proof |= {
            "chain_block_number": block.chain_block_number,
            "chain_block_hash": "0x" + block.chain_block_hash,
        }
    return proof
