"""REC issuance: cut each source's processed generation into RECs of exactly 1 MWh.

The rule is ``recs.cutting.cut_recs``. On PostgreSQL the same rule runs
set-based over a batch of sources: a window sum gives each transaction the
cumulative energy of its source up to and including it (after the carried
remainder), and integer division of that by 1 MWh says which REC it falls in,
whether it crosses a boundary, and how many RECs it spans; RECs, their
opening remainders and their spans (runs of the source's transaction sequence)
are then written by a handful of statements whatever the number of rows.
Embedded SQLite runs the rule in Python, row by row: its data sets are a demo's.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.units import REC_VALUE
from energy.models import Attribution, Quality, Source, State
from energy.transitions import attributions_certified
from recs.cutting import cut_recs
from recs.holdings import holdings_issued
from recs.models import Issuance, Numbering, Rec, Remainder, Span
from recs.selectors import in_a_span

# Sources per transaction in recs_issue_all: bounds how long their rows stay
# locked against ingestion, while keeping each statement set-based.
BATCH = 250


def _open():
    """Generation in no REC yet, whatever its state: none of it lies below its
    source's ``Issuance.seq_from``, so readers filter on that too, to read only the
    source's newest rows."""
    return (
        Attribution.objects.filter(value__gt=0)
        .exclude(in_a_span())
        .exclude(quality=Quality.REJECTED)
    )


def _issuable():
    """Processed, plausible generation in no REC yet: what issuance cuts (a quarantined
    hour waits for an operator's decision; a rejected one is never cut)."""
    return _open().filter(
        Q(quality__isnull=True) | Q(quality=Quality.RELEASED), state=State.PROCESSED
    )


def sources_due() -> list[int]:
    """Sources with processed generation waiting for a REC."""
    # Per source, a range scan of its (source, seq) index from where issuance stands
    # (from its first row for a source never cut).
    settled = Issuance.objects.filter(source=OuterRef("source_id")).values("seq_from")
    waiting = _issuable().filter(
        source=OuterRef("pk"), seq__gte=Coalesce(Subquery(settled), Value(1))
    )
    return list(Source.objects.filter(Exists(waiting)).order_by("pk").values_list("pk", flat=True))


def rec_issue(*, source_id: int) -> int:
    """Issue every whole REC of one source; the number issued."""
    return recs_issue(source_ids=[source_id])


def recs_issue(*, source_ids: Sequence[int]) -> int:
    """Issue every whole REC of these sources in one transaction; the number issued.

    Issuance's own row of each source is locked (in id order) for the whole cut,
    so two workers issuing the same source at once issue its RECs once: the
    second sees the spans the first wrote. The source rows, which ingestion and the
    hourly step lock, are locked only at the end, by the daily refresh.
    """
    return _issue(source_ids, sql=connection.vendor == "postgresql")


def _issue(source_ids: Sequence[int], *, sql: bool) -> int:
    """``recs_issue`` with the set-based body (``sql``, PostgreSQL only) or the plain
    Python one, which runs anywhere: a test runs both on the same rows."""
    with transaction.atomic():
        known = Source.objects.filter(pk__in=source_ids).order_by("pk").values_list("pk", flat=True)
        Issuance.objects.bulk_create(
            [Issuance(source_id=pk) for pk in known], ignore_conflicts=True
        )
        ids = list(
            Issuance.objects.select_for_update()
            .filter(source_id__in=source_ids)
            .order_by("source_id")
            .values_list("source_id", flat=True)
        )
        if not ids:
            return 0
        counted = Issuance.objects.filter(source_id__in=ids).values_list("source_id", "rec_count")
        before = dict(counted)
        issued, joined = (_cut_in_sql if sql else _cut_in_python)(ids)
        if issued:
            after = {pk: n for pk, n in counted.all() if n > before[pk]}
            customers = dict(Source.objects.filter(pk__in=after).values_list("pk", "customer_id"))
            holdings_issued(
                [(pk, customers[pk], before[pk] + 1, n) for pk, n in sorted(after.items())]
            )
        attributions_certified(joined)
    return issued


def recs_issue_all() -> int:
    """Issue every due source, ``BATCH`` sources a transaction; the RECs issued."""
    due = sources_due()
    return sum(recs_issue(source_ids=due[i : i + BATCH]) for i in range(0, len(due), BATCH))


