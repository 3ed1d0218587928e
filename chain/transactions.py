"""Transactions the engine sends for the apps: contract calls other than anchoring.

An app queues a call (``transaction_queue``: a contract address and its input) for
a purpose it registered, inside its own database transaction, so the call exists
exactly when the app's row does. Chain signs it with the engine's key and a nonce
from the one sequence anchoring also draws from (``chain.sending.nonce_next``),
hands it to the node, follows it until its receipt is ``CHAIN_CONFIRMATIONS`` deep
and tells the app's purpose each move, in the database transaction that records it.

Faults, as for blocks: a node that does not answer gets the same signed
transaction again later; one that dropped it, or a reorg that took it out, gets
it again as it is (same nonce); a nonce another transaction took sends it back to
be signed afresh. A call the node says reverts (its gas estimate) fails before it
spends a nonce; a receipt that reverted fails once it is final. Failing is final:
the app undoes what it set aside.
"""

import datetime as dt
import logging
from typing import Protocol

from django.db import transaction
from django.utils import timezone
from eth_tester.exceptions import TransactionFailed
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import ContractLogicError, Web3RPCError

from chain import client
from chain.models import EngineTransaction
from chain.sealing import serialize
from chain.sending import (
    KNOWN,
    NODE_DOWN,
    NONCE_TAKEN,
    fees,
    in_node,
    nonce_next,
    receipt_final,
    receipt_of,
    refusal,
    retry_seconds,
)

log = logging.getLogger(__name__)
Status = EngineTransaction.Status
# What a node raises for a call that reverts (eth-tester, the in-process chain, its own).
REVERTS = (ContractLogicError, TransactionFailed)
# Headroom over the node's gas estimate: the state may move between estimate and block.
GAS_MARGIN = (5, 4)


class Purpose(Protocol):
    name: str  # EngineTransaction.purpose

    def sent(self, tx: EngineTransaction) -> None:
        """The node has the transaction."""

    def confirmed(self, tx: EngineTransaction) -> None:
        """Its receipt succeeded and is final."""

    def failed(self, tx: EngineTransaction) -> None:
        """It will never succeed: the call reverts."""


_PURPOSES: dict[str, Purpose] = {}


def register(purpose: Purpose) -> None:
    _PURPOSES[purpose.name] = purpose


def transaction_queue(*, purpose: str, owner_id: int, to: str, data: str) -> EngineTransaction:
    """Queue a call of the contract at ``to`` with input ``data`` (0x hex) for the app
    row ``owner_id``; call inside the app's database transaction."""
    if purpose not in _PURPOSES:
        raise LookupError(f"no purpose {purpose!r} is registered")
    return EngineTransaction.objects.create(purpose=purpose, owner_id=owner_id, to=to, data=data)


def _backoff(tx: EngineTransaction, error: str, **also) -> None:
    seconds = retry_seconds(tx.attempts)
    EngineTransaction.objects.filter(pk=tx.pk).update(
        attempts=tx.attempts + 1,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=seconds),
        last_error=error[:2000],
        **also,
    )
    log.warning("%s %s: %s; retrying in %s s", tx.purpose, tx.owner_id, error, seconds)


def _fail(tx: EngineTransaction, error: str) -> None:
    with transaction.atomic():
        moved = EngineTransaction.objects.filter(pk=tx.pk, status=tx.status).update(
            status=Status.FAILED, last_error=error[:2000], settled_at=timezone.now(),
            next_attempt_at=None,
        )  # fmt: skip
        if moved:
            tx.refresh_from_db()
            _PURPOSES[tx.purpose].failed(tx)
    log.warning("%s %s failed: %s", tx.purpose, tx.owner_id, error)


def _sign(tx: EngineTransaction) -> EngineTransaction | None:
    """Give a queued call its gas, nonce and signature, once; None if it failed."""
    w3, account = client.web3(), client.engine_account()
    try:
        estimate = w3.eth.estimate_gas({"from": account.address, "to": tx.to, "data": tx.data})
    except REVERTS as error:
        _fail(tx, f"the call reverts: {error}")
        return None
    chain_id = w3.eth.chain_id
    node_next = w3.eth.get_transaction_count(account.address, "pending")
    prices = fees(w3)
    with transaction.atomic():
        serialize("sign")
        tx = EngineTransaction.objects.select_for_update().get(pk=tx.pk)
        if tx.status != Status.QUEUED:
            return tx
        gas = estimate * GAS_MARGIN[0] // GAS_MARGIN[1]
        nonce = nonce_next(chain_id, node_next)
        signed = account.sign_transaction({
            "chainId": chain_id, "nonce": nonce, "to": tx.to, "data": tx.data, "value": 0,
            "gas": gas, "type": 2, **prices,
        })  # fmt: skip
        tx.status, tx.chain_id, tx.nonce, tx.gas = Status.SIGNED, chain_id, nonce, gas
        tx.raw_tx = signed.raw_transaction.hex()
        tx.tx_hash = "0x" + signed.hash.hex().removeprefix("0x")
        tx.save()
    return tx


