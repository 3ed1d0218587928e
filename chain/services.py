"""Sealing attributions into ledger blocks and anchoring each block's root on chain.

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
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import TransactionNotFound, Web3RPCError

from cg.sql import update_by_id
from chain import client
from chain.hashing import GENESIS, attribution_leaf, block_hash, merkle_root
from chain.models import LedgerBlock
from energy.models import Attribution, State
from energy.services import daily_refresh_many

log = logging.getLogger(__name__)
Status = LedgerBlock.Status
_LOCKS = {"seal": 7_401_001, "sign": 7_401_002}
NODE_DOWN = (requests.RequestException, ConnectionError, TimeoutError, OSError)


def _serialize(name: str) -> None:
    """Serialize one kind of writer across workers for the rest of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCKS[name]])


def blocks_seal(*, limit: int | None = None) -> int:
    """Seal the oldest unsealed generation into one ledger block; the attributions sealed."""
    limit = limit or settings.BLOCK_MAX_TXS
    with transaction.atomic():
        _serialize("seal")
        rows = list(
            Attribution.objects.filter(
                ledger_block__isnull=True, kind=Attribution.Kind.METERED, value__gte=0
            )
            .order_by("effective_time", "id")
            .values_list("id", "source__client_id", "external_id", "effective_time", "value")[
                :limit
            ]
        )
        if not rows:
            return 0
        leaves = [attribution_leaf(c, e, t, v) for _, c, e, t, v in rows]
        root = merkle_root(leaves)
        last = LedgerBlock.objects.order_by("-height").first()
        height = last.height + 1 if last else 1
        previous = bytes.fromhex(last.hash) if last else GENESIS
        block = LedgerBlock.objects.create(
            height=height,
            previous_hash=previous.hex(),
            root=root.hex(),
            hash=block_hash(previous, height, root, len(leaves)).hex(),
            count=len(leaves),
        )
        update_by_id(
            "energy_attribution",
            {"hash": "varchar", "ledger_block_id": "bigint"},
            [(row[0], leaf.hex(), block.pk) for row, leaf in zip(rows, leaves, strict=True)],
        )
    return len(rows)


def _move_rows(block: LedgerBlock, from_state: str, **changes) -> None:
    """Move the block's attributions on, and refresh the daily rows they sit in."""
    rows = Attribution.objects.filter(ledger_block=block, state=from_state)
    firsts = rows.order_by().values_list("source_id").annotate(first=Min("effective_time"))
    since = {source_id: first.astimezone(dt.UTC).date() for source_id, first in firsts}
    rows.update(state_changed=timezone.now(), modified=timezone.now(), **changes)
    daily_refresh_many(since)


def _backoff(block: LedgerBlock, error: str, status: str | None = None) -> None:
    seconds = min(2 ** (block.attempts + 1), settings.CHAIN_RETRY_MAX_SECONDS)
    LedgerBlock.objects.filter(pk=block.pk).update(
        attempts=block.attempts + 1,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=seconds),
        last_error=error[:2000],
        **({"status": status, "nonce": None} if status == Status.SEALED else {}),
    )
    log.warning("block %s: %s; retrying in %s s", block.height, error, seconds)


def _fees(w3) -> dict:
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
    tip = w3.eth.max_priority_fee
    return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}


def _sign(block: LedgerBlock) -> LedgerBlock:
    """Give a sealed block its anchoring transaction and nonce, once."""
    w3, contract, account = client.web3(), client.anchor_contract(), client.engine_account()
    chain_id = w3.eth.chain_id
    node_next = w3.eth.get_transaction_count(account.address, "pending")
    fees = _fees(w3)
    with transaction.atomic():
        _serialize("sign")
        block = LedgerBlock.objects.select_for_update().get(pk=block.pk)
        if block.status != Status.SEALED:
            return block
        used = LedgerBlock.objects.filter(chain_id=chain_id, nonce__isnull=False)
        ours_next = (used.aggregate(top=Max("nonce"))["top"] or -1) + 1
        nonce = max(node_next, ours_next)
        data = contract.encode_abi(
            "anchor",
            args=[block.height, bytes.fromhex(block.root), bytes.fromhex(block.hash), block.count],
        )
        tx = {
            "chainId": chain_id,
            "nonce": nonce,
            "to": contract.address,
            "data": data,
            "value": 0,
            "gas": settings.CHAIN_GAS_LIMIT,
            "type": 2,
            **fees,
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
    with transaction.atomic():
        updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SIGNED).update(
            status=Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
        )
        if updated:
            _move_rows(block, State.NEW, state=State.PENDING)


