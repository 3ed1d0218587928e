"""RECs as leaves of the ledger: sealed after the attributions they are cut from.

Registered with ``chain.leaves`` by ``RecsConfig.ready``. A REC's leaf covers
its source and, in the REC's order, the leaf of the metered transaction each
part of its energy comes from and the mWh taken from it.
"""

from collections.abc import Iterator

from django.utils import timezone

from chain.hashing import rec_leaf
from chain.leaves import Batch, mark_rows_sent, state_problem
from chain.models import LedgerBlock
from energy.models import State
from recs.models import Rec
from recs.selectors import rec_members

KIND = "recs"


def _leaf_members(rec_ids: list[int]) -> dict[int, list[tuple[bytes, int]]]:
    """Each REC's (origin leaf, mWh taken) in REC order: what its hash covers."""
    return {
        rec_id: [(bytes.fromhex(origin), taken) for origin, taken in parts]
        for rec_id, parts in rec_members(rec_ids).items()
    }


class RecLeaves:
    name = KIND

    def unsealed(self, limit: int, after: LedgerBlock | None) -> Batch | None:
        recs = Rec.objects.filter(ledger_block__isnull=True)
        if after is not None:
            recs = recs.filter(id__gt=after.last_leaf_id)
        # RECs are issued from Processed transactions only, so every one of their
        # transactions (or the one a remainder was split from) already has its leaf.
        rows = list(recs.order_by("id").values_list("id", "source__client_id")[:limit])
        if not rows:
            return None
        members = _leaf_members([pk for pk, _ in rows])
        return Batch(
            ids=[pk for pk, _ in rows],
            leaves=[rec_leaf(client_id, members.get(pk, [])) for pk, client_id in rows],
        )

    def mark_sent(self, block: LedgerBlock) -> None:
        mark_rows_sent("recs_rec", block, State.PENDING)

    def mark_confirmed(self, block: LedgerBlock, number: int, chain_hash: str) -> None:
        now = timezone.now()
        Rec.objects.filter(ledger_block=block, state=State.PENDING).update(
            state=State.PROCESSED, height=number, state_changed=now, modified=now
        )

    def check(self, block: LedgerBlock) -> Iterator[tuple[str | None, bytes]]:
        sealed = block.leaf_list()
        recs = Rec.objects.select_related("source").in_bulk([pk for pk, _ in sealed])
        members = _leaf_members([pk for pk, _ in sealed])
        for pk, leaf in sealed:
            rec = recs.get(pk)
            if rec is None:
                yield f"block {block.ledger_height}: REC {pk} is gone", leaf
            elif rec_leaf(rec.source.client_id, members.get(pk, [])) != leaf:
                yield f"REC {pk}: its transactions no longer hash to its leaf {leaf.hex()}", leaf
            elif block.rows_marked and (rec.hash != leaf.hex() or rec.ledger_block_id != block.pk):
                yield f"REC {pk}: its hash or block is not block {block.ledger_height}'s", leaf
            elif problem := state_problem(rec, block, f"REC {pk}"):
                yield problem, leaf
            else:
                yield None, leaf

    def problems(self) -> Iterator[str]:
        from recs.audit import issuance_problems

        yield from issuance_problems()
