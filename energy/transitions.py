"""Every change of attributions, with the daily rows and counters kept in step.

An attribution is appended (New), sent with its ledger block (Pending),
confirmed (Processed), and may join a REC; each of these changes the /daily rows
and the source counters of the days it touches. This module is the only one
that makes them, and the only caller of ``energy.daily.daily_refresh`` (ruff
bans it elsewhere), so no writer can forget the refresh. Each function runs
inside its caller's transaction.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db.models import Count, Sum
from django.utils import timezone

from chain.leaves import mark_rows_confirmed, mark_rows_sent
from chain.models import LedgerBlock
from core.sql import insert_rows
from energy.daily import daily_refresh
from energy.models import Attribution, State


def attributions_appended(rows: Iterable[tuple]) -> None:
    """Write new attributions straight to the table (COPY on PostgreSQL), New.

    Rows are (source_id, seq, external_id, effective_time, value, carbon_offset)
    and optionally (quality, quality_reason, evidence); the caller holds the source
    locks and numbers them after the source's ``attribution_count``.
    """
    now = timezone.now()
    days: dict[int, set[dt.date]] = defaultdict(set)

    def written():
        for sid, seq, ext, when, value, co, *quality in rows:
            days[sid].add(when.date())
            quality, reason, evidence = quality or (None, "", None)
            yield sid, seq, ext, when, value, State.NEW, co, quality, reason, evidence, now, now

    insert_rows(
        "energy_attribution",
        ["source_id", "seq", "external_id", "effective_time", "value", "state",
         "carbon_offset", "quality", "quality_reason", "evidence", "created", "modified"],
        written(),
    )  # fmt: skip
    daily_refresh(days)


def attributions_sent(blocks: list[LedgerBlock]) -> None:
    """The blocks' transactions are with the node, waiting for confirmations: each
    attribution gets its leaf hash and block, Pending."""
    mark_rows_sent("energy_attribution", blocks, State.PENDING)
    moved = _moves_of(blocks, State.NEW, State.PENDING)
    daily_refresh(_days(moved), moved)


def attributions_confirmed(blocks: list[LedgerBlock]) -> None:
    """The blocks' transactions are confirmed, each in its chain block: Processed (with
    leaf hash and block too, for a block whose rows were not marked Pending)."""
    mark_rows_confirmed(Attribution, blocks, block_id="chain_block_hash")
    moved = _moves_of([b for b in blocks if not b.rows_marked], State.NEW, State.PROCESSED)
    for key, moves in _moves_of(
        [b for b in blocks if b.rows_marked], State.PENDING, State.PROCESSED
    ).items():
        moved.setdefault(key, []).extend(moves)
    daily_refresh(_days(moved), moved)


def attributions_certified(days: Mapping[int, Iterable[dt.date]]) -> None:
    """Transactions of these (source -> days) joined RECs (the REC app wrote where)."""
    daily_refresh(days)


def _moves_of(blocks: list[LedgerBlock], origin: str, target: str) -> dict[tuple, list]:
    """(source, day) -> [(origin, target, number, value)]: the rows of these blocks,
    all of which moved from ``origin`` to ``target``, counted by source and day."""
    if not blocks:
        return {}
    rows = (
        Attribution.objects.filter(ledger_block__in=blocks)
        .order_by()
        .values_list("source_id", "effective_time__date")
        .annotate(number=Count("id"), value=Sum("value"))
    )
    return {(sid, day): [(origin, target, n, int(v))] for sid, day, n, v in rows}


def _days(moved: Mapping[tuple, list]) -> dict[int, set[dt.date]]:
    days: dict[int, set[dt.date]] = defaultdict(set)
    for source_id, day in moved:
        days[source_id].add(day)
    return days
