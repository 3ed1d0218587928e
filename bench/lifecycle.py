"""REC lifecycle benchmark: work follows bundles, not RECs; transfers keep a steady pace.

Issues 1,000 sources x 1,000 RECs (1M Processed hours written with COPY, then real
issuance) to one issuer, spreads them over 100 accounts with 10,000 random
transfers (most accepted, some rejected or recalled) and retirements, then times:

- retiring 10,000 RECs of one source in one request against retiring 1 (each
  request through the whole Django stack, rolled back after, median of runs);
- 1,000 sequential POST /transfers over HTTP to gunicorn: p50 and p99 latency;
- /holdings of an account with 10,000 bundles: the last page against page 0.

    make bench            # BENCH_DATABASE_URL, default postgresql://127.0.0.1:5432/cg_bench
    python bench/lifecycle.py --sources 100 --operations 1000   # a quick run
"""

import argparse
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from common import ROOT, fresh_django, load_meters

PERIOD = {"period_start": "2000-01-01", "period_end": "2099-12-31"}


def spread(issuer, accounts: list, operations: int, rng: random.Random) -> dict:
    """``operations`` random transfers and retirements from holders to others."""
    from rest_framework.exceptions import APIException

    from recs.models import Bundle
    from recs.retirements import retirement_create
    from recs.transfers import transfer_answer, transfer_create

    holders = [issuer]
    done = {"transfers": 0, "retirements": 0, "refused": 0}
    while done["transfers"] + done["retirements"] < operations:
        sender = rng.choice(holders)
        held = list(
            Bundle.objects.filter(account__customer=sender, status="active").values_list(
                "source_id", "quantity"
            )[:50]
        )
        if not held:  # it gave or retired all it had
            holders.remove(sender)
            continue
        source_id, quantity = rng.choice(held)  # at most what one bundle holds: few refusals
        try:
            if rng.random() < 0.8:
                receiver = rng.choice([a for a in accounts if a.pk != sender.pk])
                made = transfer_create(
                    customer=sender, to=receiver.account.code,
                    quantity=rng.randint(1, min(40, quantity)), source_id=source_id,
                )  # fmt: skip
                answer = rng.choices(["accept", "reject", "recall"], [8, 1, 1])[0]
                transfer_answer(
                    customer=sender if answer == "recall" else receiver, transfer=made,
                    answer=answer,
                )  # fmt: skip
                if answer == "accept" and receiver not in holders:
                    holders.append(receiver)
                done["transfers"] += 1
            else:
                retirement_create(
                    customer=sender, beneficiary="bench", country="US",
                    period_start=dt.date(2000, 1, 1), period_end=dt.date(2099, 12, 31),
                    quantity=rng.randint(1, min(5, quantity)), source_id=source_id,
                )  # fmt: skip
                done["retirements"] += 1
        except APIException:
            done["refused"] += 1
    return done


def timed_ms(run, repeats: int) -> list[float]:
    """Each run inside a transaction rolled back after it: the same state every time."""
    from django.db import transaction

    samples = []
    for _ in range(repeats):
        with transaction.atomic():
            t0 = time.perf_counter()
            run()
            samples.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)
    return samples