def _locked_customers(customer_ids) -> dict[int, int]:
    """Lock the numbering rows (customer id order) of the customers whose RECs are
    numbered now; their REC counts."""
    # In id order, as the locks below: two issuers creating the same customers' rows
    # wait on each other in one order, never in a circle.
    Numbering.objects.bulk_create(
        [Numbering(customer_id=pk) for pk in sorted(customer_ids)], ignore_conflicts=True
    )
    rows = (
        Numbering.objects.select_for_update()
        .filter(customer_id__in=customer_ids)
        .order_by("customer_id")
        .values_list("customer_id", "rec_count")
    )
    return dict(rows)


# ``_issuable()`` of a row ``a`` of the cut, ``t`` the span holding it if any.
ISSUABLE = (
    "(a.state = 'Processed' AND t.source_id IS NULL"
    " AND (a.quality IS NULL OR a.quality = 'released'))"
)
# The statements of one set-based cut, in order. Temporary tables hold each
# step's rows so the next statements join them; they are dropped at the end.
_CUT = [
    # Each statement is one pass over known rows: compiling it (JIT) costs more
    # than it saves, a quarter of a second a statement on a million rows.
    "SET LOCAL jit = off",
    # The sorts and hashes of a batch's rows (a quarter of a million) fit in memory
    # rather than spilling to disk; a batch is one transaction of one worker.
    "SET LOCAL work_mem = '64MB'",
    # issue_taken: the spans past where each locked source stands: RECs cut while
    # an earlier hour of the source was not yet Processed (rare, and few).
    """
    CREATE TEMP TABLE issue_taken ON COMMIT DROP AS
    SELECT sp.source_id, sp.seq_first, sp.seq_last
    FROM recs_issuance s JOIN recs_span sp
         ON sp.source_id = s.source_id AND sp.seq_last >= s.seq_from
    WHERE s.source_id = ANY(%(ids)s)
    """,
    # issue_cut: the positive rows of the locked sources from each source's
    # ``seq_from`` on, whether each is ``closed`` (in a REC already, or rejected)
    # or ``issuable`` (``_issuable()`` spelled in SQL), and
    # ``breaks``, how many of the source's rows up to it are not issuable. Each
    # issuable one gets ``upto``, the source's issuable energy up to and including
    # it counted from the carried remainder, so that it lies in REC ``first_rec``
    # (0-based) and reaches REC ``last_rec``; ``first_rec < n`` (the source's whole
    # RECs) means it goes into one now. Both sums are one pass of one window.
    f"""
    CREATE TEMP TABLE issue_cut ON COMMIT DROP AS
    SELECT w.*, (w.upto - w.value) / {REC_VALUE} AS first_rec, w.upto / {REC_VALUE} AS last_rec
    FROM (
        SELECT a.id, a.source_id, a.seq, a.effective_time, a.value,
               t.source_id IS NOT NULL OR a.quality IS NOT DISTINCT FROM 'rejected' AS closed,
               {ISSUABLE} AS issuable,
               count(*) FILTER (WHERE NOT {ISSUABLE}) OVER w AS breaks,
               (s.carry + sum(a.value) FILTER (WHERE {ISSUABLE}) OVER w)::bigint AS upto
        FROM recs_issuance s JOIN energy_attribution a
             ON a.source_id = s.source_id AND a.seq >= s.seq_from
        LEFT JOIN issue_taken t
             ON t.source_id = a.source_id AND a.seq BETWEEN t.seq_first AND t.seq_last
        WHERE s.source_id = ANY(%(ids)s) AND a.value > 0
        WINDOW w AS (PARTITION BY a.source_id ORDER BY a.seq)
    ) AS w
    """,
    # Temporary tables get no statistics unless asked; the joins below need them.
    "ANALYZE issue_cut",
    # issue_due: the sources with at least one whole REC, and how many.
    f"""
    CREATE TEMP TABLE issue_due ON COMMIT DROP AS
    SELECT c.source_id, s.customer_id, max(c.upto) / {REC_VALUE} AS n
    FROM issue_cut c JOIN energy_source s ON s.id = c.source_id
    WHERE c.issuable
    GROUP BY c.source_id, s.customer_id
    HAVING max(c.upto) >= {REC_VALUE}
    """,
]
# issue_rec: REC ``k`` of each source, numbered after its customer's last REC
# in source order; ids drawn up front so the other tables can point at them.
_RECS = [
    """
    CREATE TEMP TABLE issue_rec ON COMMIT DROP AS
    SELECT nextval(pg_get_serial_sequence('recs_rec', 'id')) AS id, r.*
    FROM (
        SELECT d.customer_id, d.source_id, k, c.rec_count + d.before + k + 1 AS seq,
               i.rec_count + k + 1 AS serial
        FROM (SELECT *, (sum(n) OVER (PARTITION BY customer_id ORDER BY source_id) - n)::bigint
                        AS before
              FROM issue_due) AS d
        JOIN recs_numbering c ON c.customer_id = d.customer_id
        JOIN recs_issuance i ON i.source_id = d.source_id
        CROSS JOIN LATERAL generate_series(0, d.n - 1) AS k
        ORDER BY d.customer_id, seq
    ) AS r
    """,
    # issue_hours: the first and last hour of REC ``k``'s energy: the hours of the rows
    # that reach into it (a row's mWh run from ``upto - value`` to ``upto``) and, for
    # REC 0, that of the carried remainder.
    f"""
    CREATE TEMP TABLE issue_hours ON COMMIT DROP AS
    SELECT h.source_id, h.k, min(h.at) AS first_hour, max(h.at) AS last_hour
    FROM (
        SELECT c.source_id, k, c.effective_time AS at
        FROM issue_cut c JOIN issue_due d ON d.source_id = c.source_id
        CROSS JOIN LATERAL generate_series(c.first_rec, least((c.upto - 1) / {REC_VALUE}, d.n - 1))
             AS k
        WHERE c.issuable AND c.first_rec < d.n
        UNION ALL
        SELECT s.source_id, 0, a.effective_time
        FROM issue_due d JOIN recs_issuance s ON s.source_id = d.source_id
        JOIN energy_attribution a ON a.id = s.carry_from_id
        WHERE s.carry > 0
    ) AS h
    GROUP BY h.source_id, h.k
    """,
    f"""
    INSERT INTO recs_rec (id, customer_id, source_id, seq, serial, value, state,
                          production_start, production_end, created, modified)
    SELECT r.id, r.customer_id, r.source_id, r.seq, r.serial, {REC_VALUE}, 'New',
           h.first_hour, h.last_hour, %(now)s, %(now)s
    FROM issue_rec r JOIN issue_hours h ON h.source_id = r.source_id AND h.k = r.k
    ORDER BY r.id
    """,
    """
    UPDATE recs_issuance i SET rec_count = i.rec_count + d.n
    FROM issue_due d WHERE i.source_id = d.source_id
    """,
    """
    UPDATE recs_numbering c SET rec_count = c.rec_count + t.n
    FROM (SELECT customer_id, sum(n) AS n FROM issue_due GROUP BY customer_id) AS t
    WHERE c.customer_id = t.customer_id
    """,
]
_MEMBERS = [
    # The remainders opening REC ``k``: the carried one opens REC 0; a transaction
    # reaching past its first REC opens each following one it reaches, with what
    # is left of it there.
    f"""
    INSERT INTO recs_remainder (rec_id, source_id, split_from_id, effective_time, value,
                                remainder, external_id, created)
    SELECT r.id, o.source_id, o.split_from, o.effective_time, o.value, o.remainder,
           o.source_id || '-r' || r.seq, %(now)s
    FROM (
        SELECT s.source_id, 0::bigint AS k, s.carry AS value, 0::bigint AS remainder,
               s.carry_from_id AS split_from, a.effective_time
        FROM issue_due d JOIN recs_issuance s ON s.source_id = d.source_id
        JOIN energy_attribution a ON a.id = s.carry_from_id
        WHERE s.carry > 0
        UNION ALL
        SELECT c.source_id, r, c.upto - {REC_VALUE} * r,
               greatest(c.upto - {REC_VALUE} * (r + 1), 0), c.id, c.effective_time
        FROM issue_cut c JOIN issue_due d ON d.source_id = c.source_id
        CROSS JOIN LATERAL generate_series(c.first_rec + 1, least(c.last_rec, d.n - 1)) AS r
        WHERE c.issuable AND c.last_rec > c.first_rec AND c.first_rec < d.n
              AND c.upto > {REC_VALUE} * r
    ) AS o JOIN issue_rec r ON r.source_id = o.source_id AND r.k = o.k
    ORDER BY r.id
    """,
    # The transactions of REC ``k`` as runs of the sequence: its rows with as many
    # rows not issuable before them (``breaks``) have none between them, and form
    # one span; a row not Processed or taken between two of them splits it. The
    # one that crosses into the next REC keeps what its REC did not use. One
    # statement: the database checks the spans statement by statement.
    f"""
    INSERT INTO recs_span (rec_id, source_id, seq_first, seq_last, remainder, created)
    SELECT r.id, c.source_id, min(c.seq), max(c.seq),
           sum(CASE WHEN c.last_rec > c.first_rec
                    THEN c.upto - {REC_VALUE} * (c.first_rec + 1) ELSE 0 END)::bigint,
           %(now)s
    FROM issue_cut c JOIN issue_due d ON d.source_id = c.source_id
    JOIN issue_rec r ON r.source_id = c.source_id AND r.k = c.first_rec
    WHERE c.issuable AND c.first_rec < d.n
    GROUP BY r.id, c.source_id, c.breaks
    """,
    # The new carry: what is left, past the last whole REC, of the transaction
    # that reached it.
    f"""
    UPDATE recs_issuance s
    SET carry = x.carry,
        carry_from_id = CASE WHEN x.carry > 0 THEN x.id END
    FROM (SELECT c.source_id, c.id, c.upto - {REC_VALUE} * d.n AS carry
          FROM issue_cut c JOIN issue_due d ON d.source_id = c.source_id
          WHERE c.issuable AND c.first_rec < d.n AND c.last_rec >= d.n) AS x
    WHERE s.source_id = x.source_id
    """,
]
# What each REC took of each day of its source: energy's daily rows move by it.
_JOINED = """
    SELECT c.source_id, (c.effective_time AT TIME ZONE 'UTC')::date, r.id, count(*),
           sum(c.value)::bigint
    FROM issue_cut c JOIN issue_due d ON d.source_id = c.source_id
    JOIN issue_rec r ON r.source_id = c.source_id AND r.k = c.first_rec
    WHERE c.issuable AND c.first_rec < d.n
    GROUP BY 1, 2, 3
"""
# Each source's rows are settled up to its first positive transaction still in no
# REC (not yet Processed, or waiting for a REC to fill), or to its last one.
_SETTLED = """
    UPDATE recs_issuance s SET seq_from = coalesce(x.seq, e.attribution_count + 1)
    FROM unnest(%(ids)s::bigint[]) AS u(id) JOIN energy_source e ON e.id = u.id LEFT JOIN (
        SELECT c.source_id, min(c.seq) AS seq
        FROM issue_cut c LEFT JOIN issue_due d ON d.source_id = c.source_id
        WHERE NOT c.closed AND (NOT c.issuable OR d.n IS NULL OR c.first_rec >= d.n)
        GROUP BY c.source_id
    ) AS x ON x.source_id = u.id
    WHERE s.source_id = u.id AND s.seq_from <> coalesce(x.seq, e.attribution_count + 1)
"""


