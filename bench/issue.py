"""Issuance benchmark: 1,000 sources x 1,000 Processed hourly attributions into RECs.

Prints the issuance time, the time of the bare window scan
``sum(value) over (partition by source order by effective_time, id)`` on the
same rows, and their ratio (target: issuance within 3x of the scan).

    make bench
    python bench/issue.py --sources 100
"""

import argparse
import random
import time

from common import fresh_django, load_meters, wal


def window_scan() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            # max() reads every running sum: under a bare count(*) PostgreSQL
            # would drop the window function and only count rows.
            "SELECT max(s) FROM (SELECT sum(value) OVER (PARTITION BY source_id"
            " ORDER BY effective_time, id) AS s FROM energy_attribution) AS w"
        )
        cursor.fetchone()
    return time.perf_counter() - t0


def recs_written_alone() -> float:
    """Seconds to write as many REC rows as issuance wrote, and nothing else: a copy of
    them under new numbers, their customers and sources checked (by the statement
    triggers of core.ledger_guard.owned_by), then rolled back."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SELECT coalesce(max(seq), 0) FROM recs_rec")
        offset = cursor.fetchone()[0]
        t0 = time.perf_counter()
        cursor.execute(
            "INSERT INTO recs_rec (customer_id, source_id, seq, serial, value, state,"
            " production_start, production_end, created, modified)"
            " SELECT customer_id, source_id, seq + %s, serial + %s, value, 'New',"
            " production_start, production_end, now(), now() FROM recs_rec",
            [offset, offset],
        )
        elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=1000)
    args = parser.parse_args()

    fresh_django()
    from recs.models import Rec, Remainder, Span
    from recs.services import recs_issue_all

    t0 = time.perf_counter()
    rng = random.Random(7)
    # About 0.15 MWh an hour on average: some 150 RECs a source.
    load_meters(
        "bench-issue",
        args.sources,
        args.hours,
        lambda source_id, h: rng.choice([rng.randint(1, 200_000_000)] * 9 + [600_000_000]),
        processed=True,
    )
    print(f"loaded {args.sources * args.hours:,} Processed attributions in "
          f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    scan = min(window_scan() for _ in range(3))
    wal_before, _ = wal()
    t0 = time.perf_counter()
    issued = recs_issue_all()
    issue = time.perf_counter() - t0
    wal_after, _ = wal()
    assert issued == Rec.objects.count()
    openers = Remainder.objects.count()
    spans = Span.objects.count()
    recs_alone = recs_written_alone()

    print()
    print(f"{'step':<58} {'seconds':>8}")
    print("-" * 68)
    print(f"{'bare window scan: sum(value) over (partition by source ...)':<58} {scan:>8.2f}")
    label = f"issuance: {issued:,} RECs, {spans:,} spans, {openers:,} remainders"
    print(f"{label:<58} {issue:>8.2f}")
    print(f"{'writing its RECs alone, for scale (a copy, rolled back)':<58} {recs_alone:>8.2f}")
    print("-" * 68)
    print(f"issuance / scan = {issue / scan:.1f}x (target: within 3x);"
          f" its RECs alone / scan = {recs_alone / scan:.1f}x")  # fmt: skip
    # WAL, unlike time, does not depend on what else the machine runs: it says how
    # much issuance wrote, the same from one run to the next.
    print(f"issuance wrote {(wal_after - wal_before) / 2**20:,.0f} MiB of WAL"
          f" ({(wal_after - wal_before) / (args.sources * args.hours):,.0f} bytes per"
          " attribution)")  # fmt: skip


if __name__ == "__main__":
    main()
