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

from common import fresh_django, load_meters


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=1000)
    args = parser.parse_args()

    fresh_django()
    from energy.models import Attribution
    from recs.models import Rec
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
    t0 = time.perf_counter()
    issued = recs_issue_all()
    issue = time.perf_counter() - t0
    assert issued == Rec.objects.count()
    openers = Attribution.objects.filter(kind="remainder").count()

    print()
    print(f"{'step':<58} {'seconds':>8}")
    print("-" * 68)
    print(f"{'bare window scan: sum(value) over (partition by source ...)':<58} {scan:>8.2f}")
    label = f"issuance: {issued:,} RECs, {openers:,} remainder transactions"
    print(f"{label:<58} {issue:>8.2f}")
    print("-" * 68)
    print(f"issuance / scan = {issue / scan:.1f}x (target: within 3x)")


if __name__ == "__main__":
    main()
