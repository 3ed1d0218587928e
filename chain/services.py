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
from collections import defaultdict

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Max, Q
from django.db.models.functions import Cast, Extract
from django.utils import timezone
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import TransactionNotFound, Web3RPCError

from cg.sql import update_by_id
from chain import client
from chain.hashing import GENESIS, attribution_leaf, block_hash, merkle_root, rec_leaf
from chain.models import LedgerBlock
from energy.daily import daily_refresh
from energy.models import Attribution, Source, State
from recs.models import Rec

log = logging.getLogger(__name__)
Status = LedgerBlock.Status
Kind = LedgerBlock.Kind
_LOCKS = {"seal": 7_401_001, "sign": 7_401_002}
NODE_DOWN = (requests.RequestException, ConnectionError, TimeoutError, OSError)


def _serialize(name: str) -> None:
    """Serialize one kind of writer across workers for the rest of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCKS[name]])


def _unsealed():
    """Generation not yet in a block, oldest first; while some block's rows are not
    marked yet, only what comes after that block (later blocks pick up the rest)."""
    rows = Attribution.objects.filter(
        ledger_block__isnull=True, kind=Attribution.Kind.METERED, value__gte=0
    )
    pending = (
        LedgerBlock.objects.filter(rows_marked=False, kind=Kind.ATTRIBUTIONS)
        .order_by("-height")
        .only("last_effective_time", "last_attribution_id")
        .first()
    )
    if pending is not None:
        when, pk = pending.last_effective_time, pending.last_attribution_id
        # The redundant >= bound is what the index can seek on.
        rows = rows.filter(
            Q(effective_time__gte=when),
            Q(effective_time__gt=when) | Q(effective_time=when, id__gt=pk),
        )
    return rows.order_by("effective_time", "id")


def _unsealed_rows(limit: int) -> list[tuple]:
    """(id, source id, external id, epoch seconds, value) of the next rows to seal."""
    return leaf_rows(_unsealed()[:limit])


def leaf_rows(query) -> list[tuple]:
    """(id, source id, external id, epoch seconds, value) of the attributions of ``query``."""
    fields = ("id", "source_id", "external_id", "epoch", "value")
    if connection.vendor != "postgresql":
        rows = query.values_list(*fields[:3], "effective_time", "value")
        return [(i, s, e, int(t.timestamp()), v) for i, s, e, t, v in rows]
    epoch = Cast(Extract("effective_time", "epoch"), BigIntegerField())
    query = query.annotate(epoch=epoch).values_list(*fields)
    # Plain tuples straight from the driver: Django's per-row converters cost
    # more than hashing the rows.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def blocks_seal(*, limit: int | None = None) -> int:
    """Seal the oldest unsealed generation, or else the oldest unsealed RECs, into one
    ledger block; the rows sealed."""
    limit = limit or settings.BLOCK_MAX_TXS
    with transaction.atomic():
        _serialize("seal")
        return _seal_attributions(limit) or _seal_recs(limit)


def _seal_attributions(limit: int) -> int:
    rows = _unsealed_rows(limit)
    if rows:
        seal_rows(rows)
    return len(rows)


def seal_rows(rows: list[tuple]) -> LedgerBlock:
    """A new ledger block of these ``leaf_rows``, in their order."""
    clients = {
        pk: bytes.fromhex(client_id[2:])
        for pk, client_id in Source.objects.filter(pk__in={row[1] for row in rows}).values_list(
            "pk", "client_id"
        )
    }
    leaves = [attribution_leaf(clients[s], e, t, v) for _, s, e, t, v in rows]
    return _new_block(
        Kind.ATTRIBUTIONS,
        [row[0] for row in rows],
        leaves,
        last_effective_time=dt.datetime.fromtimestamp(rows[-1][3], dt.UTC),
    )


def rec_members(rec_ids: list[int]) -> dict[int, list[tuple[bytes, int]]]:
    """Each REC's (origin leaf, mWh taken) in REC order: what its hash covers."""
    members: dict[int, list[tuple[bytes, int]]] = defaultdict(list)
    rows = (
        Attribution.objects.filter(link__rec_id__in=rec_ids)
        .order_by("link__rec_id", "-kind", "effective_time", "id")
        .values_list("link__rec_id", "hash", "split_from__hash", "value", "link__remainder")
    )
    for rec_id, own, origin, value, remainder in rows:
        members[rec_id].append((bytes.fromhex(origin or own), value - remainder))
    return members