def _next_to_send() -> LedgerBlock | None:
    now = timezone.now()
    waiting = LedgerBlock.objects.filter(status__in=[Status.SEALED, Status.SIGNED]).order_by(
        "height"
    )
    block = waiting.first()
    if block is None or (block.next_attempt_at and block.next_attempt_at > now):
        return None  # blocks go out in height order: a later one waits for this one
    return block


def blocks_send() -> int:
    """Hand every sealed or signed block to the node, in height order; the number sent."""
    sent = 0
    while (block := _next_to_send()) is not None:
        try:
            if block.status == Status.SEALED:
                block = _sign(block)
            client.web3().eth.send_raw_transaction(block.raw_tx)
        except NODE_DOWN as error:
            _backoff(block, f"node unreachable: {error}")
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
    message = str(error).lower()
    if "already known" in message or "known transaction" in message:
        return True
    # "nonce too low" from nodes; eth-tester says "invalid transaction nonce".
    if "nonce too low" in message or "invalid transaction nonce" in message:
        if _mined(block) is not None:
            return True
        _backoff(block, f"nonce {block.nonce} was taken", status=Status.SEALED)
        return False
    _backoff(block, f"node refused the transaction: {error}")
    return False


def _mined(block: LedgerBlock):
    try:
        return client.web3().eth.get_transaction_receipt(block.tx_hash)
    except TransactionNotFound:
        return None


def _in_node(block: LedgerBlock) -> bool:
    try:
        client.web3().eth.get_transaction(block.tx_hash)
        return True
    except TransactionNotFound:
        return False


def blocks_confirm() -> int:
    """Confirm the sent blocks whose transaction has enough confirmations; how many."""
    confirmed = 0
    w3 = client.web3()
    for block in LedgerBlock.objects.filter(status=Status.SENT).order_by("height"):
        try:
            receipt = _mined(block)
            if receipt is None:
                if not _in_node(block):
                    # Dropped, or taken out by a reorg: send the same transaction again.
                    LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
                        status=Status.SIGNED, last_error="transaction left the chain; resending"
                    )
                    log.warning("block %s: transaction %s gone", block.height, block.tx_hash)
                continue
            if receipt["status"] != 1:
                _backoff(block, f"transaction {block.tx_hash} reverted", status=Status.SEALED)
                continue
            depth = w3.eth.block_number - receipt["blockNumber"] + 1
            if depth < settings.CHAIN_CONFIRMATIONS:
                continue
            canonical = w3.eth.get_block(receipt["blockNumber"])["hash"]
            if canonical != receipt["blockHash"]:
                continue  # a reorg under way: the receipt will follow the new chain
        except NODE_DOWN as error:
            log.warning("confirming: node unreachable: %s", error)
            return confirmed
        chain_hash = bytes(receipt["blockHash"]).hex()
        with transaction.atomic():
            updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
                status=Status.CONFIRMED,
                chain_block_number=receipt["blockNumber"],
                chain_block_hash=chain_hash,
                confirmed_at=timezone.now(),
            )
            if updated:
                _move_rows(
                    block,
                    State.PENDING,
                    state=State.PROCESSED,
                    height=receipt["blockNumber"],
                    block_id=chain_hash,
                )
                confirmed += 1
    return confirmed


def anchoring_round() -> dict[str, int]:
    """Seal everything waiting, send what is sealed, confirm what is deep enough."""
    sealed = 0
    while done := blocks_seal():
        sealed += done
    return {"sealed": sealed, "sent": blocks_send(), "confirmed": blocks_confirm()}
