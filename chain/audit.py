"""Audit of the whole ledger against itself and against the chain.

Chain checks what it holds (heights, roots, the hash chain, the anchors on
chain); the owner of each kind of leaf checks its rows against their leaves.
"""

from collections.abc import Iterator

from web3.exceptions import TransactionNotFound

from chain import client, leaves
from chain.hashing import GENESIS, block_hash, merkle_root
from chain.models import LedgerBlock

EVENT_CHUNK = 10_000  # chain blocks per eth_getLogs call


def _anchored_events() -> dict[int, dict] | None:
    """Every Anchored event of the contract, by ledger height; None without a contract."""
    w3 = client.web3()
    contract = client.known_anchor_contract()
    if contract is None:
        return None
    head = w3.eth.block_number
    events: dict[int, dict] = {}
    for start in range(_scan_start(w3), head + 1, EVENT_CHUNK):
        logs = contract.events.Anchored().get_logs(
            from_block=start, to_block=min(start + EVENT_CHUNK - 1, head)
        )
        for log in logs:
            events[log["args"]["height"]] = {
                "root": bytes(log["args"]["root"]).hex(),
                "hash": bytes(log["args"]["blockHash"]).hex(),
                "count": log["args"]["count"],
                "chain_block_number": log["blockNumber"],
                "chain_block_hash": bytes(log["blockHash"]).hex(),
            }
    return events


def _scan_start(w3) -> int:
    """The chain block of the lowest ledger height that was sent, or 0.

    Heights are anchored in order from 1, so no event of the contract lies before
    that block; scanning from genesis would cost one call per EVENT_CHUNK blocks
    of the whole chain.
    """
    first = (
        LedgerBlock.objects.exclude(status=LedgerBlock.Status.SEALED)
        .filter(ledger_height=1)
        .only("status", "tx_hash", "chain_block_number")
        .first()
    )
    if first is None:
        return 0
    if first.status == LedgerBlock.Status.CONFIRMED:
        return first.chain_block_number
    try:
        return w3.eth.get_transaction_receipt(first.tx_hash)["blockNumber"]
    except TransactionNotFound:
        return 0


def ledger_problems() -> Iterator[str]:
    """Every row, root, block hash or anchor that does not match; nothing if all do."""
    previous = GENESIS
    expected_height = 1
    unsent = LedgerBlock.objects.exclude(status=LedgerBlock.Status.SEALED)
    anchored = set(unsent.values_list("ledger_height", flat=True))
    events = _anchored_events() if anchored else {}
    if events is None:
        yield "chain: no Anchor contract is known on this chain; no block can be checked"
        events = {}
    for block in LedgerBlock.objects.order_by("ledger_height").iterator():
        height = block.ledger_height
        if height != expected_height:
            yield f"block {height}: expected height {expected_height}"
        expected_height = height + 1
        found = []
        if (kind := leaves.find(block.kind)) is None:
            yield f"block {height}: unknown kind of leaf {block.kind!r}"
        for problem, leaf in kind.check(block) if kind else ():
            if problem:
                yield problem
            found.append(leaf)
        if len(found) != block.count:
            yield f"block {height}: {len(found)} leaves, sealed with {block.count}"
        root = merkle_root(found) if found else b""
        if root.hex() != block.root:
            yield f"block {height}: its leaves give root {root.hex()}, not {block.root}"
        if block.previous_hash != previous.hex():
            yield f"block {height}: previous hash does not match block {height - 1}"
        computed = block_hash(previous, height, bytes.fromhex(block.root), block.count)
        if computed.hex() != block.hash:
            yield f"block {height}: block hash {block.hash} should be {computed.hex()}"
        previous = bytes.fromhex(block.hash)
        if height in anchored:
            yield from _check_anchor(block, events.pop(height, None))
    for height in sorted(events):
        yield f"chain: height {height} is anchored on chain but not in the ledger"
    for kind in leaves.kinds():
        yield from kind.problems()


def _check_anchor(block: LedgerBlock, event: dict | None) -> Iterator[str]:
    if event is None:
        if block.status == LedgerBlock.Status.CONFIRMED:
            yield f"block {block.ledger_height}: confirmed, but no Anchored event on chain"
        return
    for field, ours in (("root", block.root), ("hash", block.hash), ("count", block.count)):
        if event[field] != ours:
            yield f"block {block.ledger_height}: chain has {field} {event[field]}, ledger {ours}"
    if block.status == LedgerBlock.Status.CONFIRMED and (
        event["chain_block_number"] != block.chain_block_number
        or event["chain_block_hash"] != block.chain_block_hash
    ):
        yield f"block {block.ledger_height}: anchored in chain block {event['chain_block_number']}"
