"""Following the RecToken contract: its events from blocks deep enough to hold for final.

Each run reads the contract's logs from the block after the last one indexed up to
the newest block ``CHAIN_CONFIRMATIONS`` deep (at most ``limit`` blocks), then
records them in one short transaction (node calls never happen inside one). Before
reading on, it checks that the last block it indexed is still the chain's block at
that height: if a reorg deeper than the confirmations replaced it, the events of
the replaced blocks are removed and those heights are read again.
"""

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address

from chain import client
from chain.models import TokenCursor, TokenEvent

log = logging.getLogger(__name__)
ZERO = "0x" + "0" * 40


# Who acts on the events (the recs app: burns become retirements, redemptions return
# RECs), told in the transaction that records them, so the ledger moves with the index.
_FOLLOWERS: list[Callable[[list[TokenEvent]], None]] = []


def follow(follower: Callable[[list[TokenEvent]], None]) -> None:
    _FOLLOWERS.append(follower)


class _Event:
    """One event of the contract decoded from a raw log by its ABI, as web3's
    ``process_log`` would (checksummed addresses, the same arguments), without its
    generic machinery: that took two thirds of the indexer's time."""

    def __init__(self, abi: dict):
        self.name = abi["name"]
        self.indexed = [(i["name"], i["type"]) for i in abi["inputs"] if i["indexed"]]
        self.data = [(i["name"], i["type"]) for i in abi["inputs"] if not i["indexed"]]

    def process_log(self, entry) -> dict:
        args = {
            name: _topic(kind, bytes(topic))
            for (name, kind), topic in zip(self.indexed, entry["topics"][1:], strict=True)
        }
        values = abi_decode([kind for _, kind in self.data], bytes(entry["data"]))
        for (name, kind), value in zip(self.data, values, strict=True):
            if kind == "address":
                value = _checksummed(value)
            elif kind.endswith("[]"):
                value = list(value)
            args[name] = value
        return {"args": args, "event": self.name, **{key: entry[key] for key in _PLACE}}


def _topic(kind: str, word: bytes):
    """An indexed argument from its topic: a value type is its 32-byte word."""
    if kind == "address":
        return _checksummed("0x" + word[12:].hex())
    if kind.startswith("uint"):
        return int.from_bytes(word, "big")
    [value] = abi_decode([kind], word)
    return value


# Transfers name the same few wallets over and over; checksumming hashes each time.
_checksummed = functools.lru_cache(maxsize=4096)(to_checksum_address)


_PLACE = ("blockNumber", "blockHash", "transactionHash", "logIndex")


def _decoders(contract) -> dict[bytes, _Event]:
    events = {}
    for name in ("TransferSingle", "TransferBatch", "Retired", "Redeemed"):
        abi = getattr(contract.events, name)().abi
        events[event_abi_to_log_topic(abi)] = _Event(abi)
    return events


def _rows(chain_id: int, decoded) -> list[TokenEvent]:
    """The rows of one decoded log: one per id of a batch."""
    args, name = decoded["args"], decoded["event"]
    common = {
        "chain_id": chain_id,
        "block_number": decoded["blockNumber"],
        "block_hash": bytes(decoded["blockHash"]).hex(),
        "tx_hash": "0x" + bytes(decoded["transactionHash"]).hex().removeprefix("0x"),
        "log_index": decoded["logIndex"],
    }
    if name == "TransferSingle":
        pairs = [(args["id"], args["value"])]
    elif name == "TransferBatch":
        pairs = list(zip(args["ids"], args["values"], strict=True))
    elif name == "Redeemed":
        return [TokenEvent(**common, kind=TokenEvent.Kind.REDEEMED, sender=args["holder"],
                           token_id=args["id"], amount=args["amount"],
                           claim={"account": args["account"][:64]})]  # fmt: skip
    else:
        claim = {
            "beneficiary_hash": "0x" + bytes(args["beneficiaryHash"]).hex(),
            "purpose_hash": "0x" + bytes(args["purposeHash"]).hex(),
            "country": bytes(args["country"]).decode("ascii", "replace"),
            "period_start": args["periodStart"],
            "period_end": args["periodEnd"],
        }
        return [TokenEvent(**common, kind=TokenEvent.Kind.RETIRED, sender=args["holder"],
                           token_id=args["id"], amount=args["amount"], claim=claim)]  # fmt: skip
    return [
        TokenEvent(**common, position=i, kind=TokenEvent.Kind.TRANSFER, sender=args["from"],
                   receiver=args["to"], token_id=token_id, amount=amount)
        for i, (token_id, amount) in enumerate(pairs)
    ]  # fmt: skip


def token_events_index(*, limit: int = 2000) -> int:
    """Index the contract's events of up to ``limit`` more final blocks and hand them to
    the followers; the events recorded (0 when no token contract is known)."""
    if (contract := client.rec_token_contract()) is None:
        return 0
    w3 = client.web3()
    chain_id = w3.eth.chain_id
    cursor, _ = TokenCursor.objects.get_or_create(
        chain_id=chain_id, contract_address=contract.address
    )
    if cursor.last_block >= 0:
        canonical = bytes(w3.eth.get_block(cursor.last_block)["hash"]).hex()
        if canonical != cursor.last_block_hash:
            _roll_back(w3, cursor)
            cursor.refresh_from_db()
    final = w3.eth.block_number - settings.CHAIN_CONFIRMATIONS + 1
    first, last = cursor.last_block + 1, min(final, cursor.last_block + limit)
    if first > last:
        return 0
    logs = w3.eth.get_logs({"address": contract.address, "fromBlock": first, "toBlock": last})
    decoders = _decoders(contract)
    rows = [
        row
        for entry in logs
        if (decoder := decoders.get(bytes(entry["topics"][0]))) is not None
        for row in _rows(chain_id, decoder.process_log(entry))
    ]
    last_hash = bytes(w3.eth.get_block(last)["hash"]).hex()
    with transaction.atomic():
        moved = TokenCursor.objects.filter(pk=cursor.pk, last_block=cursor.last_block).update(
            last_block=last, last_block_hash=last_hash
        )
        if not moved:
            return 0  # another worker indexed these blocks meanwhile
        TokenEvent.objects.bulk_create(rows, ignore_conflicts=True)
        for follower in _FOLLOWERS:
            follower(rows)
    return len(rows)


def _roll_back(w3, cursor: TokenCursor) -> int:
    """A reorg replaced the last indexed block: find the newest indexed block still on
    the chain, remove the events after it, and stand there; the events removed."""
    height = cursor.last_block
    while height >= 0:
        kept = (
            TokenEvent.objects.filter(chain_id=cursor.chain_id, block_number__lte=height)
            .order_by("-block_number")
            .values_list("block_number", "block_hash")
            .first()
        )
        if kept is None:
            height = -1
            break
        number, stored = kept
        if bytes(w3.eth.get_block(number)["hash"]).hex() == stored:
            height = number
            break
        height = number - 1
    keep_hash = bytes(w3.eth.get_block(height)["hash"]).hex() if height >= 0 else ""
    with transaction.atomic():
        gone, _ = TokenEvent.objects.filter(
            chain_id=cursor.chain_id, block_number__gt=height
        ).delete()
        TokenCursor.objects.filter(pk=cursor.pk).update(
            last_block=height, last_block_hash=keep_hash
        )
    log.warning("token events: a reorg removed %s event(s) after block %s", gone, height)
    return gone
