"""Reads of the anchored ledger: the proof of one leaf."""

from chain.hashing import merkle_levels, merkle_proof
from chain.models import LedgerBlock


def leaf_proof(*, block: LedgerBlock, leaf_id: int) -> dict:
    """Everything needed to check the leaf of row ``leaf_id`` of ``block`` against the
    chain, but what the leaf encodes (its owner adds that)."""
    return leaf_proofs(block=block, leaf_ids=[leaf_id])[leaf_id]


def leaf_proofs(*, block: LedgerBlock, leaf_ids: list[int]) -> dict[int, dict]:
    """``leaf_proof`` of many rows of one block, its tree built once."""
    leaves = block.leaf_list()
    index = {pk: i for i, (pk, _) in enumerate(leaves)}
    levels = merkle_levels([leaf for _, leaf in leaves])
    anchor = {
        "root": "0x" + block.root,
        "ledger_height": block.ledger_height,
        "ledger_block_hash": "0x" + block.hash,
        "previous_block_hash": "0x" + block.previous_hash,
        "leaf_count": block.count,
        "status": block.status,
    }
    if block.status in (LedgerBlock.Status.SENT, LedgerBlock.Status.CONFIRMED):
        anchor |= {
            "chain_id": block.chain_id,
            "contract_address": block.contract_address,
            "transaction_hash": block.tx_hash,
        }
    if block.status == LedgerBlock.Status.CONFIRMED:
        anchor |= {
            "chain_block_number": block.chain_block_number,
            "chain_block_hash": "0x" + block.chain_block_hash,
        }
    return {
        pk: {
            "leaf": "0x" + leaves[index[pk]][1].hex(),
            "proof": ["0x" + node.hex() for node in merkle_proof(levels, index[pk])],
            **anchor,
        }
        for pk in leaf_ids
    }
