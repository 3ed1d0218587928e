"""Attributions as leaves of the ledger: what chain seals, and how their rows move.

Registered with ``chain.leaves`` by ``EnergyConfig.ready``. Generation
(value >= 0) waits in ``Unsealed`` and is sealed oldest first; consumption
never is. Once a block's
transaction is with the node, the confirmation pass gives its attributions their
leaf hash and block: Pending while the block waits for confirmations, Processed
with the chain block once it has them (straight from New when it already has).
The daily rows of the days touched follow in the same transaction.
"""

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

from django.db import connection
from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast, Extract

from chain.hashing import attribution_leaves
from chain.leaves import Batch, expected_state, state_problem
from chain.models import LedgerBlock
from core.sql import among
from energy.models import Attribution, SealingCursor, State, Unsealed
from energy.transitions import attributions_confirmed, attributions_sent

KIND = "attributions"


_AUDITED = """
    SELECT a.id, s.client_id, a.external_id, {epoch}, a.value, a.evidence, a.hash,
           a.ledger_block_id, a.state, a.height, a.block_id
    FROM energy_attribution a JOIN energy_source s ON s.id = a.source_id
    WHERE {match}
"""


def _audited_rows(block: LedgerBlock, ids: list[int]) -> dict[int, tuple]:
    """By id, the block's attributions as the audit reads them: (client id bytes,
    external id, epoch, value, evidence, hash, ledger block, state, height, chain
    block), plain tuples (the audit reads every row of the ledger). The block's
    rows are found by the ids the block seals (no index of the table names a block)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            epoch = "EXTRACT(EPOCH FROM a.effective_time)::bigint"
            sql = _AUDITED.format(epoch=epoch, match="a.id = ANY(%s::bigint[])")
            cursor.execute(sql, [ids])
            rows = cursor.fetchall()
        else:
            epoch = "CAST(strftime('%%s', a.effective_time) AS INTEGER)"
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                match = f"a.id IN ({', '.join(['%s'] * len(chunk))})"
                cursor.execute(_AUDITED.format(epoch=epoch, match=match), chunk)
                rows += cursor.fetchall()
    clients = {client: bytes.fromhex(client[2:]) for client in {row[1] for row in rows}}
    return {
        pk: (clients[client], ext, epoch, value, bytes(ev) if ev is not None else None, *marks)
        for pk, client, ext, epoch, value, ev, *marks in rows
    }


def _take(limit: int) -> list[tuple]:
    """The ``leaf_rows`` of the oldest ``limit`` rows of generation waiting to be sealed,
    oldest first, taken off the queue (the caller seals them in this transaction,
    holding sealing's lock)."""
    if connection.vendor == "postgresql":
        return _take_from_cursor(limit)
    waiting = Unsealed.objects.order_by("effective_time", "attribution_id")
    ids = list(waiting.values_list("attribution_id", flat=True)[:limit])
    rows = [row for query in among(Attribution.objects.all(), ids) for row in leaf_rows(query)]
    for query in among(Unsealed.objects.all(), ids, "attribution_id"):
        query.delete()
    place = {pk: i for i, pk in enumerate(ids)}
    return sorted(rows, key=lambda row: place[row[0]])


def _take_from_cursor(limit: int) -> list[tuple]:
    """``_take`` on PostgreSQL: the queue read from ``SealingCursor`` on, or from the
    oldest late row committed since the last look when one is older."""
    with connection.cursor() as cursor:
        # Read before the take's snapshot: every transaction below it has ended, so a
        # row the take cannot see yet has an xid at or above it (the next horizon).
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        [horizon] = cursor.fetchone()
        mark = SealingCursor.objects.filter(pk=1).first()
        if mark is None:  # the first look: from the queue's head
            cursor.execute(_TAKE.format(start=""), {"limit": limit})
        else:
            late = _oldest_since(cursor, mark.xid_horizon)
            if late is not None and late <= (mark.after_time, mark.after_id):
                start, key = ">=", late
            else:
                start, key = ">", (mark.after_time, mark.after_id)
            where = f"WHERE (effective_time, attribution_id) {start} (%(time)s, %(id)s)"
            cursor.execute(
                _TAKE.format(start=where), {"limit": limit, "time": key[0], "id": key[1]}
            )
        taken = cursor.fetchall()
    # The last column: the exact time in microseconds, for the cursor (psycopg makes
    # a datetime of a timestamp slower than the rest of the row together).
    rows = [row[:-1] for row in taken]
    if rows:
        after = (_EPOCH + dt.timedelta(microseconds=taken[-1][-1]), taken[-1][0])
    elif mark is not None:
        after = (mark.after_time, mark.after_id)  # nothing waits past it, nor is late
    else:
        return rows
    # Sealing's lock is held: the row read above is still the row to write.
    moved = {"after_time": after[0], "after_id": after[1], "xid_horizon": horizon}
    if mark is None:
        SealingCursor.objects.create(pk=1, **moved)
    else:
        SealingCursor.objects.filter(pk=1).update(**moved)
    return rows


def _oldest_since(cursor, horizon: int) -> tuple[dt.datetime, int] | None:
    """The oldest (effective time, id) among the queued rows of transactions at or
    after ``horizon``: those committed since sealing last looked, usually a few.
    Read in pages in the order of the ``xid`` index (a page's LIMIT keeps the
    planner on that index, where a bare range of a queue never analyzed would be
    estimated at a third of it and scanned whole)."""
    oldest, after = None, (horizon, 0)  # ids start at 1: every row of xid >= horizon
    while True:
        cursor.execute(_SINCE, {"xid": after[0], "id": after[1], "page": _PAGE})
        page = cursor.fetchall()
        keys = [(when, pk) for when, pk, _ in page]
        if keys:
            oldest = min(keys) if oldest is None else min(oldest, *keys)
        if len(page) < _PAGE:
            return oldest
        after = (page[-1][2], page[-1][1])


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PAGE = 10_000
_SINCE = """
    SELECT effective_time, attribution_id, xid FROM energy_unsealed
    WHERE (xid, attribution_id) > (%(xid)s, %(id)s)
    ORDER BY xid, attribution_id LIMIT %(page)s
"""

# One statement, so that the rows deleted are the rows read (one snapshot: a late row
# committed meanwhile stays queued). The queue's rows are found by the ctid its index
# scan read, which no plan turns into a scan of the whole queue (an id array without
# statistics did), and each attribution is looked up by id (OFFSET 0 keeps the
# planner from joining the two tables whole: it would rather scan the attributions
# than probe their primary key 10,000 times).
_TAKE = """
    WITH taken AS (
        DELETE FROM energy_unsealed WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM energy_unsealed {start}
            ORDER BY effective_time, attribution_id LIMIT %(limit)s
        ))
        RETURNING attribution_id, effective_time
    )
    SELECT a.id, s.client_id, a.external_id, a.epoch, a.value, a.evidence,
           (EXTRACT(EPOCH FROM u.effective_time) * 1000000)::bigint
    FROM taken AS u CROSS JOIN LATERAL (
        SELECT id, source_id, external_id, EXTRACT(EPOCH FROM effective_time)::bigint AS epoch,
               value, evidence
        FROM energy_attribution WHERE id = u.attribution_id OFFSET 0
    ) AS a JOIN energy_source s ON s.id = a.source_id
    ORDER BY u.effective_time, u.attribution_id
"""


def leaf_rows(query) -> list[tuple]:
    """(id, source client id, external id, epoch seconds, value, evidence) of the
    attributions of ``query``."""
    fields = ("id", "source__client_id", "external_id", "epoch", "value", "evidence")
    if connection.vendor != "postgresql":
        rows = query.values_list(*fields[:3], "effective_time", "value", "evidence")
        return [(i, c, e, int(t.timestamp()), v, ev) for i, c, e, t, v, ev in rows]
    epoch = Cast(Extract("effective_time", "epoch"), BigIntegerField())
    query = query.annotate(epoch=epoch).values_list(*fields)
    # Plain tuples straight from the driver: Django's per-row converters cost
    # more than hashing the rows.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def batch_of(rows: list[tuple]) -> Batch:
    """The leaves of these ``leaf_rows``, in their order."""
    clients = {client: bytes.fromhex(client[2:]) for client in {row[1] for row in rows}}
    return Batch(
        ids=[row[0] for row in rows],
        leaves=attribution_leaves(
            (clients[c], e, t, v, bytes(ev) if ev is not None else None)
            for _, c, e, t, v, ev in rows
        ),
        last_time=dt.datetime.fromtimestamp(rows[-1][3], dt.UTC),
    )


class AttributionLeaves:
    name = KIND

    def take(self, limit: int, after: LedgerBlock | None) -> Batch | None:
        # Taken off the queue as they are read, so ``after`` is not needed (on
        # PostgreSQL the queue keeps its own cursor, ``SealingCursor``).
        rows = _take(limit)
        return batch_of(rows) if rows else None

    def mark_sent(self, blocks: list[LedgerBlock]) -> None:
        attributions_sent(blocks)

    def mark_confirmed(self, blocks: list[LedgerBlock]) -> None:
        attributions_confirmed(blocks)

    def check(self, block: LedgerBlock) -> Iterator[tuple[str | None, bytes]]:
        """Each sealed leaf, with what is wrong with its attribution if anything.

        The root is rebuilt from the sealed leaves, so an edited row is named
        once, and a rewritten leaf shows in the root as well.
        """
        sealed = block.leaf_list()
        rows = _audited_rows(block, [pk for pk, _ in sealed])
        expected = expected_state(block)
        state, height = expected
        marked, chain_block = block.rows_marked, block.chain_block_hash
        found = [pk for pk, _ in sealed if pk in rows]
        hashed = dict(zip(found, attribution_leaves(rows[pk][:5] for pk in found), strict=True))
        for pk, leaf in sealed:
            row = rows.get(pk)
            if row is None:
                yield f"block {block.ledger_height}: attribution {pk} is gone", leaf
                continue
            row_hash, row_block, row_state, row_height, row_chain = row[5:]
            if hashed[pk] != leaf:
                yield (
                    f"attribution {pk}: its content no longer hashes to its leaf {leaf.hex()}",
                    leaf,
                )
            elif marked and (row_block != block.pk or row_hash != leaf.hex()):
                yield (
                    f"attribution {pk}: its hash or block is not block {block.ledger_height}'s",
                    leaf,
                )
            elif row_state != state or (height is not None and row_height != height):
                marks = SimpleNamespace(state=row_state, height=row_height)
                yield state_problem(marks, block, f"attribution {pk}", expected), leaf
            elif row_state == State.PROCESSED and row_chain != chain_block:
                yield f"attribution {pk}: its chain block is not its block's", leaf
            else:
                yield None, leaf

    def problems(self) -> Iterator[str]:
        loose = Attribution.objects.filter(ledger_block__isnull=True).exclude(state=State.NEW)
        for pk in loose.values_list("pk", flat=True)[:100]:
            yield f"attribution {pk}: moved past New without a ledger block"
        yield from _queue_problems()
        from energy.audit import derived_problems, reading_problems

        yield from reading_problems()
        yield from derived_problems()


def _queue_problems() -> Iterator[str]:
    """Every generation row is waiting to be sealed or in a block, never both (a row
    sealed but not yet marked is in its block's leaves, not yet on the row)."""
    in_flight = set()
    for block in LedgerBlock.objects.filter(kind=KIND, rows_marked=False).only("leaf_ids", "count"):
        in_flight.update(block.leaf_ids_list())
    waiting = Unsealed.objects.values("attribution_id")
    twice = Attribution.objects.filter(pk__in=waiting, ledger_block__isnull=False)
    for pk in twice.values_list("pk", flat=True)[:100]:
        yield f"attribution {pk}: waits to be sealed, though it is in a block"
    # Asked of the database for the few rows in flight, not the whole queue fetched.
    queued = among(Unsealed.objects.all(), sorted(in_flight), "attribution_id")
    for pk in sorted(pk for query in queued for pk in query.values_list("pk", flat=True)):
        yield f"attribution {pk}: waits to be sealed, though a block seals it"
    if mark := SealingCursor.objects.filter(pk=1).first():
        before = Q(effective_time__lt=mark.after_time) | Q(
            effective_time=mark.after_time, attribution_id__lte=mark.after_id
        )
        unseen = Unsealed.objects.filter(before, xid__lt=mark.xid_horizon)
        for pk in unseen.values_list("pk", flat=True)[:100]:
            yield f"attribution {pk}: waits before the sealing cursor, where sealing never looks"
    lost = (
        Attribution.objects.filter(ledger_block__isnull=True, value__gte=0)
        .exclude(pk__in=waiting)
        .values_list("pk", flat=True)
    )
    for pk in lost.iterator():
        if pk not in in_flight:
            yield f"attribution {pk}: generation in no block and not waiting to be sealed"
