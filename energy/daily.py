"""The daily rows of /daily and the source counters, kept up to date as attributions change.

``energy.transitions``, which makes every change of attributions (appended,
sent, confirmed, joined a REC), calls ``daily_refresh`` with the days it
touched, or ``daily_shift`` with what moved on each day, inside the change's
transaction. Only those days are aggregated again from the attributions, or
shifted by the counts that moved; the daily rows after them are only
renumbered, and only when the touched days now hold more rows or fewer, so the
cost follows the change, not the history.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import connection, transaction

from core.sql import among, insert_rows, update_by_id
from energy import certificates
from energy.models import DailyAggregate, Source, State

_CHUNK = 2000
_RANK = {State.NEW: 0, State.PENDING: 1, State.PROCESSED: 2}
_DAY = dt.timedelta(days=1)


def _listing_key(row: tuple) -> tuple:
    """The order of /daily: newest day first; New, Pending, Processed; unlinked, then by REC."""
    day, state, rec_id = row[0], row[1], row[2]
    return (-day.toordinal(), _RANK[state], rec_id or 0)


def _count(counters: dict, state: str, rec_id: int | None, number: int, value: int) -> None:
    """Add one daily row to a source's counters (subtract with negative number and value)."""
    bucket = "new"
    if rec_id is not None:
        bucket = "rec"
    elif state == State.PROCESSED:
        bucket = "without_rec"
    counters[f"{bucket}_number"] += number
    counters[f"{bucket}_sum"] += value
    counters["attribution_count"] += number


def _days_cte(rows: list[tuple]) -> tuple[str, list]:
    """``t(source_id, day[, until])``: (source, day[, until day]) rows as a table."""
    names = ["source_id", "day", "until"][: len(rows[0])]
    if connection.vendor == "postgresql":
        arrays = ", ".join(["%s::bigint[]"] + ["%s::date[]"] * (len(names) - 1))
        return (
            f"t({', '.join(names)}) AS (SELECT * FROM unnest({arrays}))",
            [list(column) for column in zip(*rows, strict=True)],
        )
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(rows))
    return f"t({', '.join(names)}) AS (VALUES {values})", [
        v.isoformat() if isinstance(v, dt.date) else v for row in rows for v in row
    ]


# The rows of each source from a day to a day, both included. On PostgreSQL a range of
# each of the two (source, day, ...) indexes per source: as a join, the planner hashed
# the chunk's sources and scanned every daily row of the ledger for each chunk (4.6 s
# of an issuance at 10M attributions, 0.06 s at 1M).
_BETWEEN = {
    "postgresql": """
        CROSS JOIN LATERAL (
            SELECT * FROM energy_dailyaggregate d WHERE d.source_id = t.source_id
                AND d.day BETWEEN t.day AND t.until AND d.rec_id IS NULL
            UNION ALL
            SELECT * FROM energy_dailyaggregate d WHERE d.source_id = t.source_id
                AND d.day BETWEEN t.day AND t.until AND d.rec_id IS NOT NULL
        ) AS d
    """,
    "sqlite": """
        JOIN energy_dailyaggregate d
        ON d.source_id = t.source_id AND d.day BETWEEN t.day AND t.until
    """,
}


