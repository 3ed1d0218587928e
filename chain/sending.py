"""Sending: sign each sealed block's anchoring transaction once, hand it to the node.

Every node call happens outside database transactions (``client`` refuses
otherwise): a step commits what it decided, calls the node, then records the
outcome in a new short transaction. A block keeps its nonce from the moment it
is signed until its transaction is mined, so resending after any fault can
never anchor it twice (the contract also refuses a height out of sequence) and
never leaves a gap in the account's nonces.
"""

import datetime as dt
import logging

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import TransactionNotFound, Web3RPCError

from chain import client
from chain.models import EngineTransaction, LedgerBlock
from chain.sealing import serialize

log = logging.getLogger(__name__)
Status = LedgerBlock.Status
NODE_DOWN = (requests.RequestException, ConnectionError, TimeoutError, OSError)


def retry_seconds(attempts: int) -> int:
    """How long a transaction waits after its ``attempts``-th failed try: 2, 4, 8... s,
    at most CHAIN_RETRY_MAX_SECONDS."""
    return min(2 ** (attempts + 1), settings.CHAIN_RETRY_MAX_SECONDS)


def backoff(block: LedgerBlock, error: str, status: str | None = None) -> None:
    seconds = retry_seconds(block.attempts)
    LedgerBlock.objects.filter(pk=block.pk).update(
        attempts=block.attempts + 1,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=seconds),
        last_error=error[:2000],
        **({"status": status, "nonce": None} if status == Status.SEALED else {}),
    )
    log.warning("block %s: %s; retrying in %s s", block.ledger_height, error, seconds)


def fees(w3) -> dict:
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
    tip = w3.eth.max_priority_fee
    return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}


def nonce_next(chain_id: int, node_next: int) -> int:
    """The engine account's next nonce: past every nonce its blocks and its other
    transactions hold, and past what the node counts (``node_next``, its pending
    count, asked before the transaction). Call under ``serialize("sign")``: one
    sequence for anchoring and every other transaction, never repeated or skipped."""
    ours = [
        model.objects.filter(chain_id=chain_id, nonce__isnull=False).aggregate(top=Max("nonce"))
        for model in (LedgerBlock, EngineTransaction)
    ]
    return max(node_next, *((found["top"] or -1) + 1 for found in ours))


# A block's leaves and their row ids (40 kB a block of 1,000 rows): sending and
# confirming need only the root and hash, so they leave them unread.
LEAVES = ("leaves", "leaf_ids")


def _sign(block: LedgerBlock) -> LedgerBlock:
    """Give a sealed block its anchoring transaction and nonce, once."""
    w3, contract, account = client.web3(), client.anchor_contract(), client.engine_account()
    chain_id = w3.eth.chain_id
    node_next = w3.eth.get_transaction_count(account.address, "pending")
    prices = fees(w3)
    with transaction.atomic():
        serialize("sign")
        block = LedgerBlock.objects.select_for_update().defer(*LEAVES).get(pk=block.pk)
        if block.status != Status.SEALED:
            return block
        nonce = nonce_next(chain_id, node_next)
        data = contract.encode_abi(
            "anchor",
            args=[
                block.ledger_height,
                bytes.fromhex(block.root),
                bytes.fromhex(block.hash),
                block.count,
            ],
        )
        tx = {
            "chainId": chain_id,
            "nonce": nonce,
            "to": contract.address,
            "data": data,
            "value": 0,
            "gas": settings.CHAIN_GAS_LIMIT,
            "type": 2,
            **prices,
        }
        signed = account.sign_transaction(tx)
        block.status = Status.SIGNED
        block.chain_id = chain_id
        block.contract_address = contract.address
        block.nonce = nonce
        block.raw_tx = signed.raw_transaction.hex()
        block.tx_hash = "0x" + signed.hash.hex().removeprefix("0x")
        block.save()
    return block


def _mark_sent(block: LedgerBlock) -> None:
    """The node has the transaction: the block is sent; its rows are marked by the
    confirmation pass that follows, with the other blocks of the round."""
    LedgerBlock.objects.filter(pk=block.pk, status=Status.SIGNED).update(
        status=Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )


def _next_to_send() -> LedgerBlock | None:
    now = timezone.now()
    waiting = (
        LedgerBlock.objects.filter(status__in=[Status.SEALED, Status.SIGNED])
        .defer(*LEAVES)
        .order_by("ledger_height")
    )
    block = waiting.first()
    if block is None or (block.next_attempt_at and block.next_attempt_at > now):
        return None  # blocks go out in height order: a later one waits for this one
    return block


def blocks_send() -> int:
    """Hand every sealed or signed block to the node, in height order; the number sent.

    The blocks' rows are left as they are (New): confirming, the next step, marks
    them, Processed if the block is final by then, else Pending.
    """
    sent = 0
    while (block := _next_to_send()) is not None:
        try:
            if block.status == Status.SEALED:
                block = _sign(block)
            client.web3().eth.send_raw_transaction(block.raw_tx)
        except NODE_DOWN as error:
            backoff(block, f"node unreachable: {error}")
            return sent
        except (Web3RPCError, ValueError, EthValidationError) as error:
            if not _already_there(block, error):
                return sent
        _mark_sent(block)
        sent += 1
    return sent


def _already_there(block: LedgerBlock, error: Exception) -> bool:
    """Whether a refused send means the node has, or has mined, this very transaction.

    Otherwise the block is put back with a backoff: to be signed again with a
    fresh nonce if its nonce went to another transaction, else resent as is.
    """
    refused = refusal(error)
    if refused == KNOWN:
        return True
    if refused == NONCE_TAKEN:
        if receipt_of(block) is not None:
            return True
        backoff(block, f"nonce {block.nonce} was taken", status=Status.SEALED)
        return False
    backoff(block, f"node refused the transaction: {error}")
    return False


KNOWN, NONCE_TAKEN, OTHER = "known", "nonce taken", "other"


def refusal(error: Exception) -> str:
    """What a node's refusal of a signed transaction says: KNOWN (it has this very
    transaction), NONCE_TAKEN (its nonce is used: by it, mined, or by another), or
    OTHER."""
    message = str(error).lower()
    if "already known" in message or "known transaction" in message:
        return KNOWN
    # "nonce too low" from nodes; eth-tester says "invalid transaction nonce".
    if "nonce too low" in message or "invalid transaction nonce" in message:
        return NONCE_TAKEN
    return OTHER


def receipt_final(w3, receipt) -> bool:
    """Whether a receipt is ``CHAIN_CONFIRMATIONS`` deep and still on the canonical
    chain (else a reorg is under way: the receipt will follow the new chain)."""
    if w3.eth.block_number - receipt["blockNumber"] + 1 < settings.CHAIN_CONFIRMATIONS:
        return False
    return w3.eth.get_block(receipt["blockNumber"])["hash"] == receipt["blockHash"]


def receipt_of(block: LedgerBlock | EngineTransaction):
    try:
        return client.web3().eth.get_transaction_receipt(block.tx_hash)
    except TransactionNotFound:
        return None


def in_node(block: LedgerBlock | EngineTransaction) -> bool:
    try:
        client.web3().eth.get_transaction(block.tx_hash)
        return True
    except TransactionNotFound:
        return False
