"""Read-API benchmark: deep pages cost what the first page costs.

Loads 1,000,000 attributions for one device with COPY (older ones Processed
and in RECs, then Pending, then New), builds its daily rows, and times page 0
and the last page of /attributions/{deviceId} and /daily through the whole
Django stack (middleware, token authentication, serializers, renderer).

    make bench            # BENCH_DATABASE_URL, default postgresql://127.0.0.1:5432/cg_bench
    python bench/read_api.py --attributions 100000 --requests 50
"""

import argparse
import datetime as dt
import hashlib
import statistics
import time

from common import fresh_django


def load(count: int, per_rec: int) -> tuple[str, object]:
    """A customer with one device holding ``count`` hourly attributions."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.units import MWH
    from energy.daily import daily_refresh
    from energy.models import Customer, Source
    from energy.services import token_create
    from recs.models import Numbering

    customer = Customer.objects.create(name="bench")
    _, token = token_create(customer=customer)
    source = Source.objects.create(
        customer=customer,
        external_id="bench-meter",
        name="Bench meter",
        client_id="0x" + "ab" * 32,
        emission_factor="0.4",
    )
    start = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
    now = timezone.now()
    in_recs = count // 2 // per_rec * per_rec  # the oldest half, in whole RECs
    processed, pending = count * 8 // 10, count * 9 // 10
    value = MWH // per_rec  # per_rec transactions fill a REC exactly
    rec_total = in_recs // per_rec

    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(
            "COPY recs_rec (customer_id, source_id, seq, serial, value, state, state_changed,"
            " hash, height, production_start, production_end, created, modified) FROM STDIN"
        ) as copy:
            for seq in range(1, rec_total + 1):
                digest = hashlib.sha256(b"rec%d" % seq).hexdigest()
                hours = (start + dt.timedelta(hours=(seq - 1) * per_rec),
                         start + dt.timedelta(hours=seq * per_rec - 1))  # fmt: skip
                copy.write_row(
                    (customer.pk, source.pk, seq, seq, MWH, "Processed", now, digest, seq,
                     *hours, now, now)
                )  # fmt: skip
        Numbering.objects.create(customer=customer, rec_count=rec_total)
        cursor.execute("SELECT min(id) FROM recs_rec")
        first_rec = cursor.fetchone()[0]

        t0 = time.perf_counter()
        with cursor.copy(
            "COPY energy_attribution (source_id, seq, external_id, effective_time, value,"
            " state, state_changed, hash, height, block_id, carbon_offset, created, modified)"
            " FROM STDIN"
        ) as copy:
            for i in range(count):
                state = "Processed" if i < processed else "Pending" if i < pending else "New"
                digest = hashlib.sha256(b"%d" % i).hexdigest() if state != "New" else None
                copy.write_row(
                    (
                        source.pk,
                        i + 1,
                        f"tx-{i}",
                        start + dt.timedelta(hours=i),
                        value,
                        state,
                        now if digest else None,
                        digest,
                        1_000_000 + i // 10_000 if state == "Processed" else None,
                        digest if state == "Processed" else None,
                        value * 4 // 10,
                        now,
                        now,
                    )
                )
        cursor.execute(
            # Each REC one span of per_rec transactions, filled exactly.
            "INSERT INTO recs_span (rec_id, source_id, seq_first, seq_last, remainder, created)"
            " SELECT %s + k, %s, k * %s + 1, (k + 1) * %s, 0, %s"
            " FROM generate_series(0, %s / %s - 1) AS k",
            [first_rec, source.pk, per_rec, per_rec, now, in_recs, per_rec],
        )
        copy_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        daily_refresh(
            {source.pk: {(start + dt.timedelta(days=d)).date() for d in range(count // 24 + 1)}}
        )
        refresh_seconds = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE energy_attribution")
        cursor.execute("VACUUM ANALYZE energy_dailyaggregate")
    print(f"loaded {count:,} attributions with COPY in {copy_seconds:.1f} s; ", end="")
    print(f"daily rows built from all of them in {refresh_seconds:.1f} s")
    return token, Source.objects.get(pk=source.pk)


def median_ms(client, path: str, token: str, requests: int) -> float:
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:200]
        assert response.content.startswith(b"[{"), path
    return statistics.median(samples)


def offset_ms(source_id: int, offset: int, requests: int) -> float:
    """The naive way, for scale: ORDER BY ... OFFSET on the same table."""
    from django.db import connection

    samples = []
    with connection.cursor() as cursor:
        for _ in range(requests):
            t0 = time.perf_counter()
            cursor.execute(
                "SELECT id FROM energy_attribution WHERE source_id = %s"
                " ORDER BY effective_time DESC, id DESC OFFSET %s LIMIT 25",
                [source_id, offset],
            )
            cursor.fetchall()
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributions", type=int, default=1_000_000)
    parser.add_argument("--per-rec", type=int, default=20, help="transactions per REC")
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    args = parser.parse_args()

    fresh_django()
    from django.test import Client

    token, source = load(args.attributions, args.per_rec)
    client = Client()
    per_page = 25
    base = f"/api/v1/energy/attributions/{source.external_id}"
    last_attr = (source.attribution_count - 1) // per_page
    last_daily = (source.daily_count - 1) // per_page
    cases = [
        ("/attributions page 0", f"{base}?page=0&per_page={per_page}"),
        (f"/attributions page {last_attr} (last)", f"{base}?page={last_attr}&per_page={per_page}"),
        ("/daily page 0", f"{base}/daily?page=0&per_page={per_page}"),
        (f"/daily page {last_daily} (last)", f"{base}/daily?page={last_daily}&per_page={per_page}"),
    ]
    for _, path in cases:  # warm caches and connections
        median_ms(client, path, token, 5)
    results = {name: median_ms(client, path, token, args.requests) for name, path in cases}
    naive = offset_ms(source.pk, source.attribution_count - per_page, max(args.requests // 4, 5))

    names = [name for name, _ in cases]
    print()
    print(f"{'request (whole Django stack)':<40} {'median ms':>10} {'vs page 0':>10}")
    print("-" * 62)
    for first, last in [(names[0], names[1]), (names[2], names[3])]:
        print(f"{first:<40} {results[first]:>10.2f} {'':>10}")
        ratio = results[last] / results[first]
        print(f"{last:<40} {results[last]:>10.2f} {ratio:>9.2f}x")
    print("-" * 62)
    print(f"{'for scale: SQL OFFSET to the last page':<40} {naive:>10.2f}")
    print(
        f"\n{source.attribution_count:,} attributions, {source.daily_count:,} daily rows, "
        f"{args.requests} requests each; target: last page within 1.5x of page 0"
    )


if __name__ == "__main__":
    main()
