"""Ingestion benchmark: signed reports over HTTP into gunicorn, then readings to hours.

1,000 miners x 24 hourly reports of 12 samples, signed with real keys
beforehand, sent in batches of 100 reports to the server as production runs
it (gunicorn, sync workers). A miner's reports go in hour order: the ten
batches of an hour are sent in parallel, the next hour after them. Then the
hourly step turns the readings into attributions in the database.

    make bench
    python bench/ingest.py --miners 200 --hours 6
"""

import argparse
import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from common import ROOT, fresh_django


def sign_all(miners: int, hours: int, start: dt.datetime) -> list[list[bytes]]:
    """Request bodies per hour, each a batch of 100 signed reports."""
    from eth_keys import KeyAPI

    from energy.ingestion import pogg_sign

    keys = KeyAPI()
    identities = []
    for i in range(miners):
        key = (10_000 + i).to_bytes(32, "big")
        identities.append((key, keys.PrivateKey(key).public_key.to_checksum_address()))
    bodies = []
    for hour in range(hours):
        calls = []
        for n, (key, address) in enumerate(identities):
            base = start + dt.timedelta(hours=hour)
            energy0 = 1_000_000 * hour + n
            data_list = [
                f"01{int((base + dt.timedelta(minutes=5 * s)).timestamp()):010x}"
                f"{3_000_000:012x}{energy0 + 83_333 * s:016x}"
                for s in range(12)
            ]
            params = {
                "version": 1,
                "address": address,
                "dataList": data_list,
                "signature": pogg_sign(key, 1, address, data_list),
            }
            calls.append(
                {"jsonrpc": "2.0", "id": n, "method": "tx_reportMinerPoGG", "params": params}
            )
        bodies.append([json.dumps(calls[i : i + 100]).encode() for i in range(0, len(calls), 100)])
    return bodies, [address for _, address in identities]


def onboard(addresses: list[str]) -> None:
    import secrets

    from energy.models import Customer, Source

    customer = Customer.objects.create(name="bench-miners")
    Source.objects.bulk_create(
        Source(
            customer=customer,
            external_id=f"miner-{i}",
            name=f"Miner {i}",
            client_id="0x" + secrets.token_hex(32),
            miner_address=address.lower(),
        )
        for i, address in enumerate(addresses)
    )


def send(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/v1", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    answers = json.loads(response.read())
    conn.close()
    failed = [a for a in answers if "error" in a]
    if failed:
        raise SystemExit(f"{len(failed)} reports refused, e.g. {failed[0]}")
    return len(answers)


def wait_for(port: int, process: subprocess.Popen) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miners", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=4, help="parallel HTTP clients")
    args = parser.parse_args()

    fresh_django()
    from chain.anvil import free_port

    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start -= dt.timedelta(hours=args.hours + 1)
    t0 = time.perf_counter()
    bodies, addresses = sign_all(args.miners, args.hours, start)
    print(f"signed {args.miners * args.hours:,} reports in {time.perf_counter() - t0:.1f} s")
    onboard(addresses)
    from django.db import connection

    connection.close()

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "cg.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers),
            "--log-level", "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )  # fmt: skip
    try:
        wait_for(port, server)
        t0 = time.perf_counter()
        reports = 0
        with ThreadPoolExecutor(args.clients) as pool:
            for hour_bodies in bodies:
                reports += sum(pool.map(lambda body: send(port, body), hour_bodies))
        http_seconds = time.perf_counter() - t0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    from energy.hourly import attribute_due_hours
    from energy.models import Attribution, Reading

    samples = Reading.objects.count()
    assert samples == reports * 12, (samples, reports)
    t0 = time.perf_counter()
    made = 0
    while done := attribute_due_hours():
        made += done
    step_seconds = time.perf_counter() - t0
    assert made == Attribution.objects.count()

    print()
    print(f"{'stage':<52} {'seconds':>8} {'rate':>16}")
    print("-" * 78)
    print(
        f"{'JSON-RPC ingestion over HTTP (gunicorn, batches of 100)':<52} {http_seconds:>8.2f} "
        f"{samples / http_seconds:>10,.0f} samples/s"
    )
    print(
        f"{'readings to hourly attributions (in the database)':<52} {step_seconds:>8.2f} "
        f"{samples / step_seconds:>9,.0f} readings/s"
    )
    print("-" * 78)
    print(
        f"{args.miners:,} miners x {args.hours} reports x 12 samples = {samples:,} samples, "
        f"{made:,} attributions; {args.workers} gunicorn workers, {args.clients} clients"
    )
    print("targets: 20,000 samples/s ingested; 200,000 readings/s attributed")


if __name__ == "__main__":
    main()