def _rows_between(days: dict[int, tuple[dt.date, dt.date]]) -> list[tuple]:
    """(id, source_id, day, state, rec_id, number, value, seq) of each source's days
    from one to another, both included."""
    if not days:
        return []
    cte, params = _days_cte([(sid, lo, hi) for sid, (lo, hi) in sorted(days.items())])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH {cte}
            SELECT d.id, d.source_id, d.day, d.state, d.rec_id, d.number, d.value, d.seq
            FROM t {_BETWEEN[connection.vendor]}
            """,
            params,
        )
        rows = cursor.fetchall()
    if rows and isinstance(rows[0][2], str):  # SQLite
        rows = [(r[0], r[1], dt.date.fromisoformat(r[2]), *r[3:]) for r in rows]
    return rows


def _delete(ids: list[int]) -> None:
    """Delete the daily rows ``ids``. On PostgreSQL each by its primary key: an ``IN``
    list of a chunk's hundred thousand ids was planned as a scan of the whole table
    (4.5 s of an issuance at 10M attributions, 0.17 s at 1M)."""
    if connection.vendor != "postgresql":
        for query in among(DailyAggregate.objects.all(), ids):
            query._raw_delete(DailyAggregate.objects.db)
        return
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM energy_dailyaggregate d USING unnest(%s::bigint[]) AS v(id)"
                " WHERE d.id = v.id",
                [ids],
            )


def _day_range(alias: str) -> str:
    """SQL: the attribution ``a`` falls on the day ``alias``.day (UTC)."""
    if connection.vendor == "postgresql":
        return (
            f"a.effective_time >= {alias}.day::timestamp AT TIME ZONE 'UTC'"
            f" AND a.effective_time < ({alias}.day + 1)::timestamp AT TIME ZONE 'UTC'"
        )
    return f"a.effective_time >= {alias}.day AND a.effective_time < date({alias}.day, '+1 day')"


def _aggregate(pairs: list[tuple[int, dt.date]]) -> dict[int, list[tuple]]:
    """Fresh (day, state, rec_id, number, value) rows of the touched days, per source."""
    cte, params = _days_cte(pairs)
    if connection.vendor == "postgresql":
        # Per touched day, a range scan of the (source, effective_time) index: a
        # plain join may hash on the source and filter all its rows for each day.
        # The REC of each row from the few spans that meet the day's rows, looked
        # up once a day rather than once a row.
        spans = certificates.spans_sql("t.source_id", "b.low", "b.high")
        sql = f"""
            WITH {cte}
            SELECT t.source_id, t.day, g.state, g.rec_id, g.number, g.value
            FROM t CROSS JOIN LATERAL (
                SELECT min(a.seq) AS low, max(a.seq) AS high FROM energy_attribution a
                WHERE a.source_id = t.source_id AND {_day_range("t")}
            ) AS b CROSS JOIN LATERAL (
                SELECT a.state, sp.rec_id, COUNT(*) AS number, SUM(a.value)::bigint AS value
                FROM energy_attribution a LEFT JOIN ({spans}) AS sp
                     ON a.value > 0 AND a.seq BETWEEN sp.seq_first AND sp.seq_last
                WHERE a.source_id = t.source_id AND {_day_range("t")}
                GROUP BY 1, 2
            ) AS g
        """
    else:  # SQLite joins by nested loops over the index anyway
        rec_id = certificates.rec_id_sql("a")
        sql = f"""
            WITH {cte}
            SELECT t.source_id, t.day, a.state, {rec_id} AS rec_id, COUNT(*), SUM(a.value)
            FROM t JOIN energy_attribution a ON a.source_id = t.source_id AND {_day_range("t")}
            GROUP BY 1, 2, 3, 4
        """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fresh: dict[int, list[tuple]] = defaultdict(list)
        for source_id, day, state, rec_id, number, value in cursor.fetchall():
            if isinstance(day, str):  # SQLite
                day = dt.date.fromisoformat(day)
            fresh[source_id].append((day, state, rec_id, number, value))
    return fresh


# A daily row of a day, by what sets it apart: (state, rec_id).
Key = tuple[str, int | None]
# (source, day) -> moves of its attributions from one daily row to another:
# (from, to, number, value mWh).
Moves = Mapping[tuple[int, dt.date], list[tuple[Key, Key, int, int]]]


def daily_refresh(days: Mapping[int, Iterable[dt.date]]) -> None:
    """Rebuild the daily rows of the given (source -> days) from the attributions,
    renumber, move the counters."""
    _refresh(days, {})


def daily_shift(moved: Moves) -> None:
    """Shift the daily rows of the days in ``moved`` by what moved between them (a
    state to the next, or into a REC) instead of aggregating the days again: anchoring
    moves whole blocks of 10,000 rows and issuance cuts whole days into RECs, and
    both know how many rows of each day went where. A day whose rows do not hold what
    a move takes away is aggregated again."""
    days: dict[int, set[dt.date]] = defaultdict(set)
    for sid, day in moved:
        days[sid].add(day)
    _refresh(days, moved)


def _refresh(days: Mapping[int, Iterable[dt.date]], moved: Moves) -> None:
    touched = {sid: set(ds) for sid, ds in days.items()}
    touched = {sid: ds for sid, ds in touched.items() if ds}
    ids = sorted(touched)
    with transaction.atomic():
        for start in range(0, len(ids), _CHUNK):
            _refresh_chunk({sid: touched[sid] for sid in ids[start : start + _CHUNK]}, moved)


def _shifted(before: list[tuple], moves: list[tuple] | None) -> list[tuple] | None:
    """A day's (day, state, rec_id, number, value) rows after ``moves`` of its rows
    from one daily row to another, or None where a move takes more than a row holds."""
    if moves is None or not before:
        return None
    day = before[0][0]
    rows = {(state, rec_id): [number, value] for _, state, rec_id, number, value in before}
    for origin, target, number, value in moves:
        have = rows.get(origin)
        if have is None or have[0] < number:
            return None
        have[0] -= number
        have[1] -= value
        got = rows.setdefault(target, [0, 0])
        got[0] += number
        got[1] += value
    return [(day, state, rec, n, v) for (state, rec), (n, v) in rows.items() if n]


def _refresh_chunk(touched: dict[int, set[dt.date]], moved: Moves) -> None:
    counters = [*Source.COUNTERS, "attribution_count"]
    sources = {
        row["pk"]: row
        for row in Source.objects.select_for_update()
        .filter(pk__in=touched)
        .order_by("pk")
        .values("pk", "daily_count", *counters)
    }
    # Rows from each source's first touched day to its last are rebuilt (touched days)
    # or renumbered (the days between); the rows before keep their 1..base, and those
    # after keep their place too unless the days before them now hold more rows or
    # fewer. Anchoring a backlog (each block an hour of every source) then reads a few
    # days of each source, not its whole history after the block.
    base = {sid: row["daily_count"] for sid, row in sources.items()}
    kept: dict[int, list[tuple]] = defaultdict(list)
    before: dict[tuple[int, dt.date], list[tuple]] = defaultdict(list)
    stale: dict[int, tuple] = {}
    read: dict[int, int] = defaultdict(int)

    def take(rows: list[tuple]) -> None:
        for pk, sid, day, state, rec_id, number, value, seq in rows:
            base[sid] = min(base[sid], seq - 1)
            stale[pk] = (sid, seq, day, state, rec_id, number, value)
            read[sid] += 1
            if day in touched[sid]:
                _count(sources[sid], state, rec_id, -number, -value)
                before[sid, day].append((day, state, rec_id, number, value))
            else:
                kept[sid].append((day, state, rec_id, number, value))

    take(_rows_between({sid: (min(ds), max(ds)) for sid, ds in touched.items()}))
    fresh: dict[int, list[tuple]] = defaultdict(list)
    again = []
    for sid, ds in touched.items():
        for day in sorted(ds):
            rows = _shifted(before.get((sid, day), []), moved.get((sid, day)))
            if rows is None:
                again.append((sid, day))
            else:
                fresh[sid] += rows
    for sid, rows in (_aggregate(again) if again else {}).items():
        fresh[sid] += rows
    grown = [sid for sid in touched if len(kept[sid]) + len(fresh[sid]) != read[sid]]
    take(_rows_between({sid: (max(touched[sid]) + _DAY, dt.date.max) for sid in grown}))

    new_rows = []
    for sid in touched:
        for _, state, rec_id, number, value in fresh.get(sid, []):
            _count(sources[sid], state, rec_id, number, value)
        rows = sorted(kept[sid] + fresh.get(sid, []), key=_listing_key, reverse=True)
        new_rows += [(sid, base[sid] + i, *row) for i, row in enumerate(rows, start=1)]
        sources[sid]["daily_count"] += len(rows) - read[sid]
    # A row already there as it should be stays: the rows of the days between the
    # touched ones keep their place when the days before them keep their number of
    # rows, and a touched day's row may come out as it was.
    unchanged = set(stale.values()).intersection(new_rows)
    _delete([pk for pk, row in stale.items() if row not in unchanged])
    insert_rows(
        "energy_dailyaggregate",
        ["source_id", "seq", "day", "state", "rec_id", "number", "value"],
        [row for row in new_rows if row not in unchanged],
    )
    columns = {name: "bigint" for name in [*counters, "daily_count"]}
    update_by_id(
        "energy_source",
        columns,
        [(sid, *(row[c] for c in columns)) for sid, row in sources.items()],
    )