# (source, day) -> (rec_id, number, value mWh) of the rows each new REC took.
Joined = dict[tuple[int, dt.date], list[tuple[int, int, int]]]


def _cut_in_sql(ids: list[int]) -> tuple[int, Joined]:
    params = {"ids": ids, "now": timezone.now()}
    joined: Joined = defaultdict(list)
    issued = 0
    with connection.cursor() as cursor:
        for statement in _CUT:
            cursor.execute(statement, params)
        cursor.execute("SELECT customer_id FROM issue_due")
        if customers := {row[0] for row in cursor.fetchall()}:
            _locked_customers(customers)
            for statement in _RECS + _MEMBERS:
                cursor.execute(statement, params)
            cursor.execute("SELECT count(*) FROM issue_rec")
            issued = cursor.fetchone()[0]
            cursor.execute(_JOINED)
            for source_id, day, rec_id, number, value in cursor.fetchall():
                joined[source_id, day].append((rec_id, number, value))
            cursor.execute("DROP TABLE issue_rec, issue_hours")
        cursor.execute(_SETTLED, params)
        cursor.execute("DROP TABLE issue_taken, issue_cut, issue_due")
    return issued, joined


def _cut_in_python(ids: list[int]) -> tuple[int, Joined]:
    states = list(Issuance.objects.filter(source_id__in=ids).select_related("source"))
    states.sort(key=lambda state: state.source_id)
    plans = []
    for state in states:
        rows = _rows_from(state)
        issuable = [row for row in rows if row.issuable]
        plan = cut_recs(state.carry, state.carry_from_id, [(r.id, r.value) for r in issuable])
        if plan.recs:  # the carry only moves when a REC is completed
            plans.append((state, plan, {row.id: row for row in rows}))
    if not plans:
        _settle_in_python(states)
        return 0, {}
    rec_count = _locked_customers({state.source.customer_id for state, _, _ in plans})
    spans, openers = [], []
    took: dict[tuple[int, dt.date, int], list[int]] = defaultdict(lambda: [0, 0])
    issued = 0
    for state, plan, rows in plans:
        source = state.source
        first = rec_count[source.customer_id] + 1
        rec_count[source.customer_id] += len(plan.recs)
        recs = Rec.objects.bulk_create(
            Rec(
                customer_id=source.customer_id,
                source=source,
                seq=first + i,
                serial=state.rec_count + i + 1,
                production_start=min(hours),
                production_end=max(hours),
            )
            for i, hours in enumerate(_hours(cut, rows) for cut in plan.recs)
        )
        issued += len(recs)
        for rec, cut in zip(recs, plan.recs, strict=True):
            for run in _runs([(rows[pk], remainder) for pk, remainder in cut.members]):
                spans.append(
                    Span(
                        rec=rec,
                        source=source,
                        seq_first=run[0][0].seq,
                        seq_last=run[-1][0].seq,
                        remainder=run[-1][1],
                    )
                )
            for pk, _ in cut.members:
                counts = took[source.pk, rows[pk].effective_time.date(), rec.pk]
                counts[0] += 1
                counts[1] += rows[pk].value
            if (o := cut.opener) is not None:
                openers.append(
                    Remainder(
                        rec=rec,
                        source=source,
                        split_from_id=o.split_from,
                        effective_time=_split_hour(o.split_from, rows),
                        value=o.value,
                        remainder=o.remainder,
                        external_id=f"{source.pk}-r{rec.seq}",
                    )
                )
        Issuance.objects.filter(pk=state.pk).update(
            carry=plan.carry,
            carry_from_id=plan.carry_from,
            rec_count=state.rec_count + len(plan.recs),
        )
    for customer_id, count in rec_count.items():
        Numbering.objects.filter(pk=customer_id).update(rec_count=count)
    Remainder.objects.bulk_create(openers)
    Span.objects.bulk_create(spans)
    _settle_in_python(states)
    joined: Joined = defaultdict(list)
    for (source_id, day, rec_id), (number, value) in sorted(took.items()):
        joined[source_id, day].append((rec_id, number, value))
    return issued, joined


