"""Every change of attributions, with the daily rows and counters kept in step.

An attribution is appended (New, and waiting to be sealed when it is
generation), sealed into a ledger block, sent with it (Pending), confirmed
(Processed), and may join a REC; each of these but sealing changes the /daily
rows and the source counters of the days it touches. This module is the only
one that makes them, and the only caller of ``energy.daily.daily_refresh`` and
``daily_shift`` (ruff bans them elsewhere), so no writer can forget the refresh.
Each function runs inside its caller's transaction.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from chain.leaves import mark_rows_confirmed, mark_rows_sent
from chain.models import LedgerBlock
from core.sql import among, insert_rows
from energy.daily import daily_refresh, daily_shift
from energy.models import Attribution, State


def attributions_appended(rows: Iterable[tuple]) -> None:
    """Write new attributions straight to the table (COPY on PostgreSQL), New.

    Rows are (source_id, seq, external_id, effective_time, value, carbon_offset)
    and optionally (quality, quality_reason, evidence); the caller holds the source
    locks and numbers them after the source's ``attribution_count``.
    """
    now = timezone.now()
    days: dict[int, set[dt.date]] = defaultdict(set)
    runs: dict[int, list[int]] = {}  # source -> [first, last] seq written

    def written():
        for sid, seq, ext, when, value, co, *quality in rows:
            days[sid].add(when.date())
            run = runs.setdefault(sid, [seq, seq])
            run[0], run[1] = min(run[0], seq), max(run[1], seq)
            quality, reason, evidence = quality or (None, "", None)
            yield sid, seq, ext, when, value, State.NEW, co, quality, reason, evidence, now, now

    insert_rows(
        "energy_attribution",
        ["source_id", "seq", "external_id", "effective_time", "value", "state",
         "carbon_offset", "quality", "quality_reason", "evidence", "created", "modified"],
        written(),
    )  # fmt: skip
    attributions_waiting({sid: (first, last) for sid, (first, last) in runs.items()})
    daily_refresh(days)


def attributions_waiting(runs: Mapping[int, tuple[int, int]]) -> None:
    """Queue for sealing the generation among these just-written rows: by source, the
    (first, last) seq of a run of them."""
    if not runs:
        return
    select = (
        "INSERT INTO energy_unsealed (attribution_id, effective_time, xid)"
        " SELECT a.id, a.effective_time, {xid} FROM {source} JOIN energy_attribution a"
        " ON a.source_id = u.source_id AND a.seq BETWEEN u.first AND u.last WHERE a.value >= 0"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            unnest = "unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS u(source_id, first, last)"
            sids = list(runs)
            cursor.execute(
                select.format(source=unnest, xid="txid_current()"),
                [sids, [runs[s][0] for s in sids], [runs[s][1] for s in sids]],
            )
        else:
            one = "(SELECT %s AS source_id, %s AS first, %s AS last) AS u"
            cursor.executemany(
                select.format(source=one, xid="0"),
                [(s, first, last) for s, (first, last) in runs.items()],
            )


def attributions_sent(blocks: list[LedgerBlock]) -> None:
    """The blocks' transactions are with the node, waiting for confirmations: each
    attribution gets its leaf hash and block, Pending."""
    mark_rows_sent("energy_attribution", blocks, State.PENDING)
    _daily_moved(blocks, State.PENDING)


def attributions_confirmed(blocks: list[LedgerBlock]) -> None:
    """The blocks' transactions are confirmed, each in its chain block: Processed (with
    leaf hash and block too, for a block whose rows were not marked Pending)."""
    mark_rows_confirmed(Attribution, blocks, block_id="chain_block_hash")
    _daily_moved(blocks, State.PROCESSED)


def attributions_certified(joined: Mapping[tuple[int, dt.date], Iterable[tuple]]) -> None:
    """Processed transactions joined RECs (the REC app wrote where): by (source, day),
    (rec_id, number, value mWh) of the rows each REC took."""
    unheld = (State.PROCESSED, None)
    daily_shift(
        {
            key: [(unheld, (State.PROCESSED, rec_id), n, v) for rec_id, n, v in recs]
            for key, recs in joined.items()
        }
    )


def _daily_moved(blocks: list[LedgerBlock], target: str) -> None:
    """Shift the daily rows of the days these blocks' rows fall on: every row moved to
    ``target``, from Pending where its block's rows were marked sent before
    (``rows_marked``), else from New. Counted by source and day, one query per kind
    of move."""
    moved: dict[tuple[int, dt.date], list] = defaultdict(list)
    for marked, origin in ((False, State.NEW), (True, State.PENDING)):
        group = [block for block in blocks if block.rows_marked == marked]
        ids = [pk for block in group for pk in block.leaf_ids_list()]
        for query in among(Attribution.objects.all(), ids):
            rows = (
                query.order_by()
                .values_list("source_id", "effective_time__date")
                .annotate(number=Count("id"), value=Sum("value"))
            )
            for sid, day, number, value in rows:
                moved[sid, day].append(((origin, None), (target, None), number, int(value)))
    daily_shift(moved)