def _mark_sent(tx: EngineTransaction) -> None:
    with transaction.atomic():
        moved = EngineTransaction.objects.filter(pk=tx.pk, status=Status.SIGNED).update(
            status=Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
        )
        # Told once: the first time it reaches the node, not on a resend after a reorg.
        if moved and tx.sent_at is None:
            tx.refresh_from_db()
            _PURPOSES[tx.purpose].sent(tx)


def _due():
    now = timezone.now()
    return (
        EngineTransaction.objects.filter(status__in=[Status.QUEUED, Status.SIGNED])
        .exclude(next_attempt_at__gt=now)
        .order_by("id")
    )


def transactions_send(*, limit: int = 100) -> int:
    """Sign and hand to the node the queued and signed calls that are due; how many
    the node took."""
    sent = 0
    for tx in _due()[:limit]:
        try:
            if tx.status == Status.QUEUED and (tx := _sign(tx)) is None:
                continue
            if tx.status != Status.SIGNED:
                continue  # another worker got there first
            client.web3().eth.send_raw_transaction(tx.raw_tx)
        except NODE_DOWN as error:
            _backoff(tx, f"node unreachable: {error}")
            return sent
        except (Web3RPCError, ValueError, EthValidationError) as error:
            if not _already_there(tx, error):
                continue
        _mark_sent(tx)
        sent += 1
    return sent


def _already_there(tx: EngineTransaction, error: Exception) -> bool:
    """Whether a refused send means the node has, or has mined, this very transaction;
    otherwise it waits a backoff, to be signed afresh if its nonce went elsewhere."""
    refused = refusal(error)
    if refused == KNOWN:
        return True
    if refused == NONCE_TAKEN:
        if receipt_of(tx) is not None:
            return True
        _backoff(tx, f"nonce {tx.nonce} was taken", status=Status.QUEUED, nonce=None,
                 chain_id=None, raw_tx="", tx_hash="")  # fmt: skip
        return False
    _backoff(tx, f"node refused the transaction: {error}")
    return False


def transactions_confirm() -> int:
    """Settle the sent calls whose receipts are final; how many were confirmed."""
    confirmed = 0
    for tx in EngineTransaction.objects.filter(status=Status.SENT).order_by("id"):
        try:
            confirmed += transaction_settle(tx)
        except NODE_DOWN as error:
            log.warning("confirming transactions: node unreachable: %s", error)
            break
    return confirmed


def transaction_settle(tx: EngineTransaction) -> bool:
    """Confirm (or fail) one sent call once its receipt is deep enough; whether it was
    confirmed. Gone from the node (dropped, reorged out): sent again as it is."""
    w3 = client.web3()
    receipt = receipt_of(tx)
    if receipt is None:
        if not in_node(tx):
            EngineTransaction.objects.filter(pk=tx.pk, status=Status.SENT).update(
                status=Status.SIGNED, last_error="transaction left the chain; resending"
            )
            log.warning("%s %s: transaction %s gone", tx.purpose, tx.owner_id, tx.tx_hash)
        return False
    if not receipt_final(w3, receipt):
        return False
    if receipt["status"] != 1:
        _fail(tx, f"transaction {tx.tx_hash} reverted")
        return False
    with transaction.atomic():
        moved = EngineTransaction.objects.filter(pk=tx.pk, status=Status.SENT).update(
            status=Status.CONFIRMED,
            chain_block_number=receipt["blockNumber"],
            chain_block_hash=bytes(receipt["blockHash"]).hex(),
            gas_used=receipt["gasUsed"],
            settled_at=timezone.now(),
        )
        if moved:
            tx.refresh_from_db()
            _PURPOSES[tx.purpose].confirmed(tx)
    return bool(moved)
