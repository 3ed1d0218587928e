"""Sealing: the next waiting leaves of a kind into one hash-chained ledger block."""

from django.conf import settings
from django.db import connection, transaction

from chain import leaves
from chain.hashing import GENESIS, block_hash, merkle_root
from chain.models import LedgerBlock

_LOCKS = {"seal": 7_401_001, "sign": 7_401_002}


def serialize(name: str) -> None:
    """Serialize one kind of writer across workers for the rest of the transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCKS[name]])


def blocks_seal(*, limit: int | None = None) -> int:
    """Seal the oldest waiting leaves of the first kind that has any (in the order the
    kinds were registered: attributions before the RECs cut from them) into one
    ledger block; the leaves sealed."""
    limit = limit or settings.BLOCK_MAX_TXS
    with transaction.atomic():
        serialize("seal")
        for kind in leaves.kinds():
            after = (
                LedgerBlock.objects.filter(rows_marked=False, kind=kind.name)
                .order_by("-ledger_height")
                .only("last_leaf_time", "last_leaf_id")
                .first()
            )
            if (batch := kind.take(limit, after)) is not None and batch.ids:
                new_block(kind.name, batch)
                return len(batch.ids)
    return 0


def new_block(kind: str, batch: leaves.Batch) -> LedgerBlock:
    """The next ledger block, holding ``batch``; call it inside a transaction."""
    root = merkle_root(batch.leaves)
    last = LedgerBlock.objects.order_by("-ledger_height").only("ledger_height", "hash").first()
    height = last.ledger_height + 1 if last else 1
    previous = bytes.fromhex(last.hash) if last else GENESIS
    block = LedgerBlock.objects.create(
        kind=kind,
        ledger_height=height,
        previous_hash=previous.hex(),
        root=root.hex(),
        hash=block_hash(previous, height, root, len(batch.leaves)).hex(),
        count=len(batch.leaves),
        leaves=b"".join(batch.leaves),
        leaf_ids=b"".join(pk.to_bytes(8, "big") for pk in batch.ids),
        last_leaf_id=batch.ids[-1],
        last_leaf_time=batch.last_time,
    )
    return block