def retire_request(client, token: str, source_id: int, quantity: int):
    def run():
        response = client.post(
            "/api/v1/energy/retirements",
            json.dumps({"beneficiary": "bench", "country": "US", "quantity": quantity,
                        "source": str(source_id), **PERIOD}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY=f"bench-{time.perf_counter_ns()}",
        )  # fmt: skip
        assert response.status_code == 201, response.content[:300]
        assert response.json()["quantity"] == quantity

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def transfer_latencies(token: str, to: str, source_id: int, count: int) -> list[float]:
    """``count`` sequential POST /transfers to a gunicorn serving the bench database."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cg.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"],
        cwd=ROOT, env=os.environ | {"ALLOWED_HOSTS": "127.0.0.1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/energy/transfers"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        samples = []
        for i in range(count + 20):  # the first 20 warm the workers, and are not counted
            body = json.dumps({"to": to, "source": str(source_id), "quantity": 1}).encode()
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "Idempotency-Key": f"seq-{i}",
            })  # fmt: skip
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
                response.read()
            if i >= 20:
                samples.append((time.perf_counter() - t0) * 1000)
        return samples
    finally:
        server.terminate()
        server.wait(timeout=30)


def holdings_ms(client, token: str, page: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        response = client.get(
            f"/api/v1/energy/holdings?page={page}&per_page=25",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200 and len(response.json()) == 25
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--recs", type=int, default=1000, help="RECs per source")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    fresh_django()
    from django.test import Client

    from core.units import MWH
    from energy.models import Customer, Source
    from energy.services import customer_create, token_create
    from recs.accounts import account_open
    from recs.models import Bundle
    from recs.services import recs_issue_all
    from recs.transfers import transfer_answer, transfer_create

    t0 = time.perf_counter()
    load_meters("issuer", args.sources, args.recs, lambda source, hour: MWH, processed=True)
    # One source of 20,000 RECs for the big retirement, one for the 10,000-bundle holder.
    load_meters("big", 2, 20_000, lambda source, hour: MWH, processed=True)
    issued = recs_issue_all()
    issuer, big = Customer.objects.get(name="issuer"), Customer.objects.get(name="big")
    print(f"issued {issued:,} RECs in {time.perf_counter() - t0:.0f} s")
    accounts = [issuer] + [customer_create(name=f"holder-{i}")[0] for i in range(args.accounts - 1)]
    for customer in accounts:
        account_open(customer=customer)
    t0 = time.perf_counter()
    done = spread(issuer, accounts, args.operations, random.Random(7))
    print(f"{done} in {time.perf_counter() - t0:.0f} s; {Bundle.objects.count():,} bundles")

    client = Client()
    _, token = token_create(customer=big)
    retiring, scattering = Source.objects.filter(customer=big).order_by("pk")
    retire_one = timed_ms(retire_request(client, token, retiring.pk, 1), args.repeats)
    retire_many = timed_ms(retire_request(client, token, retiring.pk, 10_000), args.repeats)

    # An account of 10,000 bundles: every other REC of a source, sent and accepted.
    holder, holder_token = customer_create(name="collector")
    serials = [(scattering.pk, n) for n in range(1, 20_001, 2)]
    sent = transfer_create(customer=big, to=account_open(customer=holder).code, serials=serials)
    transfer_answer(customer=holder, transfer=sent, answer="accept")
    bundles = Bundle.objects.filter(account__customer=holder).count()
    last_page = (bundles - 1) // 25
    holdings_ms(client, holder_token, 0, 3)  # warm
    page0 = holdings_ms(client, holder_token, 0, args.repeats * 2)
    page_last = holdings_ms(client, holder_token, last_page, args.repeats * 2)

    to = account_open(customer=issuer).code
    latencies = sorted(transfer_latencies(token, to, retiring.pk, args.transfers))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    one, many = statistics.median(retire_one), statistics.median(retire_many)
    print()
    print(f"{'measure (whole Django stack)':<52} {'ms':>9} {'ratio':>8} {'target':>8}")
    print("-" * 80)
    print(f"{'POST /retirements, 1 REC (median)':<52} {one:>9.2f}")
    print(f"{'POST /retirements, 10,000 RECs of one source (median)':<52} {many:>9.2f} "
          f"{many / one:>7.2f}x {'<= 2x':>8}")  # fmt: skip
    print(f"{f'POST /transfers over HTTP, p50 of {len(latencies)}':<52} {p50:>9.2f}")
    print(f"{'POST /transfers over HTTP, p99':<52} {p99:>9.2f} {p99 / p50:>7.2f}x {'<= 5x':>8}")
    print(f"{f'/holdings of {bundles:,} bundles, page 0 (median)':<52} {page0:>9.2f}")
    print(f"{f'/holdings, page {last_page} (last)':<52} {page_last:>9.2f} "
          f"{page_last / page0:>7.2f}x {'<= 1.5x':>8}")  # fmt: skip
    print(
        f"\n{args.sources:,} sources x {args.recs:,} RECs over {args.accounts} accounts after "
        f"{args.operations:,} random transfers and retirements; {args.repeats} runs a median"
    )


if __name__ == "__main__":
    main()
