"""Operations benchmark: what a scrape of /metrics and a readiness probe cost.

Loads 1,000,000 attributions (1,000 meters x 900 hours Processed and issued into
RECs, 100 meters x 1,000 hours still New), then times /metrics and /readyz
through the whole Django stack, from loopback, with anvil as the local node.

    make bench            # BENCH_DATABASE_URL, default postgresql://127.0.0.1:5432/cg_bench
    python bench/ops.py --sources 100 --requests 50   # a quick run
"""

import argparse
import statistics
import time

from common import fresh_django, load_meters


def percentiles(client, path: str, requests: int) -> tuple[float, float]:
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    fresh_django()
    from django.conf import settings
    from django.test import Client

    from chain import anvil, client
    from core.units import MWH
    from recs.services import recs_issue_all

    # Nine tenths anchored and issued, one tenth New (waiting to be sealed).
    made = load_meters("ops-anchored", args.sources, args.hours * 9 // 10,
                       lambda s, h: MWH // 4, processed=True)  # fmt: skip
    made += load_meters("ops-new", max(args.sources // 10, 1), args.hours,
                        lambda s, h: MWH // 4, processed=False)  # fmt: skip
    issued = recs_issue_all()
    print(f"{made:,} attributions, {issued:,} RECs issued")

    node, url = anvil.start(anvil.free_port())
    try:
        settings.WEB3_PROVIDER_URI = url
        client.use_web3(None)
        settings.ANCHOR_CONTRACT_ADDRESS = client.deploy_anchor(client.web3())
        web = Client(REMOTE_ADDR="127.0.0.1")
        for path in ("/metrics", "/readyz"):  # warm connections and caches
            percentiles(web, path, 5)
        metrics = percentiles(web, "/metrics", args.requests)
        ready = percentiles(web, "/readyz", args.requests // 4)
    finally:
        anvil.stop(node)

    print()
    print(f"{'request (whole Django stack)':<44} {'p50 ms':>8} {'p99 ms':>8} {'target':>10}")
    print("-" * 74)
    print(f"{'/metrics':<44} {metrics[0]:>8.2f} {metrics[1]:>8.2f} {'p99 <= 50':>10}")
    print(f"{'/readyz (anvil on loopback)':<44} {ready[0]:>8.2f} {ready[1]:>8.2f} {'<= 200':>10}")
    meters = args.sources + max(args.sources // 10, 1)
    print(f"\n{made:,} attributions over {meters:,} meters; {args.requests} scrapes")


if __name__ == "__main__":
    main()