def _split_hour(split_from: int, rows: dict[int, "_Row"]) -> dt.datetime:
    """The hour of the transaction a remainder is split from (carried from an earlier
    cut when it is not among this cut's rows)."""
    if (split := rows.get(split_from)) is not None:
        return split.effective_time
    return Attribution.objects.get(pk=split_from).effective_time


def _hours(cut, rows: dict[int, "_Row"]) -> list[dt.datetime]:
    """The hours of a planned REC's energy: its members' and its opener's."""
    hours = [rows[pk].effective_time for pk, _ in cut.members]
    if cut.opener is not None:
        hours.append(_split_hour(cut.opener.split_from, rows))
    return hours


@dataclass(frozen=True)
class _Row:
    id: int
    seq: int
    pos: int  # place among the source's positive rows from where issuance stands
    value: int
    effective_time: dt.datetime
    issuable: bool


def _rows_from(state: Issuance) -> list[_Row]:
    """The source's positive rows from its ``seq_from`` on, in seq order."""
    taken = list(
        Span.objects.filter(source_id=state.source_id, seq_last__gte=state.seq_from).values_list(
            "seq_first", "seq_last"
        )
    )
    rows = (
        Attribution.objects.filter(source_id=state.source_id, seq__gte=state.seq_from, value__gt=0)
        .order_by("seq")
        .values_list("id", "seq", "value", "effective_time", "state", "quality")
    )
    return [
        _Row(
            pk,
            seq,
            pos,
            value,
            when,
            row_state == State.PROCESSED
            and quality in (None, Quality.RELEASED)
            and not any(lo <= seq <= hi for lo, hi in taken),
        )
        for pos, (pk, seq, value, when, row_state, quality) in enumerate(rows)
    ]


def _runs(members: list[tuple[_Row, int]]) -> list[list[tuple[_Row, int]]]:
    """A REC's (row, remainder) as runs of consecutive positive rows: what its spans hold."""
    runs: list[list[tuple[_Row, int]]] = []
    for member in members:
        if runs and runs[-1][-1][0].pos + 1 == member[0].pos:
            runs[-1].append(member)
        else:
            runs.append([member])
    return runs


def _settle_in_python(states: list[Issuance]) -> None:
    """Move each source's ``seq_from`` to its first positive row in no REC."""
    for state in states:
        first = (
            _open()
            .filter(source_id=state.source_id, seq__gte=state.seq_from)
            .aggregate(seq=Min("seq"))["seq"]
        )
        settled = first or state.source.attribution_count + 1
        if settled != state.seq_from:
            Issuance.objects.filter(pk=state.pk).update(seq_from=settled)
