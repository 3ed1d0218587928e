"""Public statements: what a retirement claims, and everything needed to check it.

A statement is read without a token by whoever holds its unguessable id: a buyer
forwards it to an auditor. It names the claim (beneficiary, purpose, country,
period, quantity), each bundle with its source's attributes and production
period, each REC with its serial, hash and anchoring (and its Merkle proof), the
hourly profile of the retired energy, and the retirement's own hash with its
proof. ``statement_get`` builds it once as plain data; the JSON, the HTML page and
the PDF all render that.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from chain.models import LedgerBlock
from chain.selectors import leaf_proofs
from recs.models import Rec, Retirement, RetirementRange
from recs.selectors import rec_members, serials_within, with_production


@dataclass
class Statement:
    retirement: Retirement
    ranges: list[RetirementRange]  # each with its source and production period
    recs: list[Rec]  # in source and serial order, each with ``proof`` (or None)
    hourly: list[tuple[dt.datetime, int]]  # (hour, mWh retired from it), in time order
    proof: dict | None  # the retirement's own, once sealed

    @property
    def anchored(self) -> int:
        """How many of its RECs are confirmed on chain."""
        return sum(rec.state == "Processed" for rec in self.recs)


def statement_get(*, statement_id: str) -> Statement:
    """The statement of the retirement with this statement id; raises
    Retirement.DoesNotExist for any other string."""
    retirement = Retirement.objects.select_related("account__customer", "ledger_block").get(
        statement=statement_id
    )
    ranges = list(
        with_production(retirement.ranges.select_related("source")).order_by("source_id", "first")
    )
    recs = list(Rec.objects.filter(serials_within(ranges)).order_by("source_id", "serial"))
    _with_proofs(recs)
    proof = None
    if retirement.ledger_block is not None:
        proof = leaf_proofs(block=retirement.ledger_block, leaf_ids=[retirement.pk])[retirement.pk]
    return Statement(retirement, ranges, recs, _hourly([rec.pk for rec in recs]), proof)


def _with_proofs(recs: list[Rec]) -> None:
    """Give each REC its ``proof``: one tree built per ledger block, whatever the RECs."""
    by_block = defaultdict(list)
    for rec in recs:
        rec.proof = None
        if rec.ledger_block_id is not None:
            by_block[rec.ledger_block_id].append(rec)
    for block in LedgerBlock.objects.filter(pk__in=by_block):
        proofs = leaf_proofs(block=block, leaf_ids=[rec.pk for rec in by_block[block.pk]])
        for rec in by_block[block.pk]:
            rec.proof = proofs[rec.pk]


def _hourly(rec_ids: list[int]) -> list[tuple[dt.datetime, int]]:
    """The mWh each production hour gave the RECs, summing to their number x 1 MWh."""
    hours: dict[dt.datetime, int] = defaultdict(int)
    for parts in rec_members(rec_ids, by="effective_time").values():
        for hour, taken in parts:
            hours[hour] += taken
    return sorted(hours.items())