def _seal_recs(limit: int) -> int:
    pending = (
        LedgerBlock.objects.filter(rows_marked=False, kind=Kind.RECS)
        .order_by("-height")
        .only("last_attribution_id")
        .first()
    )
    recs = Rec.objects.filter(ledger_block__isnull=True)
    if pending is not None:
        recs = recs.filter(id__gt=pending.last_attribution_id)
    # RECs are issued from Processed transactions only, so every one of their
    # transactions (or the one a remainder was split from) already has its leaf.
    rows = list(recs.order_by("id").values_list("id", "source__client_id")[:limit])
    if not rows:
        return 0
    members = rec_members([pk for pk, _ in rows])
    leaves = [rec_leaf(client_id, members[pk]) for pk, client_id in rows]
    _new_block(Kind.RECS, [pk for pk, _ in rows], leaves)
    return len(rows)


def _new_block(kind: str, ids: list[int], leaves: list[bytes], **extra) -> LedgerBlock:
    root = merkle_root(leaves)
    last = LedgerBlock.objects.order_by("-height").only("height", "hash").first()
    height = last.height + 1 if last else 1
    previous = bytes.fromhex(last.hash) if last else GENESIS
    return LedgerBlock.objects.create(
        kind=kind,
        height=height,
        previous_hash=previous.hex(),
        root=root.hex(),
        hash=block_hash(previous, height, root, len(leaves)).hex(),
        count=len(leaves),
        leaves=b"".join(leaves),
        leaf_ids=b"".join(pk.to_bytes(8, "big") for pk in ids),
        last_attribution_id=ids[-1],
        **extra,
    )


def _refresh_days(block: LedgerBlock) -> None:
    """Refresh the daily rows of the days the block's attributions fall on."""
    days = defaultdict(set)
    rows = Attribution.objects.filter(ledger_block=block).order_by()
    for source_id, day in rows.values_list("source_id", "effective_time__date").distinct():
        days[source_id].add(day)
    daily_refresh(days)


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
    """The node has the transaction: the block's rows get their hash and go Pending."""
    with transaction.atomic():
        updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SIGNED).update(
            status=Status.SENT,
            sent_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
            rows_marked=True,
        )
        if updated and not block.rows_marked:
            # One pass over the rows: hash, block and state together.
            now = timezone.now()
            table = "energy_attribution" if block.kind == Kind.ATTRIBUTIONS else "recs_rec"
            update_by_id(
                table,
                {"hash": "varchar", "ledger_block_id": "bigint"},
                [(pk, leaf.hex(), block.pk) for pk, leaf in block.leaf_list()],
                also={"state": State.PENDING, "state_changed": now, "modified": now},
            )
            if block.kind == Kind.ATTRIBUTIONS:
                _refresh_days(block)


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
    sent = LedgerBlock.objects.filter(status=Status.SENT).defer("leaves", "leaf_ids")
    for block in sent.order_by("height"):
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
    receipt = _mined(block)
    if receipt is None:
        if not _in_node(block):
            LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
                status=Status.SIGNED, last_error="transaction left the chain; resending"
            )
            log.warning("block %s: transaction %s gone", block.height, block.tx_hash)
        return False
    if receipt["status"] != 1:
        _backoff(block, f"transaction {block.tx_hash} reverted", status=Status.SEALED)
        return False
    depth = w3.eth.block_number - receipt["blockNumber"] + 1
    if depth < settings.CHAIN_CONFIRMATIONS:
        return False
    canonical = w3.eth.get_block(receipt["blockNumber"])["hash"]
    if canonical != receipt["blockHash"]:
        return False  # a reorg under way: the receipt will follow the new chain
    chain_hash = bytes(receipt["blockHash"]).hex()
    with transaction.atomic():
        updated = LedgerBlock.objects.filter(pk=block.pk, status=Status.SENT).update(
            status=Status.CONFIRMED,
            chain_block_number=receipt["blockNumber"],
            chain_block_hash=chain_hash,
            confirmed_at=timezone.now(),
        )
        if updated:
            _mark_confirmed(block, receipt["blockNumber"], chain_hash)
    return bool(updated)


def _mark_confirmed(block: LedgerBlock, number: int, chain_hash: str) -> None:
    now = timezone.now()
    moved = {"state": State.PROCESSED, "height": number, "state_changed": now, "modified": now}
    if block.kind == Kind.RECS:
        Rec.objects.filter(ledger_block=block, state=State.PENDING).update(**moved)
        return
    Attribution.objects.filter(ledger_block=block, state=State.PENDING).update(
        block_id=chain_hash, **moved
    )
    _refresh_days(block)


def anchoring_round() -> dict[str, int]:
    """Seal everything waiting, send what is sealed, confirm what is deep enough."""
    sealed = 0
    while done := blocks_seal():
        sealed += done
    return {"sealed": sealed, "sent": blocks_send(), "confirmed": blocks_confirm()}
