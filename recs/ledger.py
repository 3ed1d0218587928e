"""RECs as leaves of the ledger: sealed after the attributions they are cut from.

Registered with ``chain.leaves`` by ``RecsConfig.ready``. A REC's leaf covers
its source and, in the REC's order, the leaf of the metered transaction each
part of its energy comes from and the mWh taken from it.
"""

from collections import defaultdict
from collections.abc import Iterator

from chain.hashing import rec_leaf, retirement_leaf
from chain.leaves import Batch, mark_rows_confirmed, mark_rows_sent, state_problem
from chain.models import LedgerBlock
from energy.models import State
from recs.holdings import Run
from recs.models import Rec, Retirement, RetirementRange
from recs.selectors import rec_members, serials_within

KIND = "recs"


def _leaf_members(rec_ids: list[int]) -> dict[int, list[tuple[bytes, int]]]:
    """Each REC's (origin leaf, mWh taken) in REC order: what its hash covers."""
    return {
        rec_id: [(bytes.fromhex(origin), taken) for origin, taken in parts]
        for rec_id, parts in rec_members(rec_ids).items()
    }


def _serial(serial: int, version: int) -> int | None:
    """What a REC's leaf commits to of its serial: nothing for the RECs of v1."""
    return serial if version >= 2 else None


class RecLeaves:
    name = KIND

    def take(self, limit: int, after: LedgerBlock | None) -> Batch | None:
        recs = Rec.objects.filter(ledger_block__isnull=True)
        if after is not None:
            recs = recs.filter(id__gt=after.last_leaf_id)
        # RECs are issued from Processed transactions only, so every one of their
        # transactions (or the one a remainder was split from) already has its leaf.
        rows = list(
            recs.order_by("id").values_list("id", "source__client_id", "serial", "leaf_version")[
                :limit
            ]
        )
        if not rows:
            return None
        members = _leaf_members([pk for pk, *_ in rows])
        return Batch(
            ids=[pk for pk, *_ in rows],
            leaves=[
                rec_leaf(client_id, members.get(pk, []), _serial(serial, version))
                for pk, client_id, serial, version in rows
            ],
        )

    def mark_sent(self, blocks: list[LedgerBlock]) -> None:
        mark_rows_sent("recs_rec", blocks, State.PENDING)

    def mark_confirmed(self, blocks: list[LedgerBlock]) -> None:
        mark_rows_confirmed(Rec, blocks)

    def check(self, block: LedgerBlock) -> Iterator[tuple[str | None, bytes]]:
        sealed = block.leaf_list()
        recs = Rec.objects.select_related("source").in_bulk([pk for pk, _ in sealed])
        members = _leaf_members([pk for pk, _ in sealed])
        for pk, leaf in sealed:
            rec = recs.get(pk)
            if rec is None:
                yield f"block {block.ledger_height}: REC {pk} is gone", leaf
            elif (
                rec_leaf(rec.source.client_id, members.get(pk, []), _serial(rec.serial,
                         rec.leaf_version))
                != leaf
            ):  # fmt: skip
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


RETIREMENT_KIND = "retirements"


def retired_recs(retirement_ids: list[int]) -> dict[int, list[tuple[int, int, str | None]]]:
    """Each retirement's RECs as (source id, serial, REC hash or None while the REC is
    not sealed and sent), in source and serial order: what its leaf covers."""
    ranges = defaultdict(list)
    for pk, source_id, first, last in RetirementRange.objects.filter(
        retirement_id__in=retirement_ids
    ).values_list("retirement_id", "source_id", "first", "last"):
        ranges[pk].append(Run(source_id, first, last))
    found = {}
    for pk, runs in ranges.items():
        found[pk] = list(
            Rec.objects.filter(serials_within(runs))
            .order_by("source_id", "serial")
            .values_list("source_id", "serial", "hash")
        )
    return found


def retirement_leaf_of(retirement: Retirement, recs: list[tuple[int, int, str]]) -> bytes:
    claim = retirement.beneficiary, retirement.purpose
    if retirement.on_chain:  # burnt on chain: its claim is the hashes put there
        claim = bytes.fromhex(retirement.beneficiary_hash), bytes.fromhex(retirement.purpose_hash)
    return retirement_leaf(
        beneficiary=claim[0],
        purpose=claim[1],
        country=retirement.country,
        period_start=retirement.period_start,
        period_end=retirement.period_end,
        recs=[(source_id, serial, bytes.fromhex(leaf)) for source_id, serial, leaf in recs],
    )


class RetirementLeaves:
    """Retirements as leaves: sealed once every REC they retire has its hash (RECs are
    sealed first), in id order, a waiting one holding back the ones after it."""

    name = RETIREMENT_KIND

    def take(self, limit: int, after: LedgerBlock | None) -> Batch | None:
        rows = Retirement.objects.filter(ledger_block__isnull=True)
        if after is not None:
            rows = rows.filter(id__gt=after.last_leaf_id)
        taken = list(rows.order_by("id")[:limit])
        recs = retired_recs([r.pk for r in taken])
        ids, leaves = [], []
        for retirement in taken:
            members = recs.get(retirement.pk, [])
            if any(leaf is None for *_, leaf in members):
                break  # its RECs are sealed in the next rounds; the rest wait behind it
            ids.append(retirement.pk)
            leaves.append(retirement_leaf_of(retirement, members))
        return Batch(ids=ids, leaves=leaves) if ids else None

    def mark_sent(self, blocks: list[LedgerBlock]) -> None:
        mark_rows_sent("recs_retirement", blocks, State.PENDING)

    def mark_confirmed(self, blocks: list[LedgerBlock]) -> None:
        mark_rows_confirmed(Retirement, blocks)

    def check(self, block: LedgerBlock) -> Iterator[tuple[str | None, bytes]]:
        sealed = block.leaf_list()
        retirements = Retirement.objects.in_bulk([pk for pk, _ in sealed])
        recs = retired_recs([pk for pk, _ in sealed])
        height = block.ledger_height
        for pk, leaf in sealed:
            retirement = retirements.get(pk)
            members = recs.get(pk, [])
            if retirement is None:
                yield f"block {height}: retirement {pk} is gone", leaf
            elif (
                any(h is None for *_, h in members)
                or retirement_leaf_of(retirement, members) != leaf
            ):
                yield f"retirement {pk}: its claim and RECs no longer hash to {leaf.hex()}", leaf
            elif block.rows_marked and (
                retirement.hash != leaf.hex() or retirement.ledger_block_id != block.pk
            ):
                yield (
                    f"retirement {pk}: its hash or block is not block {block.ledger_height}'s",
                    leaf,
                )
            elif problem := state_problem(retirement, block, f"retirement {pk}"):
                yield problem, leaf
            else:
                yield None, leaf

    def problems(self) -> Iterator[str]:
        from recs.audit import token_problems

        yield from token_problems()
